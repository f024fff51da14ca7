package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/live"
)

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies and browsers in between do not time it out.
const keepAlive = 15 * time.Second

// parseFilter reads a live.Filter from the query: face, listener, class,
// contains, and entries=0 / ticks=0 to leave a kind of event out.
func parseFilter(r *http.Request) (live.Filter, string) {
	q := r.URL.Query()
	f := live.Filter{Face: q.Get("face"), Listener: q.Get("listener"), Class: q.Get("class"), Contains: q.Get("contains")}
	if f.Face != "" && f.Face != "forward" && f.Face != "reverse" {
		return f, "face: want forward or reverse, got " + strconv.Quote(f.Face)
	}
	for _, p := range []struct {
		name string
		off  *bool
	}{{"entries", &f.NoEntries}, {"ticks", &f.NoTicks}} {
		if v := q.Get(p.name); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return f, p.name + ": want true or false, got " + strconv.Quote(v)
			}
			*p.off = !on
		}
	}
	return f, ""
}

// events streams live.Subscribe as Server-Sent Events (HTML Living
// Standard §9.2): "event: entry" or "event: tick", data one JSON object.
// The stream ends when the client goes or the admin listener closes.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	f, bad := parseFilter(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	rc := http.NewResponseController(w)
	ch, cancel := h.o.Server.Live().Subscribe(f)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser waits before reconnecting.
	if _, err := w.Write([]byte("retry: 2000\n: janus live events\n\n")); err != nil {
		return
	}
	_ = rc.Flush()
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				return
			}
			data, err := json.Marshal(&ev)
			if err != nil {
				h.o.Logger.Warn("encode live event", "err", err)
				continue
			}
			buf := make([]byte, 0, len(data)+32)
			buf = append(buf, "event: "...)
			buf = append(buf, ev.Type...)
			buf = append(buf, "\ndata: "...)
			buf = append(buf, data...)
			buf = append(buf, "\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
		// Send what is pending before waiting again.
		if len(ch) == 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
