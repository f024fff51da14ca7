package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// slogLine is what log/slog's JSONHandler writes for e: the reference that
// appendJSON must match byte for byte.
func slogLine(e *Entry) []byte {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.LevelKey {
			return slog.Attr{}
		}
		return a
	}})
	r := slog.NewRecord(e.Time, slog.LevelInfo, "access", 0)
	r.AddAttrs(
		slog.String("listener", e.Listener), slog.String("client", e.Client.String()),
		slog.String("user", e.User), slog.String("proto", e.Protocol), slog.String("method", e.Method),
		slog.String("target", e.Target), slog.Int("status", e.Status), slog.Int64("bytes_up", e.BytesUp),
		slog.Int64("bytes_down", e.BytesDown), slog.Float64("duration_ms", float64(e.Duration.Microseconds())/1000),
		slog.String("rule", e.Rule), slog.String("error", e.Error))
	if e.Limited {
		r.AddAttrs(slog.Bool("limited", true))
	}
	if e.Route != "" {
		r.AddAttrs(slog.String("route", e.Route))
	}
	if e.Upstream != "" {
		r.AddAttrs(slog.String("upstream", e.Upstream))
	}
	if e.UserAgent != "" || e.Referer != "" {
		r.AddAttrs(slog.String("user_agent", e.UserAgent))
	}
	if e.Referer != "" {
		r.AddAttrs(slog.String("referer", e.Referer))
	}
	_ = h.Handle(context.Background(), r)
	return buf.Bytes()
}

func TestJSONLineMatchesSlog(t *testing.T) {
	for _, tc := range []struct {
		desc string
		edit func(e *Entry)
	}{
		{"plain", func(e *Entry) {}},
		{"quotes and backslashes", func(e *Entry) { e.Target = `http://x/"a"\b` }},
		{"html characters", func(e *Entry) { e.Error = "<script>&</script>" }},
		{"control bytes", func(e *Entry) { e.UserAgent = "a\x00b\x1f\t\r\n\x7f" }},
		{"invalid utf-8", func(e *Entry) { e.User = "bad\xff\xfe utf8" }},
		{"unicode and line separators", func(e *Entry) { e.Referer = "héllo \u2028 \u2029 世界 😀" }},
		{"no optional fields", func(e *Entry) { e.UserAgent, e.Referer = "", "" }},
		{"referer only", func(e *Entry) { e.UserAgent, e.Referer = "", "http://r/" }},
		{"reverse route and upstream", func(e *Entry) { e.Face, e.Route, e.Upstream = "reverse", "app", "pool \"a\"" }},
		{"refused by a limit", func(e *Entry) { e.Rule, e.Denied, e.Limited = "per-ip", true, true }},
		{"long duration", func(e *Entry) { e.Duration = 90 * time.Minute }},
		{"zero client", func(e *Entry) { e.Client = netip.AddrPort{} }},
		{"local time zone", func(e *Entry) { e.Time = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)) }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			e := sampleEntry()
			tc.edit(e)
			want := slogLine(e)
			got := appendJSON(nil, e)
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzJSONMatchesSlog: for any field values, the line is valid JSON and the
// same as slog's.
func FuzzJSONMatchesSlog(f *testing.F) {
	f.Add("alice", "http://x/", "curl", "", int64(1500))
	f.Add("\xff", "\u2028<>&\"\\", "\x00\x01", "é", int64(-1))
	f.Fuzz(func(t *testing.T, user, target, ua, referer string, us int64) {
		e := sampleEntry()
		e.User, e.Target, e.UserAgent, e.Referer, e.Duration = user, target, ua, referer, time.Duration(us)*time.Microsecond
		got := appendJSON(nil, e)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
		if want := slogLine(e); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func BenchmarkAccessLogJSON(b *testing.B) {
	l := NewAccessLog(FormatJSON, NewOutput(discard{}))
	e := sampleEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
