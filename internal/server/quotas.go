package server

import (
	"fmt"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/limit/quota"
)

// The quota store is the server's: opened with the first config that has
// quotas, kept across reloads (a reload changes plans, not the file), and
// closed, flushed, on shutdown.

// openQuotas opens the store the config names, once.
func (s *Server) openQuotas(path string, sync quota.Syncer) (*quota.Store, error) {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	if path == "" {
		return s.quotaStore, nil
	}
	if s.quotaStore != nil {
		if path != s.quotaPath {
			s.log.Warn("quotas.store changed: the new file is used after a restart", "running", s.quotaPath, "configured", path)
		}
		return s.quotaStore, nil
	}
	st, err := quota.Open(quota.Options{Path: path, Logger: s.log.With("part", "quotas"), Sync: sync})
	if err != nil {
		return nil, fmt.Errorf("quotas: %w", err)
	}
	s.quotaStore, s.quotaPath = st, path
	return st, nil
}

func (s *Server) closeQuotas() {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	if s.quotaStore != nil {
		if err := s.quotaStore.Close(); err != nil {
			s.log.Error("closing the quota store", "err", err)
		}
		s.quotaStore = nil
	}
}

// quotas is a generation's view of the traffic quotas: which accounts each
// user's traffic counts against (its own and its groups').
type quotas struct {
	byUser map[string][]*quota.Account
}

// buildQuotas makes the accounts of the config's quotas.
func (g *generation) buildQuotas() error {
	path, plans := g.cfg.QuotaPlans()
	if path == "" || len(plans) == 0 {
		return nil
	}
	var sync quota.Syncer
	if g.cluster != nil {
		sync = g.cluster.QuotaSync()
	}
	st, err := g.srv.openQuotas(path, sync)
	if err != nil {
		return err
	}
	accounts := map[string]*quota.Account{}
	for _, p := range plans {
		a, err := st.Account(p.Account, p.Plan)
		if err != nil {
			return fmt.Errorf("quota %s: %w", p.Account, err)
		}
		accounts[p.Account] = a
	}
	q := &quotas{byUser: map[string][]*quota.Account{}}
	for _, u := range g.cfg.UserList() {
		var accs []*quota.Account
		if a := accounts["user:"+u.Name]; a != nil {
			accs = append(accs, a)
		}
		for _, grp := range u.Groups {
			if a := accounts["group:"+grp]; a != nil {
				accs = append(accs, a)
			}
		}
		if len(accs) > 0 {
			q.byUser[u.Name] = accs
		}
	}
	g.quotas = q
	return nil
}

// Check implements gate.QuotaChecker.
func (q *quotas) Check(user *gate.Identity) error {
	for _, a := range q.byUser[user.Name] {
		if err := a.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Meter implements gate.QuotaChecker: the user's accounts, charged
// together as bytes move.
func (q *quotas) Meter(user *gate.Identity) limit.Meter {
	accs := q.byUser[user.Name]
	switch len(accs) {
	case 0:
		return nil
	case 1:
		return accs[0]
	}
	return accounts(accs)
}

// accounts charges each of a user's accounts (its own and its groups').
type accounts []*quota.Account

func (as accounts) Charge(n int64) error {
	var first error
	for _, a := range as {
		if err := a.Charge(n); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// charge counts a finished exchange's bytes against its user's accounts
// (exchanges whose bytes a meter did not count as they moved).
func (q *quotas) charge(user string, n int64) {
	if q == nil || user == "" || n <= 0 {
		return
	}
	for _, a := range q.byUser[user] {
		_ = a.Charge(n)
	}
}

// quotaStoreNow is the open quota store, nil without quotas.
func (s *Server) quotaStoreNow() *quota.Store {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	return s.quotaStore
}

// Quotas reports every traffic quota the current config has (use, limit,
// when room comes back), sorted by account; nil without quotas.
func (s *Server) Quotas() []quota.Usage {
	st := s.quotaStoreNow()
	if st == nil {
		return nil
	}
	return st.Usages()
}

// CreditQuota gives account ("user:bob", "group:staff") bytes back: a
// top-up of a balance, or room given early in a period. It fails for an
// account the config has no quota for.
func (s *Server) CreditQuota(account string, bytes int64) (quota.Usage, error) {
	st := s.quotaStoreNow()
	if st == nil {
		return quota.Usage{}, fmt.Errorf("no traffic quotas are configured")
	}
	if bytes <= 0 {
		return quota.Usage{}, fmt.Errorf("credit must be a positive number of bytes, not %d", bytes)
	}
	a := st.Lookup(account)
	if a == nil {
		return quota.Usage{}, fmt.Errorf("no quota for account %q", account)
	}
	_ = a.Charge(-bytes)
	u, _ := st.Usage(account)
	return u, nil
}
