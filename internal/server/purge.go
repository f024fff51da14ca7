package server

import (
	"context"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/admin"
	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/limit/cluster"
)

// Purges reach every instance of a cluster: a purge through the admin API
// or a PURGE request removes what this instance stores, then is published
// on the cluster's "purge" channel, and every other instance applies it
// to its own cache. Pub/sub delivers to those connected at the time; an
// instance cut off from Redis misses the purges of that time (its
// responses then expire as their freshness says).

const purgeChannel = "purge"

// broadcastPurger purges a cache and tells the cluster.
type broadcastPurger struct {
	c *cache.Cache
	s *Server
}

var _ admin.Cache = broadcastPurger{}

func (p broadcastPurger) PurgeURL(rawURL string) (int, error) {
	n, err := p.c.PurgeURL(rawURL)
	if err == nil {
		p.s.publishPurge("url", rawURL)
	}
	return n, err
}

func (p broadcastPurger) PurgePrefix(prefix string) (int, error) {
	n, err := p.c.PurgePrefix(prefix)
	if err == nil {
		p.s.publishPurge("prefix", prefix)
	}
	return n, err
}

func (p broadcastPurger) PurgeTag(tag string) int {
	n := p.c.PurgeTag(tag)
	p.s.publishPurge("tag", tag)
	return n
}

func (p broadcastPurger) Stats() cache.Stats { return p.c.Stats() }

// purger is what purges c: c itself, or with a cluster, c and the cluster.
func (s *Server) purger(c *cache.Cache) broadcastPurger { return broadcastPurger{c: c, s: s} }

// adminCache is the admin API's view of the current cache.
func (s *Server) adminCache() admin.Cache {
	c := s.Cache()
	if c == nil {
		return nil
	}
	return s.purger(c)
}

// publishPurge tells the other instances; without a cluster it does
// nothing. A Redis that does not answer costs the purge at most the
// cluster's publish timeout, and is logged.
func (s *Server) publishPurge(kind, arg string) {
	s.clusterMu.Lock()
	c := s.cluster
	s.clusterMu.Unlock()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := c.Publish(ctx, purgeChannel, kind+" "+arg); err != nil {
		s.log.Warn("cluster: purge not broadcast", "kind", kind, "arg", arg, "err", err)
	}
}

// subscribePurges applies the purges other instances publish, until ctx
// ends.
func (s *Server) subscribePurges(ctx context.Context, c *cluster.Client) {
	c.Subscribe(ctx, purgeChannel, func(from, msg string) {
		if from == c.Instance() {
			return
		}
		ch := s.Cache()
		if ch == nil {
			return
		}
		kind, arg, _ := strings.Cut(msg, " ")
		var n int
		var err error
		switch kind {
		case "url":
			n, err = ch.PurgeURL(arg)
		case "prefix":
			n, err = ch.PurgePrefix(arg)
		case "tag":
			n = ch.PurgeTag(arg)
		default:
			s.log.Warn("cluster: unknown purge message", "from", from, "msg", msg)
			return
		}
		if err != nil {
			s.log.Warn("cluster: purge from another instance failed", "from", from, "kind", kind, "arg", arg, "err", err)
			return
		}
		s.log.Info("cluster: purge from another instance", "from", from, "kind", kind, "arg", arg, "removed", n)
	})
}
