package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/limit/quota"
)

// Limit is a named request-rate limit, applied where a forward listener
// or a reverse route names it (docs/limits.md).
type Limit struct {
	Rate      string `yaml:"rate"`      // "50/s", "600/m", "10000/h"
	Burst     int    `yaml:"burst"`     // requests allowed back to back; default: the count per period
	Bandwidth Size   `yaml:"bandwidth"` // bytes per second of tunnels and bodies, instead of a rate
	// Direction says which bytes a bandwidth limit counts: both (the
	// default, one bucket for the two), up (client to origin) or down.
	Direction string `yaml:"direction"`
	// Concurrency bounds what a key holds at once (tunnels and sessions
	// on a forward listener, requests in flight on a route), instead of a
	// rate.
	Concurrency int `yaml:"concurrency"`
	// Key says what is counted separately: client_ip (default), user,
	// group, host, route, header:NAME, connection (bandwidth) or global.
	Key string `yaml:"key"`
	// Users and Groups, when set, select whom the limit applies to.
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
}

// LimitPlan is a checked Limit.
type LimitPlan struct {
	Name          string
	Rate          limit.Rate // zero for a bandwidth limit
	Bandwidth     int64      // bytes per second; 0 for a rate limit
	Concurrency   int        // at once; 0 unless a concurrency limit
	Key           gate.LimitKey
	Direction     gate.Direction // of a bandwidth limit
	Header        string         // the field, for key header:NAME
	Users, Groups []string
}

// LimitPlans returns every checked limit by name.
func (c *Config) LimitPlans() map[string]LimitPlan { return c.compiled.limits }

// parseRate reads "N/s", "N/m" or "N/h" (also "N/second", "N/minute",
// "N/hour").
func parseRate(s string) (count int, per time.Duration, err error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("want a rate like 50/s, 600/m or 10000/h, not %q", s)
	}
	count, err = strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return 0, 0, fmt.Errorf("want a count of at least 1 in %q", s)
	}
	switch strings.TrimSpace(unit) {
	case "s", "second":
		per = time.Second
	case "m", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return 0, 0, fmt.Errorf("unknown period %q in %q (want s, m or h)", unit, s)
	}
	return count, per, nil
}

func (v *validator) checkLimits() {
	v.c.compiled.limits = map[string]LimitPlan{}
	for _, name := range sortedKeys(v.c.Limits) {
		l := v.c.Limits[name]
		key := "limits." + name
		plan := LimitPlan{Name: name, Users: l.Users, Groups: l.Groups}
		kinds := 0
		for _, set := range []bool{l.Rate != "", l.Bandwidth != 0, l.Concurrency != 0} {
			if set {
				kinds++
			}
		}
		switch {
		case kinds > 1:
			v.fail(key, "a limit has one of rate, bandwidth or concurrency")
			continue
		case l.Concurrency < 0:
			v.fail(key+".concurrency", "want at least 1")
			continue
		case l.Concurrency > 0:
			plan.Concurrency = l.Concurrency
		case l.Bandwidth > 0:
			plan.Bandwidth = int64(l.Bandwidth)
			switch l.Direction {
			case "", "both":
				plan.Direction = gate.BothWays
			case "up":
				plan.Direction = gate.Up
			case "down":
				plan.Direction = gate.Down
			default:
				v.fail(key+".direction", "unknown direction %q (want both, up or down)", l.Direction)
				continue
			}
		case l.Bandwidth < 0:
			v.fail(key+".bandwidth", "want a size per second above 0")
			continue
		default:
			count, per, err := parseRate(l.Rate)
			if err != nil {
				v.fail(key+".rate", "%v", err)
				continue
			}
			if l.Burst < 0 {
				v.fail(key+".burst", "want at least 0")
			}
			plan.Rate = limit.Rate{Count: count, Per: per, Burst: l.Burst}
			if err := plan.Rate.Validate(); err != nil {
				v.fail(key, "%v", err)
				continue
			}
		}
		if l.Direction != "" && plan.Bandwidth == 0 {
			v.fail(key+".direction", "direction is a setting of bandwidth limits")
			continue
		}
		switch l.Key {
		case "", "client_ip":
			plan.Key = gate.ByClientIP
		case "user":
			plan.Key = gate.ByUser
		case "host":
			plan.Key = gate.ByHost
		case "global":
			plan.Key = gate.Global
		case "connection":
			plan.Key = gate.PerConnection
		case "group":
			plan.Key = gate.ByGroup
		case "route":
			plan.Key = gate.ByRoute
		default:
			name, ok := strings.CutPrefix(l.Key, "header:")
			if !ok || name == "" || !isToken(name) {
				v.fail(key+".key", "unknown key %q (want client_ip, user, group, host, route, header:NAME, connection or global)", l.Key)
				continue
			}
			plan.Key, plan.Header = gate.ByHeader, name
		}
		if plan.Bandwidth > 0 && plan.Key == gate.ByHost {
			v.fail(key+".key", "a bandwidth limit is kept per client_ip, user, connection or global")
			continue
		}
		if plan.Concurrency > 0 && (plan.Key == gate.ByHost || plan.Key == gate.PerConnection) {
			v.fail(key+".key", "a concurrency limit is kept per client_ip, user or global")
			continue
		}
		if plan.Bandwidth == 0 && plan.Concurrency == 0 && plan.Key == gate.PerConnection {
			v.fail(key+".key", "connection is a key of bandwidth limits")
			continue
		}
		for j, u := range l.Users {
			if !v.knownUser(u) {
				v.fail(fmt.Sprintf("%s.users[%d]", key, j), "unknown user %q", u)
			}
		}
		v.c.compiled.limits[name] = plan
	}
}

// checkLimitRefs checks that every limit a listener or route names exists.
func (v *validator) checkLimitRefs() {
	for i, l := range v.c.Listeners {
		if l.Forward != nil {
			for j, name := range l.Forward.Limits {
				if _, ok := v.c.Limits[name]; !ok {
					v.fail(fmt.Sprintf("listeners[%d].forward.limits[%d]", i, j), "undefined limit %q (define it under limits)", name)
				}
			}
		}
		if l.Reverse != nil {
			for r, rt := range l.Reverse.Routes {
				for j, name := range rt.Limits {
					if _, ok := v.c.Limits[name]; !ok {
						v.fail(fmt.Sprintf("listeners[%d].reverse.routes[%d].limits[%d]", i, r, j), "undefined limit %q (define it under limits)", name)
					}
				}
			}
		}
	}
}

// Quotas are traffic quotas: bytes both ways per user or group over a
// period, kept in a bbolt file so that a restart loses nothing.
type Quotas struct {
	Store  string           `yaml:"store"`  // the bbolt file, relative to the config file
	Users  map[string]Quota `yaml:"users"`  // by user name
	Groups map[string]Quota `yaml:"groups"` // by group name: shared by the group's users
}

// Quota is one quota: limit bytes per period.
type Quota struct {
	Limit  Size   `yaml:"limit"`
	Period string `yaml:"period"` // a duration for a rolling window ("30d"), "month" (calendar, UTC) or "balance" (never resets)
}

// QuotaPlan is a checked quota: the account it charges and its plan.
type QuotaPlan struct {
	Account string // "user:NAME" or "group:NAME"
	Plan    quota.Plan
}

// QuotaPlans returns the store path ("" without quotas) and every checked
// quota, users' first.
func (c *Config) QuotaPlans() (string, []QuotaPlan) { return c.compiled.quotaStore, c.compiled.quotas }

func (v *validator) checkQuotas() {
	q := v.c.Quotas
	if q == nil {
		return
	}
	if q.Store == "" {
		v.fail("quotas.store", "quotas need a store file (where the counts survive restarts)")
		return
	}
	v.c.compiled.quotaStore = v.resolvePath(q.Store)
	add := func(kind string, all map[string]Quota) {
		for _, name := range sortedKeys(all) {
			key := "quotas." + kind + "s." + name
			p, err := quotaPlan(all[name])
			if err != nil {
				v.fail(key, "%v", err)
				continue
			}
			v.c.compiled.quotas = append(v.c.compiled.quotas, QuotaPlan{Account: kind + ":" + name, Plan: p})
		}
	}
	add("user", q.Users)
	add("group", q.Groups)
}

func quotaPlan(q Quota) (quota.Plan, error) {
	p := quota.Plan{Limit: int64(q.Limit)}
	switch q.Period {
	case "month", "monthly":
		p.Mode = quota.Monthly
	case "balance":
		p.Mode = quota.Balance
	default:
		var d Duration
		if err := d.parseScalar(q.Period); err != nil {
			return p, fmt.Errorf("period: want a duration (30d), month or balance, not %q", q.Period)
		}
		p.Mode, p.Period = quota.Rolling, d.D()
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// Cluster makes several Janus instances share their limits and quotas.
type Cluster struct {
	Redis *ClusterRedis `yaml:"redis"`
}

// ClusterRedis is the Redis the instances share.
type ClusterRedis struct {
	Addr     string   `yaml:"addr"` // host:port
	Password string   `yaml:"password"`
	DB       int      `yaml:"db"`
	Prefix   string   `yaml:"prefix"`  // starts every key; default "janus:"
	Timeout  Duration `yaml:"timeout"` // per decision; default 10ms, then the instance decides alone
}

func (v *validator) checkCluster() {
	c := v.c.Cluster
	if c == nil {
		return
	}
	if c.Redis == nil {
		v.fail("cluster", "a cluster needs redis: {addr: host:port}")
		return
	}
	if err := checkHostPort(c.Redis.Addr); err != nil {
		v.fail("cluster.redis.addr", "want host:port, not %q", c.Redis.Addr)
	}
}
