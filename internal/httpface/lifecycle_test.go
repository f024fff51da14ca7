package httpface

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestShutdownClosesIdleConnectionsNow(t *testing.T) {
	origin := echoOrigin(t)
	p := startProxy(t, Options{})
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET %s/?size=1 HTTP/1.1\r\nHost: x\r\n\r\n", origin.URL)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	waitFor(t, func() bool { return p.srv.Active() == 1 })
	start := time.Now()
	p.srv.Shutdown()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read after Shutdown: %v, want EOF", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("idle connection closed after %v", d)
	}
}

func TestShutdownLetsTheCurrentExchangeFinishWithConnectionClose(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "finished")
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s/ HTTP/1.1\r\nHost: x\r\n\r\n", origin.URL)
	<-arrived
	p.srv.Shutdown()
	close(release)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "finished" || !resp.Close {
		t.Fatalf("body %q, Connection: close %v", b, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after the drained exchange: %v", err)
	}
}

func TestManyClientsLeaveNoGoroutinesOrDescriptors(t *testing.T) {
	checkNoLeaks(t)
	fds := countFDs(t)
	origin := echoOrigin(t)
	tunnelOrigin := rawOrigin(t, func(c net.Conn) { io.Copy(c, c) })
	p := startProxy(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for j := 0; j < 5; j++ {
				fmt.Fprintf(c, "POST %s/?size=%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", origin.URL, 100*j)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- err
					return
				}
				io.ReadAll(resp.Body)
			}
			// Then a tunnel on the same connection, and some garbage for
			// every other client.
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\nping", tunnelOrigin)
			if resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"}); err != nil || resp.StatusCode != 200 {
				errs <- fmt.Errorf("CONNECT: %v", err)
				return
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(br, buf); err != nil {
				errs <- err
			}
		}(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET http://x/ HTTP/1.1\r\nHost: x\r\nBad Field: y\r\n\r\n")
			io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, func() bool { return p.srv.Active() == 0 })
	p.srv.Close()
	origin.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	// Three listeners (proxy and two origins) are still open.
	for countFDs(t) > fds+3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := countFDs(t); n > fds+3 {
		t.Fatalf("sockets: %d before, %d after (3 listeners expected)", fds, n)
	}
}

func TestPanicsAreRecoveredPerConnection(t *testing.T) {
	p := startProxy(t, Options{Dialer: panicDialer{}})
	raw := p.rawRequest(t, "GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: x\r\n\r\n")
	if raw != "" {
		t.Fatalf("got %q", raw)
	}
	// The server goes on serving.
	if got := statusOf(p.rawRequest(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")); got != "400" {
		t.Fatalf("after a panic: %s", got)
	}
}

type panicDialer struct{}

func (panicDialer) DialTCP(contextContext, string, uint16, outboundCheck) (*net.TCPConn, error) {
	panic("dialer exploded")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
