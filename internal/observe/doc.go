// Package observe is where every stage reports: the application logger, the
// access log and its formats, and the log outputs (buffered, reopened on
// SIGUSR1 for rotation). It imports nothing else of Janus.
package observe
