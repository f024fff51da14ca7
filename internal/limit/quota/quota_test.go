package quota

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, path string, clk *fakeClock) *Store {
	t.Helper()
	s, err := Open(Options{Path: path, Clock: clk.Now, Flush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func account(t *testing.T, s *Store, name string, p Plan) *Account {
	t.Helper()
	a, err := s.Account(name, p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const GiB = 1 << 30

func TestQuotaChargeAndExceed(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	s := open(t, filepath.Join(t.TempDir(), "q.db"), clk)
	defer s.Close()
	a := account(t, s, "user:bob", Plan{Limit: 100 << 20, Mode: Monthly})
	if err := a.Charge(60 << 20); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(); err != nil {
		t.Fatalf("check at 60 of 100 MiB: %v", err)
	}
	err := a.Charge(50 << 20)
	var ex *ExceededError
	if !errors.As(err, &ex) || !errors.Is(err, ErrExceeded) {
		t.Fatalf("charge past the limit: %v, want *ExceededError", err)
	}
	want := "traffic quota of user:bob exceeded: 110.0 MiB used of 100.0 MiB monthly, room again from 2026-04-01T00:00:00Z"
	if err.Error() != want {
		t.Errorf("reason %q\nwant     %q", err, want)
	}
	if a.Check() == nil {
		t.Error("check passes over quota")
	}
	if u, ok := s.Usage("user:bob"); !ok || !u.Over || u.Used != 110<<20 {
		t.Errorf("usage %+v", u)
	}
}

func TestQuotaPeriods(t *testing.T) {
	start := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	tests := []struct {
		desc    string
		plan    Plan
		advance time.Duration
		want    int64 // of 10 bytes charged at start and 5 after advance
	}{
		{"rolling: inside the window both count", Plan{Limit: GiB, Mode: Rolling, Period: 30 * 24 * time.Hour}, 29 * 24 * time.Hour, 15},
		{"rolling: the first day left the window", Plan{Limit: GiB, Mode: Rolling, Period: 30 * 24 * time.Hour}, 30 * 24 * time.Hour, 5},
		{"monthly: a new month starts from zero", Plan{Limit: GiB, Mode: Monthly}, 2 * time.Hour, 5},
		{"monthly: same month both count", Plan{Limit: GiB, Mode: Monthly}, 30 * time.Minute, 15},
		{"balance never resets", Plan{Limit: GiB, Mode: Balance}, 1000 * 24 * time.Hour, 15},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			clk := &fakeClock{t: start}
			s := open(t, filepath.Join(t.TempDir(), "q.db"), clk)
			defer s.Close()
			a := account(t, s, "a", tt.plan)
			a.Charge(10)
			s.Flush()
			clk.Advance(tt.advance)
			a.Charge(5)
			s.Flush()
			if got := a.Used(); got != tt.want {
				t.Errorf("used %d, want %d", got, tt.want)
			}
		})
	}
}

func TestQuotaCreditGivesRoom(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	s := open(t, filepath.Join(t.TempDir(), "q.db"), clk)
	defer s.Close()
	a := account(t, s, "user:carol", Plan{Limit: 1000, Mode: Balance})
	a.Charge(1500)
	if a.Check() == nil {
		t.Fatal("over a balance but allowed")
	}
	if err := s.Credit("user:carol", 1000); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(); err != nil {
		t.Errorf("after a credit of 1000: %v", err)
	}
	if s.Credit("nobody", 1) == nil {
		t.Error("credit to an unknown account succeeded")
	}
}

// TestQuotaSurvivesRestart: counts are on disk after Close; a crash loses
// at most what was charged since the last flush.
func TestQuotaSurvivesRestart(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	dir := t.TempDir()
	path := filepath.Join(dir, "q.db")
	plan := Plan{Limit: 10 * GiB, Mode: Rolling, Period: 30 * 24 * time.Hour}
	s := open(t, path, clk)
	a := account(t, s, "user:bob", plan)
	a.Charge(3 * GiB)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// A crash now: copy the file as the disk holds it, then charge more.
	crashed := filepath.Join(dir, "crash.db")
	copyFile(t, path, crashed)
	a.Charge(1 * GiB)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		desc, path string
		want       int64
	}{
		{"clean restart loses nothing", path, 4 * GiB},
		{"crash loses only the last flush interval", crashed, 3 * GiB},
	} {
		t.Run(c.desc, func(t *testing.T) {
			s := open(t, c.path, clk)
			defer s.Close()
			if got := account(t, s, "user:bob", plan).Used(); got != c.want {
				t.Errorf("used %d after restart, want %d", got, c.want)
			}
		})
	}
}

func TestQuotaFlushLoopWritesByItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(Options{Path: path, Flush: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _ := s.Account("u", Plan{Limit: 100, Mode: Balance})
	a.Charge(7)
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().Flushes == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Stats().Flushes == 0 {
		t.Fatal("the loop never flushed")
	}
}

func TestQuotaModeChangeStartsAgain(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	s := open(t, filepath.Join(t.TempDir(), "q.db"), clk)
	defer s.Close()
	a := account(t, s, "u", Plan{Limit: 100, Mode: Balance})
	a.Charge(50)
	s.Flush()
	account(t, s, "u", Plan{Limit: 200, Mode: Balance})
	if a.Used() != 50 || a.Plan().Limit != 200 {
		t.Errorf("a new limit of the same mode: used %d limit %d", a.Used(), a.Plan().Limit)
	}
	account(t, s, "u", Plan{Limit: 200, Mode: Monthly})
	if a.Used() != 0 {
		t.Errorf("after a mode change used %d, want 0", a.Used())
	}
}

func TestQuotaUnreadableRecordCountsFromZero(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	path := filepath.Join(t.TempDir(), "q.db")
	s := open(t, path, clk)
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketName).Put([]byte("u"), []byte{1, 200}) })
	a := account(t, s, "u", Plan{Limit: 100, Mode: Balance})
	if a.Used() != 0 {
		t.Errorf("used %d from a torn record", a.Used())
	}
	s.Close()
}

func TestPlanValidate(t *testing.T) {
	for _, p := range []Plan{{}, {Limit: 1}, {Limit: 1, Mode: Rolling, Period: time.Second}, {Limit: -1, Mode: Balance}} {
		if p.Validate() == nil {
			t.Errorf("%+v: valid", p)
		}
	}
	if !strings.Contains((Plan{Limit: 10 * GiB, Mode: Rolling, Period: 720 * time.Hour}).String(), "10.0 GiB per 720h0m0s rolling") {
		t.Error((Plan{Limit: 10 * GiB, Mode: Rolling, Period: 720 * time.Hour}).String())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(Rolling, map[int64]int64{20000: 1 << 30, 19999: -5}))
	f.Add(encode(Balance, map[int64]int64{}))
	f.Add([]byte{1, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := map[int64]int64{}
		mode, err := decode(b, m)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		m2 := map[int64]int64{}
		if mode2, err := decode(encode(mode, m), m2); err != nil || mode2 != mode || len(m2) != len(m) {
			t.Fatalf("round trip: %v %v %v", err, m, m2)
		}
	})
}

func BenchmarkAccountCharge(b *testing.B) {
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "q.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, _ := s.Account("u", Plan{Limit: 1 << 62, Mode: Balance})
	b.ReportAllocs()
	for b.Loop() {
		a.Charge(1500)
	}
}
