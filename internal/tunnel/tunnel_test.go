package tunnel

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stream is a deterministic pseudo-random byte source of a given length.
func stream(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}), n)
}

// sendAndHash writes n bytes of stream(seed) to c, half-closes, and returns
// the hash of what was sent.
func sendAndHash(c *net.TCPConn, seed uint64, n int64) ([]byte, error) {
	h := sha256.New()
	_, err := io.Copy(c, io.TeeReader(stream(seed, n), h))
	if err != nil {
		return nil, err
	}
	return h.Sum(nil), c.CloseWrite()
}

// readAndHash reads c to EOF and returns the byte count and hash.
func readAndHash(c net.Conn) (int64, []byte, error) {
	h := sha256.New()
	n, err := io.Copy(h, c)
	return n, h.Sum(nil), err
}

func TestJoinMovesLargeTransfersIntactBothWaysAtOnce(t *testing.T) {
	const up, down = 24 << 20, 40 << 20
	for _, m := range modes {
		t.Run(m.desc, func(t *testing.T) {
			checkGoroutines(t)
			j := startTunnel(t, m, Options{Idle: 10 * time.Second})
			type side struct {
				sent []byte
				n    int64
				got  []byte
				err  error
			}
			cs, os := make(chan side, 1), make(chan side, 1)
			go func() {
				var s side
				done := make(chan struct{})
				go func() { s.n, s.got, _ = readAndHash(j.client); close(done) }()
				s.sent, s.err = sendAndHash(j.client, 1, up)
				<-done
				cs <- s
			}()
			go func() {
				var s side
				done := make(chan struct{})
				go func() { s.n, s.got, _ = readAndHash(j.origin); close(done) }()
				s.sent, s.err = sendAndHash(j.origin, 2, down)
				<-done
				os <- s
			}()
			c, o := <-cs, <-os
			if c.err != nil || o.err != nil {
				t.Fatalf("send: client %v, origin %v", c.err, o.err)
			}
			if o.n != up || !bytes.Equal(o.got, c.sent) {
				t.Errorf("origin got %d bytes (want %d), hash match %v", o.n, up, bytes.Equal(o.got, c.sent))
			}
			if c.n != down || !bytes.Equal(c.got, o.sent) {
				t.Errorf("client got %d bytes (want %d), hash match %v", c.n, down, bytes.Equal(c.got, o.sent))
			}
			out := j.wait(t, 10*time.Second)
			if out.err != nil {
				t.Errorf("Join error: %v", out.err)
			}
			if out.res != (Result{Up: up, Down: down}) {
				t.Errorf("Result = %+v, want Up %d Down %d", out.res, up, down)
			}
		})
	}
}

func TestHalfCloseKeepsTheOtherDirectionOpen(t *testing.T) {
	cases := []struct {
		desc        string
		first, then func(j *joined) *net.TCPConn // who closes first, who answers after
	}{
		{desc: "client sends FIN first, origin answers after",
			first: func(j *joined) *net.TCPConn { return j.client },
			then:  func(j *joined) *net.TCPConn { return j.origin }},
		{desc: "origin sends FIN first, client keeps sending after",
			first: func(j *joined) *net.TCPConn { return j.origin },
			then:  func(j *joined) *net.TCPConn { return j.client }},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.desc+"/"+tc.desc, func(t *testing.T) {
				checkGoroutines(t)
				j := startTunnel(t, m, Options{Idle: 5 * time.Second})
				a, b := tc.first(j), tc.then(j)
				if _, err := a.Write([]byte("request")); err != nil {
					t.Fatal(err)
				}
				if err := a.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				// b sees the bytes, then EOF: the FIN was passed on.
				b.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := io.ReadAll(b)
				if err != nil || string(got) != "request" {
					t.Fatalf("far side read %q, %v; want \"request\" then EOF", got, err)
				}
				// The other direction still works after the FIN.
				time.Sleep(50 * time.Millisecond)
				answer := bytes.Repeat([]byte("answer"), 100_000)
				go func() {
					b.Write(answer)
					b.CloseWrite()
				}()
				a.SetReadDeadline(time.Now().Add(5 * time.Second))
				back, err := io.ReadAll(a)
				if err != nil || !bytes.Equal(back, answer) {
					t.Fatalf("closing side read %d bytes, %v; want %d then EOF", len(back), err, len(answer))
				}
				out := j.wait(t, 5*time.Second)
				if out.err != nil {
					t.Errorf("Join error: %v", out.err)
				}
				wantA, wantB := int64(len("request")), int64(len(answer))
				res := out.res
				if a == j.origin {
					res.Up, res.Down = res.Down, res.Up
				}
				if res.Up != wantA || res.Down != wantB {
					t.Errorf("Result = %+v, want %d from the first closer and %d back", out.res, wantA, wantB)
				}
			})
		}
	}
}

func TestIdleTunnelEndsAfterIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	for _, m := range modes {
		t.Run(m.desc, func(t *testing.T) {
			checkGoroutines(t)
			start := time.Now()
			j := startTunnel(t, m, Options{Idle: idle})
			out := j.wait(t, 5*time.Second)
			took := time.Since(start)
			if !errors.Is(out.err, ErrIdle) {
				t.Fatalf("Join error = %v, want ErrIdle", out.err)
			}
			if took < idle || took > idle+time.Second {
				t.Errorf("ended after %v, want about %v", took, idle)
			}
			// Both ends learn that the tunnel is gone.
			for _, c := range []*net.TCPConn{j.client, j.origin} {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
					t.Errorf("read after idle end: %d, %v; want EOF or reset", n, err)
				}
			}
		})
	}
}

func TestIdleTimerCountsEitherDirection(t *testing.T) {
	const idle = 150 * time.Millisecond
	const chunks, every = 12, 50 * time.Millisecond // 600ms of traffic, 4 × idle
	cases := []struct {
		desc string
		down bool // traffic flows origin → client, upload silent
	}{
		{desc: "long download with a silent upload", down: true},
		{desc: "long upload with a silent download", down: false},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.desc+"/"+tc.desc, func(t *testing.T) {
				checkGoroutines(t)
				j := startTunnel(t, m, Options{Idle: idle})
				from, to := j.client, j.origin
				if tc.down {
					from, to = j.origin, j.client
				}
				go func() {
					for range chunks {
						from.Write([]byte("tick"))
						time.Sleep(every)
					}
					from.CloseWrite()
				}()
				to.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := io.ReadAll(to)
				if err != nil || len(got) != 4*chunks {
					t.Fatalf("read %d bytes, %v; want %d then EOF (tunnel cut early?)", len(got), err, 4*chunks)
				}
				// Now both directions are quiet: the idle limit applies.
				out := j.wait(t, 5*time.Second)
				if !errors.Is(out.err, ErrIdle) {
					t.Fatalf("Join error = %v, want ErrIdle once quiet", out.err)
				}
				moved := out.res.Up
				if tc.down {
					moved = out.res.Down
				}
				if moved != 4*chunks {
					t.Errorf("Result = %+v, want %d bytes in the busy direction", out.res, 4*chunks)
				}
			})
		}
	}
}

func TestClientPendingReachesOriginFirstAndIsCounted(t *testing.T) {
	for _, m := range modes {
		t.Run(m.desc, func(t *testing.T) {
			checkGoroutines(t)
			j := startTunnel(t, m, Options{ClientPending: []byte("GET / HTTP/1.1\r\n")})
			j.client.Write([]byte("Host: x\r\n\r\n"))
			j.client.CloseWrite()
			j.origin.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(j.origin)
			if err != nil || string(got) != "GET / HTTP/1.1\r\nHost: x\r\n\r\n" {
				t.Fatalf("origin read %q, %v", got, err)
			}
			j.origin.Close()
			out := j.wait(t, 5*time.Second)
			if out.err != nil || out.res.Up != int64(len(got)) || out.res.Down != 0 {
				t.Errorf("Join = %+v, %v; want Up %d, Down 0, no error", out.res, out.err, len(got))
			}
		})
	}
}

func TestErrorsNameThePeerOnlyForAbnormalEnds(t *testing.T) {
	cases := []struct {
		desc     string
		end      func(j *joined)
		wantPeer Peer // "" for a normal end
	}{
		{desc: "both close normally", end: func(j *joined) {
			j.client.Close()
			j.origin.Close()
		}},
		{desc: "origin resets without a FIN", wantPeer: Origin, end: func(j *joined) {
			j.origin.SetLinger(0)
			j.origin.Close()
		}},
		{desc: "client resets without a FIN", wantPeer: Client, end: func(j *joined) {
			j.client.SetLinger(0)
			j.client.Close()
		}},
		{desc: "client closes while the origin still sends", end: func(j *joined) {
			j.client.Close()
			go func() {
				// The client's kernel answers these bytes with a reset;
				// the client had sent its FIN, so that is a normal end.
				for range 50 {
					if _, err := j.origin.Write(make([]byte, 64<<10)); err != nil {
						break
					}
				}
				j.origin.Close()
			}()
		}},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.desc+"/"+tc.desc, func(t *testing.T) {
				checkGoroutines(t)
				j := startTunnel(t, m, Options{Idle: 5 * time.Second})
				j.client.Write([]byte("hello"))
				buf := make([]byte, 5)
				j.origin.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(j.origin, buf); err != nil {
					t.Fatal(err)
				}
				tc.end(j)
				out := j.wait(t, 5*time.Second)
				if tc.wantPeer == "" {
					if out.err != nil {
						t.Fatalf("Join error = %v, want nil for a normal end", out.err)
					}
					return
				}
				var te *Error
				if !errors.As(out.err, &te) || te.Peer != tc.wantPeer || !errors.Is(te, syscall.ECONNRESET) {
					t.Fatalf("Join error = %v, want a reset *Error from %s", out.err, tc.wantPeer)
				}
			})
		}
	}
}

func TestAbnormalEndClosesTheOtherSideAtOnce(t *testing.T) {
	for _, m := range modes {
		t.Run(m.desc, func(t *testing.T) {
			checkGoroutines(t)
			j := startTunnel(t, m, Options{})
			j.client.SetLinger(0)
			j.client.Close()
			// Without an idle limit, only the abort can end the origin side.
			j.origin.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := j.origin.Read(make([]byte, 1)); errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err) {
				t.Fatalf("origin still open after the client's reset: %v", err)
			}
			j.wait(t, 5*time.Second)
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestLeftoverDeadlinesDoNotEndTheTunnel(t *testing.T) {
	for _, m := range modes {
		t.Run(m.desc, func(t *testing.T) {
			checkGoroutines(t)
			j := &joined{done: make(chan outcome, 1)}
			j.client, j.proxyC = connPair(t)
			j.proxyO, j.origin = connPair(t)
			t.Cleanup(func() { j.client.Close(); j.origin.Close() })
			// A face's header timeout, already past when the tunnel starts.
			j.proxyC.SetReadDeadline(time.Now().Add(-time.Second))
			j.proxyO.SetDeadline(time.Now().Add(-time.Second))
			go func() {
				res, err := Join(m.client(j.proxyC), m.origin(j.proxyO), Options{})
				j.done <- outcome{res, err}
			}()
			j.client.Write([]byte("ping"))
			j.client.CloseWrite()
			j.origin.SetReadDeadline(time.Now().Add(5 * time.Second))
			if got, err := io.ReadAll(j.origin); err != nil || string(got) != "ping" {
				t.Fatalf("origin read %q, %v", got, err)
			}
			j.origin.Close()
			if out := j.wait(t, 5*time.Second); out.err != nil || out.res.Up != 4 {
				t.Errorf("Join = %+v, %v", out.res, out.err)
			}
		})
	}
}

// panicky is a wrapped connection whose Read panics.
type panicky struct{ *net.TCPConn }

func (panicky) Read([]byte) (int, error) { panic("broken wrapper") }

func TestPanicInACopyEndsTheTunnelWithAnError(t *testing.T) {
	for _, tc := range []struct {
		desc string
		wrap func(j *joined) (client, origin net.Conn)
	}{
		{desc: "in the caller's direction", wrap: func(j *joined) (net.Conn, net.Conn) { return panicky{j.proxyC}, j.proxyO }},
		{desc: "in the spawned direction", wrap: func(j *joined) (net.Conn, net.Conn) { return j.proxyC, panicky{j.proxyO} }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			checkGoroutines(t)
			j := &joined{done: make(chan outcome, 1)}
			j.client, j.proxyC = connPair(t)
			j.proxyO, j.origin = connPair(t)
			t.Cleanup(func() { j.client.Close(); j.origin.Close() })
			c, o := tc.wrap(j)
			go func() {
				res, err := Join(c, o, Options{})
				j.done <- outcome{res, err}
			}()
			out := j.wait(t, 5*time.Second)
			var te *Error
			if !errors.As(out.err, &te) || te.Op != "copy" || !strings.Contains(te.Error(), "broken wrapper") {
				t.Fatalf("Join error = %v, want a recovered panic", out.err)
			}
		})
	}
}

// TestStartRunsWithoutTheCaller: Start returns at once, copies both ways on
// its own goroutines and reports once, after both connections are closed.
func TestStartRunsWithoutTheCaller(t *testing.T) {
	for _, m := range modes {
		t.Run(m.desc, func(t *testing.T) {
			checkGoroutines(t)
			client, proxyC := connPair(t)
			proxyO, origin := connPair(t)
			defer client.Close()
			defer origin.Close()
			done := make(chan outcome, 2)
			Start(m.client(proxyC), m.origin(proxyO), Options{Idle: 5 * time.Second, ClientPending: []byte("hi ")},
				func(r Result, err error) { done <- outcome{r, err} })
			_ = client.SetDeadline(time.Now().Add(5 * time.Second))
			_ = origin.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := client.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 7)
			if _, err := io.ReadFull(origin, buf); err != nil || string(buf) != "hi ping" {
				t.Fatalf("origin got %q, %v", buf, err)
			}
			if _, err := origin.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, buf[:4]); err != nil || string(buf[:4]) != "pong" {
				t.Fatalf("client got %q, %v", buf[:4], err)
			}
			client.Close()
			origin.Close()
			select {
			case o := <-done:
				if o.err != nil || o.res.Up != 7 || o.res.Down != 4 {
					t.Errorf("done(%+v, %v), want Up 7, Down 4, no error", o.res, o.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("done was not called")
			}
			select {
			case <-done:
				t.Error("done was called twice")
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}
