package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/live"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Status is GET /api/status.
type Status struct {
	Version    string    `json:"version"`
	GoVersion  string    `json:"go_version"`
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	UptimeSecs float64   `json:"uptime_seconds"`
	ConfigFile string    `json:"config_file"`
	Generation int       `json:"generation"`
	Ready      bool      `json:"ready"`
}

func (h *Handler) status(w http.ResponseWriter, _ *http.Request) {
	s := h.o.Server
	started := s.Started()
	writeJSON(w, http.StatusOK, Status{
		Version: h.o.Version, GoVersion: runtime.Version(), PID: os.Getpid(), Started: started,
		UptimeSecs: time.Since(started).Round(time.Millisecond).Seconds(),
		ConfigFile: s.Config().File, Generation: s.Generation(), Ready: s.Ready(),
	})
}

func (h *Handler) config(w http.ResponseWriter, _ *http.Request) {
	cfg := h.o.Server.Config()
	view, err := redactedConfig(cfg)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	view.Generation = h.o.Server.Generation()
	writeJSON(w, http.StatusOK, view)
}

func (h *Handler) listeners(w http.ResponseWriter, _ *http.Request) {
	ls := h.o.Server.Listeners()
	if ls == nil {
		ls = []Listener{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"listeners": ls})
}

// Pool is one upstream pool in GET /api/upstreams.
type Pool struct {
	Name    string   `json:"name"`
	Healthy int      `json:"healthy"`
	Targets []Target `json:"targets"`
}

// Target is one host of a pool.
type Target struct {
	Target       string     `json:"target"`
	Addr         string     `json:"addr"`
	State        string     `json:"state"` // healthy, unhealthy, ejected
	SlowStart    bool       `json:"slow_start,omitempty"`
	Weight       int        `json:"weight"`
	InFlight     int64      `json:"in_flight"`
	LatencyMS    float64    `json:"latency_ms"`
	Failures     int        `json:"failures"`
	Ejections    int64      `json:"ejections"`
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	LastChange   time.Time  `json:"last_change"`
}

func (h *Handler) upstreams(w http.ResponseWriter, _ *http.Request) {
	byName := map[string]*Pool{}
	var pools []*Pool
	for _, hs := range h.o.Server.Upstreams() {
		p := byName[hs.Pool]
		if p == nil {
			p = &Pool{Name: hs.Pool, Targets: []Target{}}
			byName[hs.Pool] = p
			pools = append(pools, p)
		}
		t := Target{
			Target: hs.Target, Addr: hs.Addr.String(), State: strings.ToLower(hs.State.String()),
			SlowStart: hs.SlowStart, Weight: hs.Weight, InFlight: hs.InFlight,
			LatencyMS: float64(hs.Latency.Microseconds()) / 1000, Failures: hs.Failures,
			Ejections: hs.Ejections, LastChange: hs.LastChange,
		}
		if !hs.EjectedUntil.IsZero() {
			until := hs.EjectedUntil
			t.EjectedUntil = &until
		}
		if hs.State == upstream.Healthy {
			p.Healthy++
		}
		p.Targets = append(p.Targets, t)
	}
	sort.Slice(pools, func(i, j int) bool { return pools[i].Name < pools[j].Name })
	if pools == nil {
		pools = []*Pool{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pools": pools})
}

// User is one user in GET /api/users, with its traffic over the last ten
// minutes (from the live top users; zero when it is not among them).
type User struct {
	Name       string   `json:"name"`
	Groups     []string `json:"groups"`
	Configured bool     `json:"configured"`
	Requests   int64    `json:"requests"`
	Bytes      int64    `json:"bytes"`
}

func (h *Handler) users(w http.ResponseWriter, _ *http.Request) {
	var out []User
	index := map[string]int{}
	for _, u := range h.o.Server.Config().UserList() {
		groups := append([]string{}, u.Groups...)
		index[u.Name] = len(out)
		out = append(out, User{Name: u.Name, Groups: groups, Configured: true})
	}
	for _, t := range h.o.Server.Live().Snapshot().TopUsers {
		i, ok := index[t.Key]
		if !ok {
			// Authenticated elsewhere (a route's own users) or since
			// removed by a reload.
			i = len(out)
			index[t.Key] = i
			out = append(out, User{Name: t.Key, Groups: []string{}})
		}
		out[i].Requests, out[i].Bytes = t.Requests, t.Bytes
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	if out == nil {
		out = []User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// CacheStats is GET /api/cache.
type CacheStats struct {
	Hits          int64   `json:"hits"`
	Misses        int64   `json:"misses"`
	HitRatio      float64 `json:"hit_ratio"` // hits / (hits + misses); 0 before any
	StaleServed   int64   `json:"stale_served"`
	Revalidations int64   `json:"revalidations"`
	Collapsed     int64   `json:"collapsed"`
	Stored        int64   `json:"stored"`
	Purged        int64   `json:"purged"`
	Bypassed      int64   `json:"bypassed"`
	MemoryObjects int64   `json:"memory_objects"`
	MemoryBytes   int64   `json:"memory_bytes"`
	DiskObjects   int64   `json:"disk_objects"`
	DiskBytes     int64   `json:"disk_bytes"`
}

func (h *Handler) cacheStats(w http.ResponseWriter, _ *http.Request) {
	c := h.o.Cache()
	if c == nil {
		writeError(w, http.StatusNotFound, "cache off: the config has no cache")
		return
	}
	s := c.Stats()
	out := CacheStats{
		Hits: s.Hits, Misses: s.Misses, StaleServed: s.StaleServed, Revalidations: s.Revalidations,
		Collapsed: s.Collapsed, Stored: s.Stored, Purged: s.Purged, Bypassed: s.Bypassed,
		MemoryObjects: s.MemoryObjects, MemoryBytes: s.MemoryBytes, DiskObjects: s.DiskObjects, DiskBytes: s.DiskBytes,
	}
	if n := s.Hits + s.Misses; n > 0 {
		out.HitRatio = float64(s.Hits) / float64(n)
	}
	writeJSON(w, http.StatusOK, out)
}

// PurgeRequest is POST /api/cache/purge's body: exactly one field.
type PurgeRequest struct {
	URL    string `json:"url,omitempty"`    // one URL, every variant
	Prefix string `json:"prefix,omitempty"` // every URL starting with it
	Tag    string `json:"tag,omitempty"`    // every response tagged with it
}

// maxBody bounds request bodies: the API takes small JSON objects.
const maxBody = 64 << 10

// decodeBody reads a JSON object into v, strictly; an empty body leaves v
// as it is when empty is true.
func decodeBody(r *http.Request, v any, empty bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("body over %d bytes", maxBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if empty {
			return nil
		}
		return errors.New("empty body: want a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if dec.More() {
		return errors.New("bad JSON: more than one value")
	}
	return nil
}

func (h *Handler) purge(w http.ResponseWriter, r *http.Request) {
	var req PurgeRequest
	if err := decodeBody(r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	set := 0
	for _, f := range []string{req.URL, req.Prefix, req.Tag} {
		if f != "" {
			set++
		}
	}
	if set != 1 {
		writeError(w, http.StatusBadRequest, `want exactly one of "url", "prefix" or "tag"`)
		return
	}
	c := h.o.Cache()
	if c == nil {
		writeError(w, http.StatusNotFound, "cache off: the config has no cache")
		return
	}
	var n int
	var err error
	switch {
	case req.URL != "":
		n, err = c.PurgeURL(req.URL)
	case req.Prefix != "":
		n, err = c.PurgePrefix(req.Prefix)
	default:
		n = c.PurgeTag(req.Tag)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.o.Logger.Info("cache purged through the admin API", "url", req.URL, "prefix", req.Prefix, "tag", req.Tag, "purged", n)
	writeJSON(w, http.StatusOK, map[string]int{"purged": n})
}

// ReloadResult is POST /api/reload's answer.
type ReloadResult struct {
	OK         bool          `json:"ok"`
	Generation int           `json:"generation"`
	File       string        `json:"file"`
	Error      string        `json:"error,omitempty"`
	Problems   []ConfigError `json:"problems,omitempty"` // when the config does not load
}

// ConfigError is one problem of a config that does not load.
type ConfigError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
}

func (h *Handler) reload(w http.ResponseWriter, r *http.Request) {
	// No parameters yet: the body, if any, must be an empty object.
	var req struct{}
	if err := decodeBody(r, &req, true); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s := h.o.Server
	err := s.ReloadConfigFile()
	res := ReloadResult{OK: err == nil, Generation: s.Generation(), File: s.Config().File}
	if err == nil {
		h.o.Logger.Info("reloaded through the admin API", "generation", res.Generation)
		writeJSON(w, http.StatusOK, res)
		return
	}
	h.o.Logger.Error("reload through the admin API failed; the running config keeps serving", "err", err)
	res.Error = err.Error()
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			res.Problems = append(res.Problems, ConfigError{File: e.File, Line: e.Line, Key: e.Key, Message: e.Msg})
		}
		// The config file is the bad input.
		writeJSON(w, http.StatusBadRequest, res)
		return
	}
	writeJSON(w, http.StatusInternalServerError, res)
}

func (h *Handler) errors(w http.ResponseWriter, _ *http.Request) {
	snap := h.o.Server.Live().Snapshot()
	writeJSON(w, http.StatusOK, map[string][]live.Record{"errors": snap.RecentErrors, "denials": snap.RecentDenials})
}

func (h *Handler) live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.o.Server.Live().Snapshot())
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	h.o.Server.Metrics().Handler().ServeHTTP(w, r)
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !h.o.Server.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: starting or shutting down\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}
