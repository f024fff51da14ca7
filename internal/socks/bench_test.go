package socks

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
)

type discardAccess struct{}

func (discardAccess) Log(*observe.Entry) {}

// sinkOrigin accepts connections and reads each to its end.
func sinkOrigin(b *testing.B) *net.TCPAddr {
	return serveLoopback(b, "tcp", "127.0.0.1:0", func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	})
}

func benchServer(b *testing.B) *testServer {
	return startServer(b, Options{Gate: &gate.Gate{}, AllowSOCKS5: true, Access: discardAccess{},
		Logger: slog.New(slog.DiscardHandler), Dialer: &outbound.Dialer{Resolver: hostsOnly{}}})
}

// closingOrigin accepts connections and closes them at once, like a server
// that answers and hangs up. Servers closing first keeps TIME_WAIT off the
// clients' ephemeral ports, which a loopback benchmark would run out of.
func closingOrigin(b *testing.B) *net.TCPAddr {
	return serveLoopback(b, "tcp", "127.0.0.1:0", func(c net.Conn) { c.Close() })
}

// BenchmarkSOCKS5SessionSetup measures whole SOCKS5 sessions: connect,
// greeting and CONNECT in one write, read both replies, read until the
// origin's close comes through, close. "direct" is the same without the
// proxy: connect, read until closed.
func BenchmarkSOCKS5SessionSetup(b *testing.B) {
	for _, via := range []string{"direct", "janus"} {
		b.Run(via, func(b *testing.B) {
			origin := closingOrigin(b)
			addr, hello, replyLen := origin.String(), []byte(nil), 0
			if via == "janus" {
				addr = benchServer(b).addr
				hello, _ = AppendRequest(AppendGreeting(nil, MethodNoAuth), Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(origin.AddrPort())})
				replyLen = 12
			}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 64)
				for pb.Next() {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Error(err)
						return
					}
					if len(hello) > 0 {
						if _, err := c.Write(hello); err != nil {
							b.Error(err)
						}
					}
					n, err := io.ReadFull(c, buf[:replyLen])
					if err != nil || (replyLen > 0 && buf[3] != 0) {
						b.Errorf("reply % x, %v", buf[:n], err)
					}
					if n, _ := c.Read(buf); n != 0 {
						b.Errorf("%d bytes after the reply", n)
					}
					c.Close()
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

// BenchmarkSOCKS5Bulk moves data client → origin through one tunnel, next
// to the same copy without the proxy.
func BenchmarkSOCKS5Bulk(b *testing.B) {
	const chunk = 256 << 10
	for _, via := range []string{"direct", "janus"} {
		b.Run(via, func(b *testing.B) {
			origin := sinkOrigin(b)
			var c net.Conn
			var err error
			if via == "direct" {
				c, err = net.Dial("tcp", origin.String())
			} else {
				ts := benchServer(b)
				c, err = net.Dial("tcp", ts.addr)
				if err == nil {
					var resp [12]byte
					hello, _ := AppendRequest(AppendGreeting(nil, MethodNoAuth), Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(origin.AddrPort())})
					_, _ = c.Write(hello)
					_, err = io.ReadFull(c, resp[:])
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, chunk)
			b.SetBytes(chunk)
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c) // wait until the origin has read it all
			b.StopTimer()
			c.Close()
		})
	}
}
