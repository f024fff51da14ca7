package test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestCacheStreams100MiBObjectWithBoundedMemory streams a 100 MiB object
// through the cache (to the disk tier) and back out of it, while the heap
// stays far below the object's size.
func TestCacheStreams100MiBObjectWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB transfer")
	}
	const size = 100 << 20
	o := newScriptOrigin(t)
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	o.handle("/big", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	cfg := cacheConfig(o, fmt.Sprintf("  disk: {path: %q, size: 1GiB, max_object: 256MiB}\n", t.TempDir()))
	j := janustest.Start(t, cfg, nil)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	for i := 0; i < 2; i++ {
		resp, err := http.Get("http://" + j.Addr(t, "web") + "/big")
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("request %d: %d bytes, %v", i+1, n, err)
		}
	}
	close(stop)
	<-done
	if o.count("/big") != 1 {
		t.Errorf("origin saw %d requests, want 1 (the second from the disk tier)", o.count("/big"))
	}
	growth := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %d KiB for a %d MiB object", growth>>10, size>>20)
	if growth > 32<<20 {
		t.Errorf("heap grew by %d MiB streaming a 100 MiB object", growth>>20)
	}
}
