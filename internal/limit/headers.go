package limit

import (
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// The header fields of draft-ietf-httpapi-ratelimit-headers (-10, §5 and
// §6) and RFC 9110 §10.2.3.
const (
	FieldRateLimit       = "RateLimit"
	FieldRateLimitPolicy = "RateLimit-Policy"
	FieldRetryAfter      = "Retry-After"
)

// AppendPolicy appends one RateLimit-Policy list member for a limit named
// name (draft §5): `"name";q=Q;w=W`, the quota Q in units per window of W
// seconds. A rate faster than one window per second is scaled to w=1 (the
// draft's window is whole seconds); the burst is not part of the field.
// Several limits make a list: join members with ", ".
func AppendPolicy(dst []byte, name string, r Rate) []byte {
	dst = httpmsg.AppendSFString(dst, name)
	w := int64((r.Per + time.Second - 1) / time.Second)
	q := int64(r.Count) * int64(w) * int64(time.Second) / int64(r.Per)
	dst = append(dst, ";q="...)
	dst = strconv.AppendInt(dst, q, 10)
	dst = append(dst, ";w="...)
	return strconv.AppendInt(dst, w, 10)
}

// AppendRateLimit appends one RateLimit list member (draft §6):
// `"name";r=R;t=T`. R is what remains of the burst; T is the seconds,
// rounded up, until the client may send again when limited, or until the
// burst is whole again when allowed.
func AppendRateLimit(dst []byte, name string, d Decision) []byte {
	dst = httpmsg.AppendSFString(dst, name)
	dst = append(dst, ";r="...)
	dst = strconv.AppendInt(dst, int64(max(d.Remaining, 0)), 10)
	dst = append(dst, ";t="...)
	t := d.Reset
	if !d.Allowed {
		t = d.RetryAfter
	}
	return strconv.AppendInt(dst, ceilSeconds(t), 10)
}

// AppendRetryAfter appends the Retry-After value for a refused decision:
// delay-seconds (RFC 9110 §10.2.3), rounded up and at least 1 so that a
// client that obeys it is allowed.
func AppendRetryAfter(dst []byte, d Decision) []byte {
	return strconv.AppendInt(dst, max(ceilSeconds(d.RetryAfter), 1), 10)
}

// HeaderSetter is what SetHeaders writes to: http.Header and the faces'
// header models both fit.
type HeaderSetter interface {
	Set(name, value string)
}

// SetHeaders writes RateLimit-Policy and RateLimit for one limit, and
// Retry-After when d refused. It allocates the strings; a face with a
// byte-oriented header model should use the Append functions into a
// pooled buffer instead.
func SetHeaders(h HeaderSetter, name string, r Rate, d Decision) {
	var b [96]byte
	h.Set(FieldRateLimitPolicy, string(AppendPolicy(b[:0], name, r)))
	h.Set(FieldRateLimit, string(AppendRateLimit(b[:0], name, d)))
	if !d.Allowed {
		h.Set(FieldRetryAfter, string(AppendRetryAfter(b[:0], d)))
	}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
