package sniff

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestSniffClassifiesAndReplays(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		first []byte
		want  Protocol
	}{
		{"socks5 greeting of three bytes", []byte{5, 1, 0}, SOCKS5},
		{"socks4", []byte{4, 1, 0, 80, 127, 0, 0, 1, 0}, SOCKS4},
		{"tls", []byte{0x16, 3, 1}, TLS},
		{"http", []byte("GET http://x/ HTTP/1.1\r\n"), HTTP},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			// A loopback TCP pair: a net.Pipe refuses deadlines once its
			// peer has closed, which a socket does not.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			go func() { _, _ = client.Write(tc.first); client.Close() }()
			p, c, err := Sniff(server, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if p != tc.want {
				t.Errorf("protocol = %v, want %v", p, tc.want)
			}
			got, _ := io.ReadAll(c)
			if string(got) != string(tc.first) {
				t.Errorf("replayed %q, want %q", got, tc.first)
			}
		})
	}
}

func TestSniffTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	_, _, err = Sniff(server, 50*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

// FuzzClassify: every byte maps to a known protocol.
func FuzzClassify(f *testing.F) {
	for _, b := range []byte{0, 4, 5, 0x16, 'G', 'C', 0xff} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b byte) {
		switch Classify(b) {
		case HTTP, SOCKS4, SOCKS5, TLS:
		default:
			t.Fatalf("byte %#x: unknown protocol", b)
		}
	})
}
