package cache

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDiskSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, DiskBytes: 1 << 20, MemoryBytes: 1 << 20}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	req := newReq("GET", "http://example.com/p", "Accept-Encoding: gzip")
	store(t, c, req, newResp(200, "Date: "+date(0), "Cache-Control: max-age=600", "Vary: Accept-Encoding", `ETag: "p"`), "persisted", 0)
	if err := c.Close(); err != nil { // waits for the disk writer
		t.Fatal(err)
	}
	// A crash mid-fill leaves a temporary file; a torn object (cut
	// short) and a foreign file sit among the objects.
	if err := os.WriteFile(filepath.Join(dir, "tmp", "fill-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*"))
	if len(objs) != 1 {
		t.Fatalf("objects on disk: %v", objs)
	}
	whole, _ := os.ReadFile(objs[0])
	torn := filepath.Join(filepath.Dir(objs[0]), "00000000000000aa")
	if err := os.WriteFile(torn, whole[:len(whole)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(filepath.Dir(objs[0]), "00000000000000bb")
	if err := os.WriteFile(foreign, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	c = newCache(t, o)
	res := lookup(c, newReq("GET", "http://example.com/p", "Accept-Encoding: gzip"), 100)
	if res.Action != Answer || content(t, res) != "persisted" || string(res.Head.Header.Get("Age")) != "100" {
		t.Fatalf("an object survives a restart with its age: action %d", res.Action)
	}
	if res := lookup(c, newReq("GET", "http://example.com/p", "Accept-Encoding: br"), 100); res.Action != Forward {
		t.Error("its secondary key survives too")
	} else {
		res.Fill.Abort(nil)
	}
	for _, p := range []string{torn, foreign, filepath.Join(dir, "tmp", "fill-123")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("torn, foreign and temporary files are deleted at start: %s %v", p, err)
		}
	}
	if s := c.Stats(); s.DiskObjects != 1 || s.MemoryObjects != 1 {
		t.Errorf("the hit was promoted to memory: %+v", s)
	}
}

func TestDiskTierBound(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, Options{Dir: dir, DiskBytes: 64 << 10, DiskMaxObject: 16 << 10, MemoryBytes: 8 << 10, MemoryMaxObject: 1})
	body := strings.Repeat("d", 4<<10)
	for i := range 40 {
		store(t, c, newReq("GET", "http://example.com/"+string(rune('a'+i%26))+string(rune('a'+i/26))), newResp(200, "Cache-Control: max-age=60"), body, 0)
	}
	s := c.Stats()
	if s.DiskBytes > 64<<10 || s.DiskObjects == 0 || s.DiskObjects > 16 {
		t.Errorf("disk tier bounded: %+v", s)
	}
	var total int64
	objs, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*"))
	for _, p := range objs {
		st, _ := os.Stat(p)
		total += st.Size()
	}
	if int64(len(objs)) != s.DiskObjects || total != s.DiskBytes {
		t.Errorf("files %d (%d bytes) vs stats %+v", len(objs), total, s)
	}
	res := lookup(c, newReq("GET", "http://example.com/nb"), 1)
	if res.Action != Answer || content(t, res) != body {
		t.Errorf("the newest object is served from disk")
	}
}

// TestStreaming100MiB fills a 100 MiB object through the disk tier while a
// follower reads it, and checks that the heap stays far below the object.
func TestStreaming100MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB")
	}
	const size = 100 << 20
	c := newCache(t, Options{Dir: t.TempDir(), DiskBytes: 256 << 20, DiskMaxObject: 200 << 20, MemoryBytes: 8 << 20})
	req := newReq("GET", "http://example.com/huge")
	leader := lookup(c, req, 0)
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		f := lookup(c, req, 0)
		defer f.Close()
		h := sha256.New()
		n, err := f.WriteBody(h)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n, r.err = n, err
		got <- r
	}()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	if o := leader.Fill.Response(newResp(200, "Cache-Control: max-age=60"), ResponseTimes{at(0), at(0)}, leader); o != Store {
		t.Fatal(o)
	}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	want := sha256.New()
	var peak uint64
	for i := 0; i < size/len(chunk); i++ {
		_, _ = leader.Fill.Write(chunk)
		want.Write(chunk)
		if i%256 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if err := leader.Fill.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.n != size || !bytes.Equal(r.sum[:], want.Sum(nil)) {
		t.Fatalf("follower read %d bytes, err %v", r.n, r.err)
	}
	if grew := int64(peak) - int64(base); grew > 32<<20 {
		t.Errorf("heap grew %d MiB while filling 100 MiB", grew>>20)
	}
	res := lookup(c, req, 1)
	n, err := res.WriteBody(io.Discard)
	if res.Action != Answer || n != size || err != nil {
		t.Errorf("the object is served from disk: %d %v", n, err)
	}
	if _, ok := res.Bytes(); ok {
		t.Error("a 100 MiB object is not promoted to memory")
	}
}

func TestDiskAnswerSurvivesPurge(t *testing.T) {
	c := newCache(t, Options{Dir: t.TempDir(), MemoryMaxObject: 1})
	req := newReq("GET", "http://example.com/held")
	store(t, c, req, newResp(200, "Cache-Control: max-age=60"), "on disk", 0)
	res := lookup(c, req, 1)
	if res.Action != Answer {
		t.Fatal("no hit")
	}
	if n, _ := c.PurgeURL("http://example.com/held"); n != 1 {
		t.Fatalf("purged %d", n)
	}
	if got := content(t, res); got != "on disk" {
		t.Errorf("an answer holds its file open across a purge: %q", got)
	}
	res.Close()
}
