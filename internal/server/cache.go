package server

import (
	"reflect"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/httpface"
)

// sharedCache is the HTTP cache generations share while the config keeps
// its options: a reload with the same cache section keeps every stored
// response. The last generation to let go closes it (which waits for the
// objects queued for the disk).
type sharedCache struct {
	c    *cache.Cache
	opts cache.Options
	refs atomic.Int64
}

func (sc *sharedCache) acquire() *sharedCache {
	if sc != nil {
		sc.refs.Add(1)
	}
	return sc
}

func (sc *sharedCache) release() {
	if sc != nil && sc.refs.Add(-1) == 0 {
		_ = sc.c.Close()
	}
}

// sameCacheOptions reports whether two option sets make the same cache.
func sameCacheOptions(a, b cache.Options) bool {
	a.Logger, b.Logger = nil, nil
	return reflect.DeepEqual(a, b)
}

// buildCache gives g the cache its config asks for: prev's when the options
// are unchanged, else a new one (the old one lives on until the
// generations using it are gone). A new cache on the same disk directory
// as a live one shares its files; changing the options of a disk cache is
// best done with a restart.
func (g *generation) buildCache(prev *generation) error {
	o, ok := g.cfg.CacheOptions()
	if !ok {
		return nil
	}
	if prev != nil && prev.cache != nil && sameCacheOptions(prev.cache.opts, o) {
		g.cache = prev.cache.acquire()
		return nil
	}
	o.Logger = g.srv.log.With("component", "cache")
	c, err := cache.New(o)
	if err != nil {
		return err
	}
	g.cache = &sharedCache{c: c, opts: o}
	g.cache.refs.Store(1)
	g.srv.log.Info("cache ready", "cache", c.String())
	return nil
}

// httpCache is the cache g's faces use, nil without one.
func (g *generation) httpCache() *cache.Cache {
	if g.cache == nil {
		return nil
	}
	return g.cache.c
}

// cacheOptions points a listener's HTTP face at the cache, for the forward
// face and the routes that opted in with `cache: on`.
func (g *generation) cacheOptions(o *httpface.Options, lc *config.Listener, forward bool) {
	c := g.httpCache()
	if c == nil {
		return
	}
	o.Cache = &httpface.CacheOptions{Cache: c, Status: g.cache.opts.CacheStatus, Purge: g.cfg.PurgeAllowed(), Purger: g.srv.purger(c)}
	o.Cache.Forward = forward && lc.Forward != nil && lc.Forward.Cache.On
	if o.Cache.Forward {
		o.Cache.ForwardRules = lc.Forward.Cache.Rules()
	}
	if lc.Reverse != nil {
		for j, rt := range lc.Reverse.Routes {
			if rt.Cache.On {
				for len(o.Cache.Routes) <= j {
					o.Cache.Routes = append(o.Cache.Routes, false)
					o.Cache.RouteRules = append(o.Cache.RouteRules, nil)
				}
				o.Cache.Routes[j] = true
				o.Cache.RouteRules[j] = rt.Cache.Rules()
			}
		}
	}
}

// Cache returns the HTTP cache of the config being served, nil when the
// config has none. The admin API reads its Stats and purges through it.
func (s *Server) Cache() *cache.Cache {
	g := s.cur.Load()
	if g == nil {
		return nil
	}
	return g.httpCache()
}

// cacheCollector exports the current cache's statistics at scrape time.
type cacheCollector struct {
	s                                        *Server
	hits, misses, stale, bypassed            *prometheus.Desc
	revalidations, collapsed, stored, purged *prometheus.Desc
	objects, size                            *prometheus.Desc
}

func newCacheCollector(s *Server) *cacheCollector {
	return &cacheCollector{
		s:             s,
		hits:          prometheus.NewDesc("janus_cache_hits_total", "Requests answered from the cache without going upstream (stale answers included).", nil, nil),
		misses:        prometheus.NewDesc("janus_cache_misses_total", "Requests that went upstream with no usable stored response.", nil, nil),
		stale:         prometheus.NewDesc("janus_cache_stale_total", "Stale responses served (max-stale, stale-while-revalidate, stale-if-error, grace).", nil, nil),
		bypassed:      prometheus.NewDesc("janus_cache_bypassed_total", "Requests the cache did not handle (method, preconditions).", nil, nil),
		revalidations: prometheus.NewDesc("janus_cache_revalidations_total", "Stored responses refreshed by a 304 from upstream.", nil, nil),
		collapsed:     prometheus.NewDesc("janus_cache_collapsed_total", "Requests served by another request's upstream fetch (request collapsing).", nil, nil),
		stored:        prometheus.NewDesc("janus_cache_stored_total", "Responses stored.", nil, nil),
		purged:        prometheus.NewDesc("janus_cache_purged_total", "Stored responses removed by purges and invalidations.", nil, nil),
		objects:       prometheus.NewDesc("janus_cache_objects", "Objects stored, by tier.", []string{"tier"}, nil),
		size:          prometheus.NewDesc("janus_cache_bytes", "Bytes stored, by tier.", []string{"tier"}, nil),
	}
}

func (cc *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cc.hits, cc.misses, cc.stale, cc.bypassed, cc.revalidations, cc.collapsed, cc.stored, cc.purged, cc.objects, cc.size} {
		ch <- d
	}
}

func (cc *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	c := cc.s.Cache()
	if c == nil {
		return
	}
	st := c.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter(cc.hits, st.Hits)
	counter(cc.misses, st.Misses)
	counter(cc.stale, st.StaleServed)
	counter(cc.bypassed, st.Bypassed)
	counter(cc.revalidations, st.Revalidations)
	counter(cc.collapsed, st.Collapsed)
	counter(cc.stored, st.Stored)
	counter(cc.purged, st.Purged)
	gauge(cc.objects, st.MemoryObjects, "memory")
	gauge(cc.objects, st.DiskObjects, "disk")
	gauge(cc.size, st.MemoryBytes, "memory")
	gauge(cc.size, st.DiskBytes, "disk")
}
