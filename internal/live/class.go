package live

import "github.com/janus-proxy/janus/internal/observe"

// Class is the outcome class of one exchange: an HTTP status class, or
// whether a SOCKS request was granted. The dashboard and /metrics
// (internal/metrics labels code_class with Class.String) share this one
// vocabulary, so their numbers agree.
type Class uint8

// Classes. ClassNone is an HTTP exchange that ended before any status was
// sent (the client left, the request could not be read).
const (
	ClassNone Class = iota
	Class1xx
	Class2xx
	Class3xx
	Class4xx
	Class5xx
	ClassSocksOK  // SOCKS5 reply 0 (succeeded) or SOCKS4 reply 90 (granted)
	ClassSocksErr // any other SOCKS reply, or none sent
	numClasses
)

var classNames = [numClasses]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "socks_ok", "socks_err"}

// String returns the class's label value: "none", "1xx".."5xx",
// "socks_ok", "socks_err".
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "none"
}

// ParseClass maps a label value back to its Class.
func ParseClass(s string) (Class, bool) {
	for i, n := range classNames {
		if n == s {
			return Class(i), true
		}
	}
	return 0, false
}

// SOCKS success replies: RFC 1928 section 6 (X'00' succeeded) and the
// SOCKS4 protocol note (90, request granted).
const (
	socks5Succeeded = 0
	socks4Granted   = 90
)

// ClassOf classifies e by its protocol and status.
func ClassOf(e *observe.Entry) Class {
	switch e.Protocol {
	case "socks5":
		if e.Status == socks5Succeeded {
			return ClassSocksOK
		}
		return ClassSocksErr
	case "socks4":
		if e.Status == socks4Granted {
			return ClassSocksOK
		}
		return ClassSocksErr
	}
	if e.Status < 100 || e.Status > 599 {
		return ClassNone
	}
	return Class(e.Status / 100)
}

// IsTunnel reports whether e is a tunnel or session (CONNECT, SOCKS) rather
// than one HTTP request: its duration is how long the tunnel lived, not a
// latency, so it stays out of the latency figures.
func IsTunnel(e *observe.Entry) bool {
	switch e.Protocol {
	case "connect", "socks5", "socks4":
		return true
	}
	return false
}
