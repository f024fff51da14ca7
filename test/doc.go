// Package test holds Janus's end-to-end tests: a whole Janus built from a
// YAML config, driven by real clients (net/http, x/net/proxy, curl) against
// origins on loopback, and meta-tests that keep the code base's conventions.
package test
