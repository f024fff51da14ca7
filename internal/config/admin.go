package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
)

// Admin configures the admin API and the dashboard: their own listener,
// served by net/http, never a proxy path.
type Admin struct {
	// Listen is host:port; empty turns the admin API off. Loopback unless
	// Token, Basic or Users protect it.
	Listen string `yaml:"listen"`
	// Token, when set, is accepted as "Authorization: Bearer <token>".
	Token string `yaml:"token"`
	// Basic accepts HTTP Basic credentials of any user of the users
	// section; Users accepts only the named ones (and implies Basic).
	Basic bool     `yaml:"basic"`
	Users []string `yaml:"users"`
	// Allow lists the clients (CIDRs, addresses, set names) that may
	// connect at all; default [loopback].
	Allow []string `yaml:"allow"`
}

// AuthRequired reports whether requests must carry credentials.
func (a *Admin) AuthRequired() bool { return a.Token != "" || a.Basic || len(a.Users) > 0 }

// AllowsUser reports whether the user name may use the admin API with
// Basic credentials.
func (a *Admin) AllowsUser(name string) bool {
	if len(a.Users) == 0 {
		return a.Basic
	}
	return oneOf(name, a.Users...)
}

// AdminAllow returns the clients that may reach the admin API.
func (c *Config) AdminAllow() addrset.Set { return c.compiled.adminAllow }

func (v *validator) checkAdmin() {
	a := v.c.Admin
	loopback, _ := addrset.Named("loopback")
	v.c.compiled.adminAllow = loopback
	if a == nil || a.Listen == "" {
		return
	}
	norm, err := normaliseListen(a.Listen)
	if err != nil {
		v.fail("admin.listen", "%v", err)
		return
	}
	for i := range v.c.Listeners {
		if n, err := normaliseListen(v.c.Listeners[i].Listen); err == nil && n == norm && !strings.HasSuffix(n, ":0") {
			v.fail("admin.listen", "address %s already used by listeners[%d]", a.Listen, i)
		}
	}
	ap := netip.MustParseAddrPort(norm)
	if !ap.Addr().IsLoopback() && !a.AuthRequired() {
		v.fail("admin.listen", "%s is not loopback: set admin.token, admin.basic or admin.users so that not anyone on the network can reload Janus", a.Listen)
	}
	if a.Token != "" && len(a.Token) < 16 {
		v.fail("admin.token", "too short (%d characters): use at least 16 random characters", len(a.Token))
	}
	if (a.Basic || len(a.Users) > 0) && len(v.c.compiled.users) == 0 {
		key := "admin.basic"
		if len(a.Users) > 0 {
			key = "admin.users"
		}
		v.fail(key, "basic auth needs users: define them under `users:`")
	}
	for i, name := range a.Users {
		if len(v.c.compiled.users) > 0 && !v.knownUser(name) {
			v.fail(fmt.Sprintf("admin.users[%d]", i), "unknown user %q", name)
		}
	}
	if len(a.Allow) > 0 {
		var allow addrset.Set
		for i, entry := range a.Allow {
			s, err := addrset.Parse(entry)
			if err != nil {
				v.fail(fmt.Sprintf("admin.allow[%d]", i), "%v", err)
				continue
			}
			allow = addrset.Union(allow, s)
		}
		v.c.compiled.adminAllow = allow
	}
}
