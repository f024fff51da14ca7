package server

import (
	"fmt"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
)

// rateLimits returns the gate's limits for the names given. A limiter
// outlives generations while its settings stay the same, so a reload
// neither refills nor forgets anyone's allowance.
func (g *generation) rateLimits(names []string) ([]*gate.RateLimit, error) {
	if len(names) == 0 {
		return nil, nil
	}
	s := g.srv
	plans := g.cfg.LimitPlans()
	out := make([]*gate.RateLimit, 0, len(names))
	for _, name := range names {
		p, ok := plans[name]
		if !ok {
			return nil, fmt.Errorf("undefined limit %q", name)
		}
		id := fmt.Sprintf("%s|%s|%d", p.Name, p.Rate, p.Key)
		s.limitersMu.Lock()
		l := s.limiters[id]
		if l == nil {
			var err error
			if l, err = limit.NewRateLimiter(p.Name, p.Rate, limit.Options{}); err != nil {
				s.limitersMu.Unlock()
				return nil, fmt.Errorf("limit %s: %w", name, err)
			}
			if s.limiters == nil {
				s.limiters = map[string]*limit.RateLimiter{}
			}
			s.limiters[id] = l
		}
		s.limitersMu.Unlock()
		out = append(out, &gate.RateLimit{Name: p.Name, Key: p.Key, Limiter: l})
	}
	return out, nil
}
