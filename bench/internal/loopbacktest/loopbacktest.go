// Package loopbacktest serves connections on 127.0.0.1:0 for the tests of
// the benchmark tools: echo origins, origins that answer once and close,
// minimal proxies. Only tests import it.
package loopbacktest

import (
	"net"
	"testing"
	"time"
)

// Serve listens on 127.0.0.1:0 until the test ends and runs handle on each
// accepted connection, on its own goroutine, under a 5 s deadline so that
// no test hangs; the connection is closed when handle returns.
func Serve(tb testing.TB, handle func(net.Conn)) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln
}

// ReadHead reads from c until an HTTP head's empty line or 4 KiB, whichever
// comes first, and reports whether it saw the end of the head. Requests in
// these tests arrive in one segment; a short read ends the wait too.
func ReadHead(c net.Conn) bool {
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	return n >= 4 && string(buf[n-4:n]) == "\r\n\r\n"
}
