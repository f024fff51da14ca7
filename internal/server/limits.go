package server

import (
	"fmt"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/limit/cluster"
)

// limits returns the gate's rate and bandwidth limits for the names given.
// A limiter (and a bandwidth set) outlives generations while its settings
// stay the same, so a reload neither refills nor forgets anyone's
// allowance.
func (g *generation) limits(names []string) ([]*gate.RateLimit, []*gate.BandwidthLimit, []*gate.ConcLimit, error) {
	if len(names) == 0 {
		return nil, nil, nil, nil
	}
	s := g.srv
	plans := g.cfg.LimitPlans()
	var rates []*gate.RateLimit
	var bws []*gate.BandwidthLimit
	var concs []*gate.ConcLimit
	s.limitersMu.Lock()
	defer s.limitersMu.Unlock()
	if s.limiters == nil {
		s.limiters = map[string]any{}
	}
	for _, name := range names {
		p, ok := plans[name]
		if !ok {
			return nil, nil, nil, fmt.Errorf("undefined limit %q", name)
		}
		id := fmt.Sprintf("%s|%s|%d|%d|%d|%d|%s", p.Name, p.Rate, p.Bandwidth, p.Concurrency, p.Key, p.Direction, p.Header)
		spec := gate.LimitSpec{Name: p.Name, Key: p.Key, Header: p.Header, Users: p.Users, Groups: p.Groups}
		if p.Concurrency > 0 && p.Key == gate.Global && g.cluster != nil {
			// A global count is the cluster's: every instance's slots
			// together, each instance's own while Redis is away.
			id += "|cluster"
			c, _ := s.limiters[id].(*cluster.Concurrency)
			if c == nil {
				var err error
				if c, err = g.cluster.NewConcurrency(p.Name, p.Concurrency, limit.Options{}); err != nil {
					return nil, nil, nil, fmt.Errorf("limit %s: %w", name, err)
				}
				s.limiters[id] = c
			}
			concs = append(concs, &gate.ConcLimit{LimitSpec: spec, Slots: c.Local(), Shared: c})
			continue
		}
		if p.Concurrency > 0 {
			c, _ := s.limiters[id].(*limit.Concurrency)
			if c == nil {
				var err error
				if c, err = limit.NewConcurrency(p.Name, p.Concurrency, limit.Options{}); err != nil {
					return nil, nil, nil, fmt.Errorf("limit %s: %w", name, err)
				}
				s.limiters[id] = c
			}
			concs = append(concs, &gate.ConcLimit{LimitSpec: spec, Slots: c})
			continue
		}
		if p.Bandwidth > 0 {
			bl := &gate.BandwidthLimit{LimitSpec: spec, Dir: p.Direction, Rate: p.Bandwidth}
			switch p.Key {
			case gate.Global:
				b, _ := s.limiters[id].(*limit.Bucket)
				if b == nil {
					b = limit.NewBucket(p.Bandwidth, p.Bandwidth)
					s.limiters[id] = b
				}
				bl.Shared = b
			case gate.PerConnection:
			default:
				set, _ := s.limiters[id].(*limit.BucketSet)
				if set == nil {
					set = limit.NewBucketSet(p.Bandwidth, p.Bandwidth)
					s.limiters[id] = set
				}
				bl.Set = set
			}
			bws = append(bws, bl)
			continue
		}
		if g.cluster != nil {
			id += "|cluster"
		}
		l, _ := s.limiters[id].(gate.RateLimiter)
		if l == nil {
			var err error
			if g.cluster != nil {
				// Shared by every instance through Redis; this instance's
				// own counts while Redis does not answer.
				l, err = g.cluster.NewRateLimiter(p.Name, p.Rate, limit.Options{})
			} else {
				l, err = limit.NewRateLimiter(p.Name, p.Rate, limit.Options{})
			}
			if err != nil {
				return nil, nil, nil, fmt.Errorf("limit %s: %w", name, err)
			}
			s.limiters[id] = l
		}
		rates = append(rates, &gate.RateLimit{LimitSpec: spec, Limiter: l})
	}
	return rates, bws, concs, nil
}
