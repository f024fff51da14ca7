package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// streamPattern is the content of the streaming tests' objects: byte i is
// a function of i, so a client can check every byte it got.
func streamPattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (off+i)%26)
	}
	return b
}

// serveStream writes size pattern bytes in 64 KiB writes, with a
// Content-Length unless chunked; cutAt > 0 aborts the response after that
// many bytes.
func serveStream(size, cutAt int, chunked bool) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=600")
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		w.WriteHeader(200)
		const chunk = 64 << 10
		for off := 0; off < size; off += chunk {
			if cutAt > 0 && off >= cutAt {
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			if _, err := w.Write(streamPattern(off, min(chunk, size-off))); err != nil {
				return
			}
		}
	}
}

// slowClient is a client whose socket takes little at a time (a 32 KiB
// receive buffer), so that a proxy relaying to it at its pace would be
// held back by it, and a fresh connection per request.
func slowClient(t *testing.T) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
		})
	}}
	tr := &http.Transport{DialContext: d.DialContext, DisableCompression: true, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// slowRead reads from body at about rate bytes/s for the duration d (or to
// the end) and returns what it read.
func slowRead(body io.Reader, rate int, d time.Duration) ([]byte, error) {
	var out bytes.Buffer
	step := rate / 10
	buf := make([]byte, step)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		n, err := io.ReadFull(body, buf)
		out.Write(buf[:n])
		if err != nil {
			return out.Bytes(), err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out.Bytes(), nil
}

// onlyIfCached asks the reverse face for path from the cache only (RFC
// 9111 §5.2.1.7): 504 while it is not stored.
func onlyIfCached(t *testing.T, base, path string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Cache-Control", "only-if-cached")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a cached response: %v", err)
	}
	return resp, b
}

// startStreamCache starts a script origin and Janus in front of it with a
// 64 MiB memory tier and extra in the cache section (a %q in it becomes a
// temporary directory); it returns the origin and the reverse face's URL.
func startStreamCache(t *testing.T, extra string) (*scriptOrigin, string) {
	t.Helper()
	o := newScriptOrigin(t)
	if strings.Contains(extra, "%q") {
		extra = fmt.Sprintf(extra, t.TempDir())
	}
	cfg := strings.Replace(cacheConfig(o, extra), "memory: 16MiB", "memory: 64MiB", 1)
	j := janustest.Start(t, cfg, nil)
	return o, "http://" + j.Addr(t, "web")
}

// TestCacheSlowLeaderDoesNotSlowTheStore pins issue 4's "a slow client
// does not slow the store": the client that leads a fill reads at about
// 100 KiB/s an 8 MiB object the origin serves at once, and the object is
// stored (a second client gets a hit with all of it) long before the
// leader is done; the leader then gets every byte. On the disk tier
// (spilled) and in memory.
func TestCacheSlowLeaderDoesNotSlowTheStore(t *testing.T) {
	const size = 8 << 20
	for _, c := range []struct {
		desc, cache string
		chunked     bool
	}{
		{desc: "disk-tier", cache: "  disk: {path: %q, size: 256MiB}\n"},
		{desc: "memory-tier", cache: "  memory_max_object: 16MiB\n"},
		{desc: "memory-tier-chunked", cache: "  memory_max_object: 16MiB\n", chunked: true},
	} {
		t.Run(c.desc, func(t *testing.T) {
			checkLeaks(t)
			o, web := startStreamCache(t, c.cache)
			o.handle("/big", serveStream(size, 0, c.chunked))
			slowLeaderStores(t, web, o, size)
		})
	}
}

// TestCacheUpstreamCutUnderSlowLeaderCutsItAndStoresNothing pins that an
// origin dying mid-body leaves nothing stored and cuts the slow leader's
// response after what did arrive.
func TestCacheUpstreamCutUnderSlowLeaderCutsItAndStoresNothing(t *testing.T) {
	const size, cut = 8 << 20, 1 << 20
	for _, c := range []struct{ desc, cache string }{
		{desc: "disk-tier", cache: "  disk: {path: %q, size: 256MiB}\n"},
		{desc: "memory-tier", cache: "  memory_max_object: 16MiB\n"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			checkLeaks(t)
			o, web := startStreamCache(t, c.cache)
			o.handle("/cut", serveStream(size, cut, false))

			resp, err := slowClient(t).Get(web + "/cut")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			led, err := slowRead(resp.Body, 400<<10, 500*time.Millisecond)
			if err != nil {
				t.Fatalf("leader cut after %d bytes already", len(led))
			}
			rest, err := io.ReadAll(resp.Body)
			got := len(led) + len(rest)
			if err == nil {
				t.Fatalf("the leader's response ended cleanly after %d bytes of %d", got, size)
			}
			if got < cut || !bytes.Equal(append(led, rest...), streamPattern(0, got)) {
				t.Errorf("leader got %d bytes (want the %d sent, intact) before the cut", got, cut)
			}
			if r, _ := onlyIfCached(t, web, "/cut"); r.StatusCode != 504 {
				t.Errorf("only-if-cached after the cut: %d, want 504 (nothing stored)", r.StatusCode)
			}
		})
	}
}

// TestCacheLeaderGoingAwayDoesNotStopTheFill pins that the fill goes on
// for the store when the client that started it closes its connection.
func TestCacheLeaderGoingAwayDoesNotStopTheFill(t *testing.T) {
	checkLeaks(t)
	const size = 8 << 20
	o := newScriptOrigin(t)
	o.handle("/big", serveStream(size, 0, false))
	cfg := strings.Replace(cacheConfig(o, "  memory_max_object: 16MiB\n"), "memory: 16MiB", "memory: 64MiB", 1)
	j := janustest.Start(t, cfg, nil)
	web := "http://" + j.Addr(t, "web")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", web+"/big", nil)
	resp, err := slowClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	waitFor(t, func() bool {
		r, body := onlyIfCached(t, web, "/big")
		return r.StatusCode == 200 && bytes.Equal(body, streamPattern(0, size))
	})
	if n := o.count("/big"); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
}

// TestCacheLeaderGetsWholeObjectTooLargeToStore pins the hand-back: a
// response of unknown length that outgrows what the cache stores is not
// stored, and the client that led the fill still gets all of it.
func TestCacheLeaderGetsWholeObjectTooLargeToStore(t *testing.T) {
	checkLeaks(t)
	const size = 6 << 20
	o := newScriptOrigin(t)
	o.handle("/huge", serveStream(size, 0, true))
	e := &cacheEnv{t: t, o: o}
	j := janustest.Start(t, cacheConfig(o, "  memory_max_object: 1MiB\n"), nil)
	e.web, e.client = "http://"+j.Addr(t, "web"), janusClient(t)
	for i := 1; i <= 2; i++ {
		resp, err := slowClient(t).Get(e.web + "/huge")
		if err != nil {
			t.Fatal(err)
		}
		led, err := slowRead(resp.Body, 1<<20, 300*time.Millisecond)
		rest, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || rerr != nil || !bytes.Equal(append(led, rest...), streamPattern(0, size)) {
			t.Fatalf("request %d: %d bytes, %v %v", i, len(led)+len(rest), err, rerr)
		}
	}
	wantOrigin(t, e, "/huge", 2)
}

// slowLeaderStores has a slow client lead the fill of o's /big (size
// pattern bytes) through base, and checks that the object is stored long
// before that client is done, then that the client gets all of it.
func slowLeaderStores(t *testing.T, base string, o *scriptOrigin, size int) {
	t.Helper()
	web := base
	resp, err := slowClient(t).Get(web + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Cache-Status"); !strings.Contains(got, "stored") {
		t.Errorf("leader's Cache-Status %q, want stored", got)
	}
	start := time.Now()
	var led []byte
	stored := false
	for !stored && time.Since(start) < 10*time.Second {
		b, err := slowRead(resp.Body, 100<<10, 250*time.Millisecond)
		led = append(led, b...)
		if err != nil {
			t.Fatalf("leader: %v after %d bytes", err, len(led))
		}
		r, body := onlyIfCached(t, web, "/big")
		if r.StatusCode == 200 {
			stored = true
			if cs := r.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
				t.Errorf("second client's Cache-Status %q, want a hit", cs)
			}
			if !bytes.Equal(body, streamPattern(0, size)) {
				t.Errorf("second client got %d bytes, not the object", len(body))
			}
		}
	}
	if !stored {
		t.Fatalf("not stored after %v while the leader read %d bytes", time.Since(start), len(led))
	}
	if len(led) > size/4 {
		t.Errorf("the leader had read %d of %d bytes before the object was stored", len(led), size)
	}
	t.Logf("stored after %v; the leader had read %d KiB", time.Since(start).Round(time.Millisecond), len(led)>>10)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("leader: %v", err)
	}
	if !bytes.Equal(append(led, rest...), streamPattern(0, size)) {
		t.Errorf("leader got %d bytes, not the object", len(led)+len(rest))
	}
	if n := o.count("/big"); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
}

// TestCacheSlowLeaderDoesNotSlowTheStoreFromAnH2cUpstream is the same
// through the standard transport (an h2c upstream).
func TestCacheSlowLeaderDoesNotSlowTheStoreFromAnH2cUpstream(t *testing.T) {
	checkLeaks(t)
	const size = 8 << 20
	e := startH2Cache(t, "h2c", "  memory_max_object: 16MiB\n")
	e.o.handle("/big", serveStream(size, 0, false))
	slowLeaderStores(t, e.web, e.o, size)
}
