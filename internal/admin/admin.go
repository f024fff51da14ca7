// Package admin serves Janus's admin API and its live dashboard: JSON
// endpoints over the running server (status, config, listeners, upstreams,
// users, cache, traffic quotas, reload, errors, live views), a Server-Sent
// Events stream of the traffic, health and readiness probes, Prometheus
// metrics, and the embedded dashboard page. It is an http.Handler; the
// server owns the admin listener and keeps it across reloads.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/live"
	"github.com/janus-proxy/janus/internal/metrics"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Server is what the admin API reads and drives. *server.Server
// implements it; every method is safe for concurrent use and reads the
// current generation.
type Server interface {
	Config() *config.Config
	Generation() int
	Started() time.Time
	// Ready reports whether the server serves and is not shutting down.
	Ready() bool
	Listeners() []Listener
	Upstreams() []upstream.HostStats
	// Users is the user database of the current config; nil without users.
	Users() *gate.Users
	Live() *live.Live
	Metrics() *metrics.Metrics
	// ReloadConfigFile loads the config file again and swaps it in, as
	// SIGHUP does.
	ReloadConfigFile() error
}

// Listener is one listener as GET /api/listeners shows it.
type Listener struct {
	Name      string   `json:"name"`
	Address   string   `json:"address"`
	Protocols []string `json:"protocols"`
	TLS       bool     `json:"tls"`
	// Connections and Tunnels are open now, over every generation.
	Connections int64 `json:"connections"`
	Tunnels     int64 `json:"tunnels"`
}

// Cache is the cache as the admin API uses it; *cache.Cache implements it.
type Cache interface {
	PurgeURL(rawURL string) (int, error)
	PurgePrefix(prefix string) (int, error)
	PurgeTag(tag string) int
	Stats() cache.Stats
}

var _ Cache = (*cache.Cache)(nil)

// cacheSource is the accessor the server has when a cache is wired in.
type cacheSource interface{ Cache() *cache.Cache }

// Options configure a Handler.
type Options struct {
	// Server is required.
	Server Server
	// Version is shown by /api/status; "" reads "unknown".
	Version string
	// Cache returns the cache, nil when it is off. Nil means: ask
	// Server for a Cache() *cache.Cache method.
	Cache func() Cache
	// Logger receives reloads and purges done through the API; nil
	// discards.
	Logger *slog.Logger
}

// Handler is the admin API and dashboard.
type Handler struct {
	o   Options
	mux *http.ServeMux
}

// New returns the admin handler.
func New(o Options) *Handler {
	if o.Version == "" {
		o.Version = "unknown"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Cache == nil {
		o.Cache = func() Cache {
			if cs, ok := o.Server.(cacheSource); ok {
				if c := cs.Cache(); c != nil {
					return c
				}
			}
			return nil
		}
	}
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.routes()
	return h
}

// route is one endpoint: its method and whether it needs credentials.
type route struct {
	method string
	auth   bool
	fn     http.HandlerFunc
}

func (h *Handler) routes() {
	api := map[string]route{
		"/api/status":        {http.MethodGet, true, h.status},
		"/api/config":        {http.MethodGet, true, h.config},
		"/api/listeners":     {http.MethodGet, true, h.listeners},
		"/api/upstreams":     {http.MethodGet, true, h.upstreams},
		"/api/users":         {http.MethodGet, true, h.users},
		"/api/cache":         {http.MethodGet, true, h.cacheStats},
		"/api/cache/purge":   {http.MethodPost, true, h.purge},
		"/api/quotas":        {http.MethodGet, true, h.quotaList},
		"/api/quotas/credit": {http.MethodPost, true, h.credit},
		"/api/reload":        {http.MethodPost, true, h.reload},
		"/api/errors":        {http.MethodGet, true, h.errors},
		"/api/live":          {http.MethodGet, true, h.live},
		"/api/events":        {http.MethodGet, true, h.events},
		"/metrics":           {http.MethodGet, true, h.metrics},
		// Probes carry no data and orchestrators rarely hold credentials.
		"/healthz": {http.MethodGet, false, h.healthz},
		"/readyz":  {http.MethodGet, false, h.readyz},
	}
	for path, r := range api {
		h.mux.Handle(path, h.guard(r))
	}
	// Go's profiler (as Caddy's admin endpoint has it), behind the same
	// credentials: CPU and heap profiles of a live server, and the
	// profile the build optimises with (cmd/janus/default.pgo).
	h.mux.Handle("/debug/pprof/", h.guard(route{http.MethodGet, true, pprof.Index}))
	for name, fn := range map[string]http.HandlerFunc{
		"cmdline": pprof.Cmdline, "profile": pprof.Profile, "symbol": pprof.Symbol, "trace": pprof.Trace,
	} {
		h.mux.Handle("/debug/pprof/"+name, h.guard(route{http.MethodGet, true, fn}))
	}
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if h.authorized(w, r) {
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
		}
	})
	// The page and its assets hold no data: they load without
	// credentials and ask for them when the API refuses.
	h.mux.Handle("/", h.guard(route{http.MethodGet, false, h.dashboard}))
}

// guard checks the client's address, the method and the credentials.
func (h *Handler) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.method != r.Method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", rt.method)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+"; use "+rt.method)
			return
		}
		if rt.auth && !h.authorized(w, r) {
			return
		}
		rt.fn(w, r)
	})
}

// ServeHTTP refuses clients outside admin.allow before anything else.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !h.o.Server.Config().AdminAllow().Contains(ap.Addr().Unmap()) {
		writeError(w, http.StatusForbidden, "client "+r.RemoteAddr+" is not in admin.allow")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// authorized checks the credentials when the config asks for some, and
// writes the 401 otherwise.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	a := h.o.Server.Config().Admin
	if a == nil || !a.AuthRequired() {
		return true
	}
	authz := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(authz, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer") && a.Token != "":
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), []byte(a.Token)) == 1 {
			return true
		}
	case strings.EqualFold(scheme, "Basic") && (a.Basic || len(a.Users) > 0):
		if name, pass, ok := r.BasicAuth(); ok && a.AllowsUser(name) {
			if users := h.o.Server.Users(); users != nil {
				if _, err := users.Authenticate(name, pass); err == nil {
					return true
				}
			}
		}
	}
	var want []string
	if a.Token != "" {
		want = append(want, "Authorization: Bearer <admin.token>")
	}
	if a.Basic || len(a.Users) > 0 {
		want = append(want, "Basic credentials of an admin user")
		// The dashboard asks for credentials itself; a browser's own
		// prompt would get in its way.
		if r.Header.Get("X-Janus-Dashboard") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="janus admin", charset="UTF-8"`)
		}
	} else if r.Header.Get("X-Janus-Dashboard") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="janus admin"`)
	}
	msg := "authentication required: send " + strings.Join(want, " or ")
	if authz != "" {
		msg = "bad credentials: send " + strings.Join(want, " or ")
	}
	writeError(w, http.StatusUnauthorized, msg)
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// errorBody is every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}
