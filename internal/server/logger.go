package server

import (
	"io"
	"log/slog"
	"os"

	"github.com/janus-proxy/janus/internal/config"
)

// NewLogger builds the application logger from the log section: text or
// JSON, on w (stderr when nil). The level is a LevelVar that a reload
// sets (Options.LogLevel); the format stays until a restart.
func NewLogger(lc config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	if w == nil {
		w = os.Stderr
	}
	level := new(slog.LevelVar)
	level.Set(logLevel(lc))
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

// logLevel is the log section's level; info when unset (the config
// refuses unknown ones).
func logLevel(lc config.Log) slog.Level {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(lc.Level))
	return level
}

// applyLogConfig makes a reloaded log section's level current, and says
// that a changed format waits for a restart.
func (s *Server) applyLogConfig(old, cur config.Log) {
	if s.logLevel != nil && logLevel(old) != logLevel(cur) {
		s.logLevel.Set(logLevel(cur))
		s.log.Info("log level changed", "level", logLevel(cur).String())
	}
	if old.Format != cur.Format {
		s.log.Warn("log.format changed: the new format is used after a restart", "running", old.Format, "configured", cur.Format)
	}
}
