package httpface

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/observe"
)

// tinyOrigin answers every request with 14 bytes, like the "/small" of
// PERFORMANCE.md, reading with the http1 engine so that it allocates
// nothing and costs little next to the proxy.
func tinyOrigin(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serveTiny(c)
			}()
		}
	}()
	return ln.Addr().String()
}

var tinyResponse = []byte("HTTP/1.1 200 OK\r\nServer: tiny\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nhello, world!\n")

func serveTiny(c net.Conn) {
	var r http1.Reader
	r.Reset(c)
	var h httpmsg.RequestHead
	var body http1.Body
	for {
		f, err := http1.ReadRequest(&r, &h, http1.Limits{})
		if err != nil {
			return
		}
		body.Reset(&r, f, 400, 0)
		if _, err := body.WriteTo(io.Discard); err != nil {
			return
		}
		if _, err := c.Write(tinyResponse); err != nil {
			return
		}
	}
}

// benchClient sends keep-alive requests on one connection and reads the
// responses with the http1 engine.
type benchClient struct {
	c    net.Conn
	req  []byte
	r    http1.Reader
	h    httpmsg.ResponseHead
	body http1.Body
}

func newBenchClient(tb testing.TB, proxy, origin string) *benchClient {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	bc := &benchClient{c: c, req: []byte(fmt.Sprintf("GET http://%s/small HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench\r\n\r\n", origin, origin))}
	bc.r.Reset(c)
	return bc
}

var get = []byte("GET")

func (bc *benchClient) do() error {
	if _, err := bc.c.Write(bc.req); err != nil {
		return err
	}
	f, err := http1.ReadResponse(&bc.r, &bc.h, get, http1.Limits{})
	if err != nil {
		return err
	}
	if bc.h.Status != 200 {
		return fmt.Errorf("status %d", bc.h.Status)
	}
	bc.body.Reset(&bc.r, f, 502, 0)
	_, err = bc.body.WriteTo(io.Discard)
	return err
}

// BenchmarkForwardKeepAlive measures one keep-alive request through the
// proxy end to end (client, proxy and origin in this process), one at a
// time and with 64 connections at once.
func BenchmarkForwardKeepAlive(b *testing.B) {
	origin := tinyOrigin(b)
	logs := []struct {
		name string
		log  AccessLog
	}{
		{"nolog", nil},
		{"jsonlog", observe.NewAccessLog(observe.FormatJSON, observe.NewOutput(io.Discard))},
	}
	for _, l := range logs {
		p := startProxy(b, Options{Access: l.log})
		if l.log == nil {
			p.srv.o.Access = nil
		}
		b.Run(l.name+"/serial", func(b *testing.B) {
			bc := newBenchClient(b, p.addr, origin)
			if err := bc.do(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := bc.do(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(l.name+"/parallel64", func(b *testing.B) {
			clients := make(chan *benchClient, 64)
			for i := 0; i < 64; i++ {
				bc := newBenchClient(b, p.addr, origin)
				if err := bc.do(); err != nil {
					b.Fatal(err)
				}
				clients <- bc
			}
			b.ReportAllocs()
			b.SetParallelism(64 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				bc := <-clients
				defer func() { clients <- bc }()
				for pb.Next() {
					if err := bc.do(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkConnectNewTunnel measures new CONNECT tunnels: dial the proxy,
// CONNECT, one request through the tunnel, close (the connect-rate scenario
// of bench/).
func BenchmarkConnectNewTunnel(b *testing.B) {
	origin := tinyOrigin(b)
	p := startProxy(b, Options{Access: observe.NewAccessLog(observe.FormatJSON, observe.NewOutput(io.Discard))})
	connectReq := []byte("CONNECT " + origin + " HTTP/1.1\r\nHost: " + origin + "\r\n\r\n")
	getReq := []byte("GET /small HTTP/1.1\r\nHost: " + origin + "\r\nConnection: close\r\n\r\n")
	connect := []byte("CONNECT")
	one := func() error {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write(connectReq); err != nil {
			return err
		}
		var r http1.Reader
		r.Reset(c)
		defer r.Reset(nil)
		var h httpmsg.ResponseHead
		if _, err := http1.ReadResponse(&r, &h, connect, http1.Limits{}); err != nil || h.Status != 200 {
			return fmt.Errorf("CONNECT: %d %v", h.Status, err)
		}
		if _, err := c.Write(getReq); err != nil {
			return err
		}
		f, err := http1.ReadResponse(&r, &h, get, http1.Limits{})
		if err != nil {
			return err
		}
		var body http1.Body
		body.Reset(&r, f, 502, 0)
		_, err = body.WriteTo(io.Discard)
		return err
	}
	b.ReportAllocs()
	b.SetParallelism(32 / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := one(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
