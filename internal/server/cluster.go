package server

import (
	"context"
	"fmt"
	"time"

	"github.com/janus-proxy/janus/internal/limit/cluster"
)

// The cluster client is the server's: opened with the first config that
// has a cluster section and kept across reloads; rate limiters and quotas
// made while it is open are shared through Redis, and fall back to this
// instance's own counts while Redis does not answer.

// openCluster opens the cluster client the current config names, once.
func (s *Server) openCluster(addr, password string, db int, prefix string, timeout time.Duration) (*cluster.Client, error) {
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	if s.cluster != nil {
		if addr != s.clusterAddr {
			s.log.Warn("cluster.redis.addr changed: the new address is used after a restart", "running", s.clusterAddr, "configured", addr)
		}
		return s.cluster, nil
	}
	if prefix == "" {
		prefix = "janus:"
	}
	c, err := cluster.New(cluster.Options{Addr: addr, Password: password, DB: db, Prefix: prefix, Timeout: timeout,
		Logger: s.log.With("part", "cluster")})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s.cluster, s.clusterAddr = c, addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.clusterStop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		s.subscribePurges(ctx, c)
	}()
	return c, nil
}

func (s *Server) closeCluster() {
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	if s.cluster != nil {
		s.clusterStop()
		_ = s.cluster.Close()
		s.cluster = nil
	}
}

// buildCluster opens the config's cluster client, if it has one.
func (g *generation) buildCluster() error {
	c := g.cfg.Cluster
	if c == nil || c.Redis == nil {
		return nil
	}
	r := c.Redis
	cl, err := g.srv.openCluster(r.Addr, r.Password, r.DB, r.Prefix, r.Timeout.D())
	if err != nil {
		return err
	}
	g.cluster = cl
	return nil
}
