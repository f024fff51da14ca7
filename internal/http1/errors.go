package http1

import (
	"errors"
	"strconv"
)

// Error is a message Janus refuses to read. Status is the response a server
// should answer with (400, 414, 431, 501, 505) when the bad message is a
// request; a proxy answers 502 when the bad message is an origin's response.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string {
	return "http1: " + strconv.Itoa(e.Status) + ": " + e.Msg
}

func errorf(status int, msg string) *Error { return &Error{Status: status, Msg: msg} }

// StatusOf returns the status an error asks for: the Status of an *Error,
// otherwise 400.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}

var (
	// ErrLineTooLong: the request line exceeds Limits.MaxLine (RFC 9112 §3: 414).
	ErrLineTooLong = errorf(414, "request line too long")
	// ErrHeadTooLarge: the head exceeds Limits.MaxHead (RFC 6585 §5: 431).
	ErrHeadTooLarge = errorf(431, "header too large")
	// ErrBareLF: a line ends in LF without CR (RFC 9112 §2.2 lets a
	// recipient accept it; we refuse, as another parser could split lines
	// differently).
	ErrBareLF = errorf(400, "line ends in bare LF")
	// ErrBareCR: a CR not followed by LF (RFC 9112 §2.2).
	ErrBareCR = errorf(400, "bare CR")
	// ErrObsFold: a field line continued on the next line (RFC 9112 §5.2).
	ErrObsFold = errorf(400, "obsolete line folding")
	// ErrTruncated: the connection ended inside a message.
	ErrTruncated = errorf(400, "message truncated")
	// ErrContentTooLarge: the content goes past the limit set with
	// Body.SetMax (RFC 9110 §15.5.14: 413).
	ErrContentTooLarge = errorf(413, "content too large")

	errStatusLineTooLong  = errorf(502, "status line too long")
	errResponseHeadTooBig = errorf(502, "header too large")
	errChunkLineTooLong   = errorf(400, "chunk-size line too long")
)
