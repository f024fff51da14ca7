package limit

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/testenv"
	"github.com/janus-proxy/janus/internal/tunnel"
)

// zeros is an endless reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// measure reads r for d of real time and returns bytes per second.
func measure(t *testing.T, r io.Reader, d time.Duration) float64 {
	t.Helper()
	buf := make([]byte, 32<<10)
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		k, err := r.Read(buf)
		n += int64(k)
		if err != nil {
			t.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if got < want*(1-tol) || got > want*(1+tol) {
		t.Errorf("%s: %.0f B/s, want %.0f ±%.0f%%", what, got, want, tol*100)
	} else {
		t.Logf("%s: %.0f B/s (want %.0f, %+.1f%%)", what, got, want, (got/want-1)*100)
	}
}

// TestBandwidthChainAppliesTheSlowest: a connection under a user under a
// listener moves at the slowest of the three rates.
func TestBandwidthChainAppliesTheSlowest(t *testing.T) {
	tests := []struct {
		desc                 string
		conn, user, listener int64
		want                 float64
	}{
		{"connection alone", 512 << 10, 0, 0, 512 << 10},
		{"user is the slowest", 1 << 20, 300 << 10, 2 << 20, 300 << 10},
		{"listener is the slowest", 0, 2 << 20, 700 << 10, 700 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := Chain{}.With(NewBucket(tt.conn, 0)).With(NewBucket(tt.user, 0)).With(NewBucket(tt.listener, 0))
			within(t, "read", measure(t, NewReader(zeros{}, c, nil, nil), 2*time.Second), tt.want, 0.15)
		})
	}
}

// TestBandwidthIsFairAmongAUsersConnections: three connections share a
// user's bucket; each gets a third, within ±15%.
func TestBandwidthIsFairAmongAUsersConnections(t *testing.T) {
	const rate = 900 << 10
	user := NewBucketSet(rate, 0)
	var wg sync.WaitGroup
	got := make([]float64, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := user.Get([]byte("bob"))
			defer user.Put(b)
			got[i] = measure(t, NewReader(zeros{}, Chain{}.With(b), nil, nil), 2*time.Second)
		}()
	}
	wg.Wait()
	total := 0.0
	for i, g := range got {
		within(t, "connection "+string(rune('0'+i)), g, rate/3, 0.15)
		total += g
	}
	within(t, "total", total, rate, 0.15)
	if user.Len() != 1 {
		t.Errorf("%d buckets remembered while debt is unpaid, want 1", user.Len())
	}
}

func TestBucketSetForgetsIdleBucketsNobodyHolds(t *testing.T) {
	clk := newFakeClock()
	s := NewBucketSet(1000, 1000)
	s.now = clk.Now
	b := s.Get([]byte("u"))
	if s.Get([]byte("u")) != b {
		t.Fatal("two holders of one key got different buckets")
	}
	b.reserve(5000) // 5 s of debt
	s.Put(b)
	s.Put(b)
	if s.Len() != 1 {
		t.Fatal("a bucket with unpaid debt was forgotten: reconnecting would earn a fresh burst")
	}
	clk.Advance(6 * time.Second)
	s.sweepAt = 0
	o := s.Get([]byte("other")) // sweeps
	if s.Len() != 1 {
		t.Errorf("%d buckets after a sweep, want only the new one", s.Len())
	}
	s.Put(o) // idle and unheld: forgotten at once
	if s.Len() != 0 {
		t.Errorf("%d buckets, want 0", s.Len())
	}
}

func TestUnlimitedKeepsTheRawConnection(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if WrapConn(a, ConnOptions{}) != a {
		t.Error("WrapConn wrapped a connection to which nothing applies")
	}
	if NewReader(a, Chain{}, nil, nil) != io.Reader(a) || NewWriter(a, Chain{}.With(nil), nil, nil) != io.Writer(a) {
		t.Error("an unlimited reader or writer was wrapped")
	}
	if (ConnOptions{Read: Chain{}.With(NewBucket(1, 0))}).Passthrough() {
		t.Error("a limited read is passthrough")
	}
}

func TestCloseCutsABandwidthWaitShort(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b)
	c := WrapConn(a, ConnOptions{Write: Chain{}.With(NewBucket(1<<10, 1<<10))})
	done := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 1<<20)); done <- err }() // ~1000 s at this rate
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("write ended with %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end a write waiting for bandwidth")
	}
}

// meterFunc adapts a function to Meter.
type meterFunc func(int64) error

func (f meterFunc) Charge(n int64) error { return f(n) }

// TestTunnelThroughALimitedConn: tunnel.Join copies through a wrapped
// client connection over real loopback sockets: the download is limited
// within ±15%, the upload too, half-close still reaches the origin, every
// byte is metered, and no goroutine is left.
func TestTunnelThroughALimitedConn(t *testing.T) {
	testenv.CheckGoroutines(t)
	const down, up = 1 << 20, 256 << 10
	const size = 2 << 20 // 2 s of download
	origin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()

	// The origin reads the whole upload until the client's FIN, then
	// answers with size bytes.
	upGot := make(chan int64, 1)
	go func() {
		c, err := origin.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		upGot <- n
		c.Write(make([]byte, size))
	}()
	var metered int64
	var mu sync.Mutex
	joined := make(chan tunnel.Result, 1)
	go func() {
		cc, err := front.Accept()
		if err != nil {
			return
		}
		oc, err := net.DialTCP("tcp", nil, origin.Addr().(*net.TCPAddr))
		if err != nil {
			cc.Close()
			return
		}
		lc := WrapConn(cc, ConnOptions{
			Read:  Chain{}.With(NewBucket(up, 0)),
			Write: Chain{}.With(NewBucket(down, 0)),
			Meter: meterFunc(func(n int64) error { mu.Lock(); metered += n; mu.Unlock(); return nil }),
		})
		res, _ := tunnel.Join(lc, oc, tunnel.Options{Idle: 10 * time.Second})
		joined <- res
	}()

	client, err := net.DialTCP("tcp", nil, front.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	start := time.Now()
	if _, err := client.Write(make([]byte, up)); err != nil { // 1 s of upload
		t.Fatal(err)
	}
	client.CloseWrite()
	if n := <-upGot; n != up {
		t.Fatalf("origin got %d bytes, want %d", n, up)
	}
	within(t, "upload", float64(up)/time.Since(start).Seconds(), up, 0.15)
	start = time.Now()
	n, err := io.Copy(io.Discard, client)
	if err != nil || n != size {
		t.Fatalf("client read %d bytes (%v), want %d", n, err, size)
	}
	within(t, "download", float64(n)/time.Since(start).Seconds(), down, 0.15)
	res := <-joined
	if res.Up != up || res.Down != size {
		t.Errorf("tunnel counted %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if metered != up+size {
		t.Errorf("metered %d bytes, want %d", metered, up+size)
	}
}

func TestMeterErrorEndsTheTransfer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	over := errors.New("over quota")
	c := WrapConn(a, ConnOptions{Meter: meterFunc(func(int64) error { return over })})
	go b.Write([]byte("hello"))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, over) {
		t.Errorf("read: %v, want the meter's error", err)
	}
	go io.Copy(io.Discard, b)
	if _, err := c.Write([]byte("x")); !errors.Is(err, over) {
		t.Errorf("write: %v, want the meter's error", err)
	}
}

// BenchmarkLimitedCopy measures a copy through a limit far above what the
// machine moves: the limiter's own cost per byte.
func BenchmarkLimitedCopy(b *testing.B) {
	c := Chain{}.With(NewBucket(1<<40, 0)).With(NewBucket(1<<40, 0))
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(buf)))
	r := NewReader(zeros{}, c, nil, nil)
	w := NewWriter(io.Discard, c, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		n, _ := r.Read(buf)
		w.Write(buf[:n])
	}
}
