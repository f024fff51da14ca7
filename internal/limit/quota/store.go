package quota

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Syncer shares counts between instances (package cluster implements it
// on Redis). Sync adds each item's Delta to the shared count of its
// account's Slot, forgets shared slots older than First, and sets each
// item's Total to the shared count from First on. It must honour ctx.
type Syncer interface {
	Sync(ctx context.Context, items []SyncItem) error
}

// SyncItem is one account's share of a Sync.
type SyncItem struct {
	Account string
	Slot    int64 // the slot the delta belongs to
	Delta   int64
	First   int64         // oldest slot in the window
	TTL     time.Duration // how long the shared count must be kept (0: for ever)
	Total   int64         // set by Sync
	// Epoch is set by Sync: a mark of the shared count's life. When it
	// changes, the shared count was lost and this instance pushes its own
	// bytes of the window again.
	Epoch string
}

// Options configure a Store.
type Options struct {
	Path   string        // bbolt file; created if missing
	Flush  time.Duration // how often charges are folded, written and synced (0: 1 s)
	Logger *slog.Logger  // nil: discard
	Clock  func() time.Time
	Sync   Syncer // nil: this instance counts alone
	// SyncTimeout bounds one Sync (0: 500 ms). A failed Sync keeps its
	// deltas for the next flush, so nothing is lost while Redis is away.
	SyncTimeout time.Duration
}

// Stats are a store's counters.
type Stats struct {
	Flushes    uint64 // writes that succeeded
	FlushFails uint64 // writes that failed (kept for the next flush)
	SyncFails  uint64 // Syncs that failed
}

// Store holds the accounts and their bbolt file.
type Store struct {
	o    Options
	log  *slog.Logger
	db   *bolt.DB
	mu   sync.RWMutex
	accs map[string]*Account

	flushMu sync.Mutex // one flush at a time
	stats   Stats
	stop    chan struct{}
	done    chan struct{}
	closed  sync.Once
}

var bucketName = []byte("quota")

// Open opens (or creates) the file and starts the flush loop. Close
// flushes and stops it.
func Open(o Options) (*Store, error) {
	if o.Flush <= 0 {
		o.Flush = time.Second
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 500 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := bolt.Open(o.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("quota store %s: %w", o.Path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("quota store %s: %w", o.Path, err)
	}
	s := &Store{o: o, log: log, db: db, accs: map[string]*Account{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.flushLoop()
	return s, nil
}

func (s *Store) now() time.Time { return s.o.Clock() }

// Account returns the account called name (a convention: "user:bob",
// "group:staff"), loading its counts from the file the first time, with
// plan p. A later call with another plan changes the plan (a reload); a
// change of Mode starts the count again, since slots mean something else.
func (s *Store) Account(name string, p Plan) (*Account, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("quota of %s: %w", name, err)
	}
	s.mu.RLock()
	a := s.accs[name]
	s.mu.RUnlock()
	if a != nil {
		if old := a.plan.Load(); *old != p {
			a.mu.Lock()
			if old.Mode != p.Mode {
				clear(a.slots)
				clear(a.unsynced)
				a.synced, a.remote, a.dirty = false, 0, true
			}
			a.plan.Store(&p)
			a.fold(s.now())
			a.mu.Unlock()
		}
		return a, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accs[name]; a != nil {
		return a, nil
	}
	a = &Account{name: name, s: s, slots: map[int64]int64{}, unsynced: map[int64]int64{}}
	a.plan.Store(&p)
	var mode Mode
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketName).Get([]byte(name))
		if v == nil {
			return nil
		}
		var err error
		mode, err = decode(v, a.slots)
		return err
	})
	if err != nil {
		s.log.Warn("quota record unreadable; counting from zero", "account", name, "err", err)
		clear(a.slots)
	} else if mode != 0 && mode != p.Mode {
		clear(a.slots)
	}
	a.mu.Lock()
	a.fold(s.now())
	a.mu.Unlock()
	s.accs[name] = a
	return a, nil
}

// Lookup returns an account already made by Account, or nil.
func (s *Store) Lookup(name string) *Account {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.accs[name]
}

// Usage reports one account for the admin API.
func (s *Store) Usage(name string) (Usage, bool) {
	a := s.Lookup(name)
	if a == nil {
		return Usage{}, false
	}
	return a.usage(s.now()), true
}

// Usages reports every account, sorted by name.
func (s *Store) Usages() []Usage {
	s.mu.RLock()
	accs := make([]*Account, 0, len(s.accs))
	for _, a := range s.accs {
		accs = append(accs, a)
	}
	s.mu.RUnlock()
	now := s.now()
	out := make([]Usage, len(accs))
	for i, a := range accs {
		out[i] = a.usage(now)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out
}

func (a *Account) usage(now time.Time) Usage {
	p := a.plan.Load()
	used := a.Used()
	return Usage{Account: a.name, Plan: p.String(), Limit: p.Limit, Used: used, Reset: p.reset(now), Over: used >= p.Limit}
}

// Credit gives an account n bytes of room (a top-up of a balance, or an
// allowance for the current period): it is counted as negative traffic,
// persisted and shared like any charge.
func (s *Store) Credit(name string, n int64) error {
	a := s.Lookup(name)
	if a == nil {
		return fmt.Errorf("quota: no account %q", name)
	}
	a.pending.Add(-n)
	return nil
}

// Stats reads the counters.
func (s *Store) Stats() Stats {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return s.stats
}

func (s *Store) flushLoop() {
	defer close(s.done)
	t := time.NewTicker(s.o.Flush)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Flush(); err != nil {
				s.log.Error("quota flush failed; counts kept in memory", "err", err)
			}
		}
	}
}

// Flush folds every charge into its slot, writes the changed accounts in
// one transaction and syncs with the other instances. The loop calls it
// every Options.Flush; Close calls it last.
func (s *Store) Flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	now := s.now()
	s.mu.RLock()
	accs := make([]*Account, 0, len(s.accs))
	for _, a := range s.accs {
		accs = append(accs, a)
	}
	s.mu.RUnlock()

	type rec struct {
		name string
		val  []byte
		a    *Account
	}
	var recs []rec
	for _, a := range accs {
		a.mu.Lock()
		a.fold(now)
		if a.dirty {
			recs = append(recs, rec{a.name, encode(a.plan.Load().Mode, a.slots), a})
		}
		a.mu.Unlock()
	}
	var err error
	if len(recs) > 0 {
		err = s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketName)
			for _, r := range recs {
				if err := b.Put([]byte(r.name), r.val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.stats.FlushFails++
			err = fmt.Errorf("quota store %s: %w", s.o.Path, err)
		} else {
			s.stats.Flushes++
			for _, r := range recs {
				r.a.mu.Lock()
				r.a.dirty = false // a fold since re-marks it; harmless rewrite
				r.a.mu.Unlock()
			}
		}
	}
	if s.o.Sync != nil {
		s.sync(accs, now)
	}
	return err
}

// sync sends every account's unsynced bytes (and asks the totals of the
// others) in one Sync. When the shared count was lost (its epoch changed)
// an account's bytes in the window go again, in a second Sync.
func (s *Store) sync(accs []*Account, now time.Time) {
	for range 2 {
		if !s.syncOnce(accs, now) {
			return
		}
	}
}

// syncOnce reports whether an account must push its bytes again.
func (s *Store) syncOnce(accs []*Account, now time.Time) (again bool) {
	var items []SyncItem
	var owners []*Account
	sent := map[*Account]map[int64]int64{}
	for _, a := range accs {
		a.mu.Lock()
		p := a.plan.Load()
		cur := p.slot(now)
		ttl := time.Duration(0)
		if p.Mode == Rolling {
			ttl = p.Period + p.Period/Slots
		} else if p.Mode == Monthly {
			ttl = 32 * 24 * time.Hour
		}
		d := map[int64]int64{}
		for slot, n := range a.unsynced {
			if slot < p.first(cur) || n == 0 {
				continue
			}
			d[slot] = n
			items = append(items, SyncItem{Account: a.name, Slot: slot, Delta: n, First: p.first(cur), TTL: ttl})
			owners = append(owners, a)
		}
		if len(d) == 0 { // ask for the total alone
			items = append(items, SyncItem{Account: a.name, Slot: cur, First: p.first(cur), TTL: ttl})
			owners = append(owners, a)
		}
		sent[a] = d
		a.mu.Unlock()
	}
	if len(items) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.SyncTimeout)
	defer cancel()
	if err := s.o.Sync.Sync(ctx, items); err != nil {
		s.stats.SyncFails++
		s.log.Warn("quota sync failed; counting locally until it works again", "err", err)
		return false
	}
	for a, d := range sent {
		a.mu.Lock()
		for slot, n := range d {
			if a.unsynced[slot] -= n; a.unsynced[slot] == 0 {
				delete(a.unsynced, slot)
			}
		}
		a.mu.Unlock()
	}
	for i, it := range items {
		a := owners[i]
		a.mu.Lock()
		if a.epoch != "" && it.Epoch != a.epoch {
			// The shared count was lost: what it holds of ours is only
			// what this sync sent; everything else of the window goes
			// again.
			s.log.Warn("shared quota count was lost; pushing this instance's bytes again", "account", a.name)
			clear(a.unsynced)
			for slot, n := range a.slots {
				if rest := n - sent[a][slot]; rest != 0 {
					a.unsynced[slot] = rest
					again = true
				}
			}
		}
		a.epoch = it.Epoch
		a.remote, a.synced = it.Total, true // an account's last item carries its final total
		a.fold(now)
		a.mu.Unlock()
	}
	return again
}

// fold moves pending charges into the current slot, drops slots that left
// the window and recomputes base. a.mu is held.
func (a *Account) fold(now time.Time) {
	p := a.plan.Load()
	cur := p.slot(now)
	if n := a.pending.Swap(0); n != 0 {
		a.slots[cur] += n
		a.unsynced[cur] += n
		a.dirty = true
	}
	first := p.first(cur)
	var local, unsynced int64
	for slot, n := range a.slots {
		if slot < first {
			delete(a.slots, slot)
			a.dirty = true
			continue
		}
		local += n
	}
	for slot, n := range a.unsynced {
		if slot < first {
			delete(a.unsynced, slot)
			continue
		}
		unsynced += n
	}
	used := local
	if a.synced {
		// The shared count holds our synced bytes; add what it lacks. If
		// it is behind what we counted ourselves (Redis lost its data),
		// trust our own count.
		used = max(a.remote+unsynced, local)
	}
	a.base.Store(used)
}

// Close flushes a last time, stops the loop and closes the file.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.stop)
		<-s.done
		err = errors.Join(s.Flush(), s.db.Close())
	})
	return err
}

// The record: mode byte, slot count, then (slot, bytes) as varints.
func encode(m Mode, slots map[int64]int64) []byte {
	b := []byte{byte(m)}
	b = binary.AppendUvarint(b, uint64(len(slots)))
	for slot, n := range slots {
		b = binary.AppendVarint(b, slot)
		b = binary.AppendVarint(b, n)
	}
	return b
}

func decode(b []byte, into map[int64]int64) (Mode, error) {
	if len(b) < 2 {
		return 0, errors.New("record too short")
	}
	m := Mode(b[0])
	k, w := binary.Uvarint(b[1:])
	if w <= 0 || k > 1<<16 {
		return 0, errors.New("bad slot count")
	}
	b = b[1+w:]
	for range k {
		slot, w1 := binary.Varint(b)
		if w1 <= 0 {
			return 0, errors.New("truncated slot")
		}
		n, w2 := binary.Varint(b[w1:])
		if w2 <= 0 {
			return 0, errors.New("truncated count")
		}
		into[slot] += n
		b = b[w1+w2:]
	}
	if len(b) != 0 {
		return 0, errors.New("trailing bytes")
	}
	return m, nil
}
