// Package config reads Janus's one YAML file strictly (unknown keys, bad
// values and dangling references are errors with file, line and key), fills
// in defaults, checks it completely, and compiles what the server needs
// (policies, users, static hosts). It also embeds the default config.
package config
