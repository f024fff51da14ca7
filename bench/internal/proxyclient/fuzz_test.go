package proxyclient

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadConnectReply: any proxy reply ends in success or an error, never
// a panic or a hang, and success needs a 2xx status line.
func FuzzReadConnectReply(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\nrest"))
	f.Add([]byte("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		err := ReadConnectReply(bufio.NewReaderSize(bytes.NewReader(in), 1024))
		if err == nil && !bytes.HasPrefix(in, []byte("HTTP/1.")) {
			t.Fatalf("accepted a reply without an HTTP/1.x status line: %q", in)
		}
	})
}

// FuzzReadSOCKS5Reply: success needs version 5 and REP 0.
func FuzzReadSOCKS5Reply(f *testing.F) {
	f.Add([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 80})
	f.Add([]byte{5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 80})
	f.Add([]byte{5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80})
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := ReadSOCKS5Reply(bytes.NewReader(in)); err == nil && (in[0] != 5 || in[1] != 0) {
			t.Fatalf("accepted % x", in)
		}
	})
}
