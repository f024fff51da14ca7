package observe

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Entry is one access-log record: one HTTP request, one CONNECT tunnel or one
// SOCKS session. Every face fills the same fields so logs read alike.
type Entry struct {
	Time      time.Time      // when the request or session started
	Listener  string         // the listener's name
	Client    netip.AddrPort // the client's address
	User      string         // the authenticated user, "" if none
	Protocol  string         // "http", "connect", "socks5", "socks4"
	Method    string         // HTTP method, "CONNECT", "UDP_ASSOCIATE"
	Target    string         // absolute URL or host:port
	Status    int            // HTTP status, or the SOCKS reply code
	BytesUp   int64          // bytes client → origin (bodies or tunnel payload)
	BytesDown int64          // bytes origin → client
	Duration  time.Duration  // from start to the end of the exchange
	Rule      string         // the gate rule that decided, "" if none ran
	Error     string         // why it failed, "" on success
	UserAgent string         // HTTP only
	Referer   string         // HTTP only
	Face      string         // "forward" or "reverse"
	Route     string         // the reverse route's name, "" on the forward face
	Upstream  string         // the upstream pool's name, "" if none served it
	Denied    bool           // a gate rule refused it (Rule names the rule)
	Limited   bool           // a rate, concurrency or quota limit refused it (Rule names it)
	Metered   bool           // its bytes were charged to the user's quotas as they moved
}

// Format selects how an AccessLog writes entries.
type Format uint8

// Access-log formats.
const (
	FormatJSON     Format = iota // one JSON object per line, as log/slog's JSONHandler writes them
	FormatCombined               // Apache combined, then Janus's fields as key=value
)

// ParseFormat maps a config word to a Format.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "json":
		return FormatJSON, nil
	case "combined":
		return FormatCombined, nil
	}
	return 0, fmt.Errorf("unknown access-log format %q (want json or combined)", s)
}

// AccessLog writes entries to an Output. It is safe for concurrent use. A nil
// *AccessLog discards entries.
type AccessLog struct {
	format Format
	out    *Output
	mu     sync.Mutex
	buf    []byte // scratch, guarded by mu
}

// NewAccessLog returns an access log writing format to out.
func NewAccessLog(format Format, out *Output) *AccessLog {
	return &AccessLog{format: format, out: out}
}

// Log writes e as one line.
func (l *AccessLog) Log(e *Entry) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.format == FormatJSON {
		l.buf = appendJSON(l.buf[:0], e)
	} else {
		l.buf = appendCombined(l.buf[:0], e)
	}
	_, _ = l.out.Write(l.buf)
	l.mu.Unlock()
}

// appendCombined renders e in the Apache combined format followed by
// Janus's own fields, so tools that read combined logs still parse the line.
func appendCombined(b []byte, e *Entry) []byte {
	b = append(b, e.Client.Addr().String()...)
	b = append(b, " - "...)
	b = appendDash(b, e.User)
	b = append(b, " ["...)
	b = e.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, e.Method...)
	b = append(b, ' ')
	b = append(b, e.Target...)
	b = append(b, " HTTP/1.1\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.BytesDown, 10)
	b = append(b, " \""...)
	b = appendDash(b, e.Referer)
	b = append(b, "\" \""...)
	b = appendDash(b, e.UserAgent)
	b = append(b, "\" proto="...)
	b = append(b, e.Protocol...)
	b = append(b, " up="...)
	b = strconv.AppendInt(b, e.BytesUp, 10)
	b = append(b, " ms="...)
	b = strconv.AppendFloat(b, float64(e.Duration.Microseconds())/1000, 'f', 3, 64)
	b = append(b, " listener="...)
	b = appendDash(b, e.Listener)
	b = append(b, " rule="...)
	b = appendDash(b, e.Rule)
	if e.Limited {
		b = append(b, " limited=1"...)
	}
	if e.Error != "" {
		b = append(b, " error="...)
		b = strconv.AppendQuote(b, e.Error)
	}
	return append(b, '\n')
}

func appendDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		// Quotes, control bytes and spaces would break the line's fields.
		if c < 0x21 || c == '"' || c == 0x7f || c == '\\' {
			b = append(b, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
