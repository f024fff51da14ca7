package http1

import (
	"bytes"
	"io"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// loopReader replays one message forever.
type loopReader struct {
	msg []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.msg[l.off:])
	l.off = (l.off + n) % len(l.msg)
	return n, nil
}

func BenchmarkReadRequest(b *testing.B) {
	msg := []byte("GET http://127.0.0.1:8000/small HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nProxy-Connection: keep-alive\r\n\r\n")
	var r Reader
	r.Reset(&loopReader{msg: msg})
	var h httpmsg.RequestHead
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadRequest(&r, &h, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadResponseWithBody(b *testing.B) {
	msg := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: keep-alive\r\n\r\nhello, world!\n")
	var r Reader
	r.Reset(&loopReader{msg: msg})
	var h httpmsg.ResponseHead
	var body Body
	get := []byte("GET")
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ReadResponse(&r, &h, get, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		body.Reset(&r, f, 502, 0)
		if _, err := body.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedBody(b *testing.B) {
	var wire bytes.Buffer
	var w Writer
	w.Reset(&wire)
	cw := ChunkedWriter{W: &w}
	chunk := bytes.Repeat([]byte("x"), 4096)
	for i := 0; i < 16; i++ {
		cw.Write(chunk)
	}
	cw.Close(nil)
	w.Flush()
	msg := wire.Bytes()
	var r Reader
	r.Reset(&loopReader{msg: msg})
	var body Body
	b.SetBytes(int64(16 * len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(&r, Framing{Kind: ChunkedBody}, 400, 0)
		if _, err := body.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
