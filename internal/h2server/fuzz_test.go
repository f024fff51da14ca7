package h2server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// frames is a client's byte stream after the preface: SETTINGS, then what
// add writes.
func frames(add func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer)) []byte {
	var out, hb bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	enc := hpack.NewEncoder(&hb)
	_ = fr.WriteSettings()
	add(fr, enc, &hb)
	return out.Bytes()
}

func block(enc *hpack.Encoder, hb *bytes.Buffer, kv ...string) []byte {
	hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), hb.Bytes()...)
}

// FuzzConn feeds a connection arbitrary frames after the preface: whatever
// comes, the server neither panics nor hangs, and every handler returns.
func FuzzConn(f *testing.F) {
	get := []string{":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/"}
	f.Add(frames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(enc, hb, get...), EndStream: true, EndHeaders: true})
	}))
	f.Add(frames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		post := append([]string{":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/up"}, "content-length", "5", "trailer", "x-sum")
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(enc, hb, post...), EndHeaders: true})
		_ = fr.WriteData(1, false, []byte("hel"))
		_ = fr.WriteWindowUpdate(0, 1000)
		_ = fr.WriteData(1, false, []byte("lo"))
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(enc, hb, "x-sum", "1"), EndStream: true, EndHeaders: true})
		_ = fr.WritePing(false, [8]byte{1})
	}))
	f.Add(frames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		b := block(enc, hb, get...)
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: b[:2], EndStream: true})
		_ = fr.WriteContinuation(3, true, b[2:])
		_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		_ = fr.WriteGoAway(3, http2.ErrCodeNo, nil)
	}))
	f.Add(frames(func(fr *http2.Framer, enc *hpack.Encoder, hb *bytes.Buffer) {
		ws := []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":authority", "h", ":path", "/ws"}
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(enc, hb, ws...), EndHeaders: true})
		_ = fr.WriteData(1, true, []byte("frame"))
	}))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := New(Options{MaxHeaderBytes: 8 << 10, IdleTimeout: time.Second, ConnectProtocol: true})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			w.Header().Set("Trailer", "X-Len")
			w.Write(b)
			w.(http.Flusher).Flush()
			w.Header().Set("X-Len", "n")
		})
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ServeConn(context.Background(), server, h, nil)
		}()
		go io.Copy(io.Discard, client) // the client reads whatever comes
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write([]byte(preface))
		_, _ = client.Write(in)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ServeConn did not return after the client closed")
		}
	})
}
