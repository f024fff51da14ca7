// Package http1 is Janus's HTTP/1.1 engine (RFC 9112): a strict,
// smuggling-safe parser for request and response heads, streaming body
// readers and writers (Content-Length, chunked with trailers, read until
// close), buffered readers and writers whose buffers go back to a pool while a
// connection is idle, and a pool of keep-alive connections to origins.
//
// It holds no proxy policy: faces decide what to forward; this package only
// says what a message is and how it is framed. Messages use the shared model
// of package httpmsg so that other codecs can share the header rules.
//
// Strictness is deliberate. Every ambiguity that two HTTP implementations
// could read differently (CL.TE, TE.CL, obs-fold, bare CR or LF, duplicate
// Content-Length, unknown transfer codings) is an error with the status to
// answer, because a proxy that reads a message differently from the origin
// behind it lets one request hide inside another (RFC 9112 §11.2).
package http1
