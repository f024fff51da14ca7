package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/janus-proxy/janus/internal/limit/quota"
)

// Traffic quotas (issue 6: "visible in the admin API and dashboard"): GET
// /api/quotas lists every account's use, POST /api/quotas/credit gives one
// bytes back. The server's quota accessors are optional, found by type
// assertion as the cache's are, so Server keeps its methods and admin does
// not import the server.

// quotaSource is what a server with traffic quotas has; *server.Server
// implements it.
type quotaSource interface {
	// Quotas is every account's use, sorted by account; nil without
	// quotas.
	Quotas() []quota.Usage
	// CreditQuota gives account bytes back and returns its new use; it
	// fails for an account the config has no quota for.
	CreditQuota(account string, bytes int64) (quota.Usage, error)
}

// quotas returns the server's quota accessors, nil when it has none.
func (h *Handler) quotas() quotaSource {
	qs, _ := h.o.Server.(quotaSource)
	return qs
}

// usages is the current use of every quota, never nil.
func (h *Handler) usages() []quota.Usage {
	var us []quota.Usage
	if qs := h.quotas(); qs != nil {
		us = qs.Quotas()
	}
	if us == nil {
		us = []quota.Usage{}
	}
	return us
}

func (h *Handler) quotaList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]quota.Usage{"quotas": h.usages()})
}

// CreditRequest is POST /api/quotas/credit's body.
type CreditRequest struct {
	Account string `json:"account"` // "user:NAME" or "group:NAME"
	Bytes   int64  `json:"bytes"`   // how many bytes to give back; > 0
}

func (h *Handler) credit(w http.ResponseWriter, r *http.Request) {
	var req CreditRequest
	if err := decodeBody(r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if bad := req.check(); bad != "" {
		writeError(w, http.StatusBadRequest, bad)
		return
	}
	qs := h.quotas()
	known := false
	if qs != nil {
		for _, u := range qs.Quotas() {
			known = known || u.Account == req.Account
		}
	}
	if !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no quota for account %q", req.Account))
		return
	}
	u, err := qs.CreditQuota(req.Account, req.Bytes)
	if err != nil {
		// The input was checked, so the account went away: a reload
		// between the two calls.
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	h.o.Logger.Info("quota credited through the admin API", "account", req.Account, "bytes", req.Bytes,
		"used", u.Used, "limit", u.Limit)
	writeJSON(w, http.StatusOK, u)
}

// check returns what is wrong with req, "" when nothing is.
func (req *CreditRequest) check() string {
	kind, name, _ := strings.Cut(req.Account, ":")
	switch {
	case req.Account == "":
		return `want "account": "user:NAME" or "group:NAME"`
	case kind != "user" && kind != "group" || name == "":
		return fmt.Sprintf("account %q: want user:NAME or group:NAME", req.Account)
	case req.Bytes <= 0:
		return fmt.Sprintf(`want "bytes": a positive number of bytes, got %d`, req.Bytes)
	}
	return ""
}
