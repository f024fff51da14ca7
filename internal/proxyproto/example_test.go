package proxyproto_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/proxyproto"
)

// A listener behind a load balancer at 127.0.0.1 that must send a header:
// the connection's goroutine calls Accept, then serves the Conn, whose
// RemoteAddr is the client's.
func ExampleAccept() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() { // the load balancer
		c, _ := net.Dial("tcp", ln.Addr().String())
		defer c.Close()
		_, _ = c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n\r\n"))
		_, _ = c.Read(make([]byte, 1))
	}()
	c, _ := ln.Accept()
	defer c.Close()
	opts := proxyproto.Options{
		Trusted:  addrset.New(netip.MustParsePrefix("127.0.0.1/32")),
		Required: true,
		Timeout:  3 * time.Second,
	}
	pc, err := proxyproto.Accept(c, opts)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	buf := make([]byte, 14)
	n, _ := pc.Read(buf)
	fmt.Println(pc.RemoteAddr(), pc.LocalAddr(), string(buf[:n]))
	// Output: 192.0.2.1:56324 198.51.100.7:443 GET / HTTP/1.1
}

// Sending the client's addresses to an upstream, ahead of the first byte.
func ExampleAppendV2() {
	client, local := netip.MustParseAddrPort("192.0.2.1:56324"), netip.MustParseAddrPort("198.51.100.7:443")
	hdr, err := proxyproto.AppendV2(nil, proxyproto.Header{
		Command:     proxyproto.Proxy,
		Source:      client,
		Destination: local,
		TLVs:        []proxyproto.TLV{{Type: proxyproto.TypeAuthority, Value: []byte("example.com")}},
	})
	fmt.Println(len(hdr), err)
	fmt.Printf("%q\n", proxyproto.AppendV1(nil, client, local))
	// Output:
	// 42 <nil>
	// "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
}
