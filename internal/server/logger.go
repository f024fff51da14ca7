package server

import (
	"io"
	"log/slog"
	"os"

	"github.com/janus-proxy/janus/internal/config"
)

// NewLogger builds the application logger from the log section: text or
// JSON, on w (stderr when nil).
func NewLogger(lc config.Log, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(lc.Level))
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
