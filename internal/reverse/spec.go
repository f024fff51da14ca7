package reverse

import "time"

// RouteSpec describes one route as the config gives it. NewTable checks
// and compiles a list of them; a zero field means "no condition" or "no
// change" unless its comment says otherwise.
type RouteSpec struct {
	// Name identifies the route in logs and errors; "" names it by its
	// position ("route 3").
	Name string
	// Match holds the conditions; a route without any matches every
	// request.
	Match MatchSpec
	// Action says what to do with a matching request: exactly one of its
	// fields is set.
	Action ActionSpec

	// StripPrefix is removed from the front of the path sent upstream, or
	// used to find a static file. The route's path condition must start
	// with it, so every matching request has it.
	StripPrefix string
	// AddPrefix is put in front of the path (after StripPrefix). It must
	// start with "/" and be in normal form.
	AddPrefix string

	// Request changes the header sent upstream, after the forwarding
	// fields (X-Forwarded-*, Forwarded, X-Request-Id) are set.
	Request HeaderSpec
	// Response changes the header sent to the client, whether the
	// response came from upstream or from Janus.
	Response HeaderSpec
	// HideServer removes Server and X-Powered-By from responses, so that
	// upstream software and versions are not advertised.
	HideServer bool
	// MaxBody bounds a request's content in bytes (0: no limit); beyond it
	// the client gets 413 (RFC 9110 §15.5.14), from Content-Length before
	// anything is sent upstream, or as soon as streamed content goes past.
	MaxBody int64
	// Filter is what a request must pass to be taken by the route.
	Filter FilterSpec
	// ForwardAuth, when set, asks an auth service about each request
	// before it goes on (nginx's auth_request, Traefik's ForwardAuth).
	ForwardAuth *ForwardAuth
}

// ForwardAuth is a route's auth service: a GET to URL carrying the
// request's fields and X-Forwarded-Method/-Proto/-Host/-Uri/-For decides.
// A 2xx lets the request go on with CopyHeaders taken from the answer;
// any other answer goes back to the client as it is (a 401 with its
// WWW-Authenticate, a redirect to a login page); no answer within
// Timeout is a 500 (as nginx and Traefik do).
type ForwardAuth struct {
	URL         string
	CopyHeaders []string
	Timeout     time.Duration
}

// MatchSpec holds a route's conditions. Every condition given must hold.
type MatchSpec struct {
	// Hosts lists the hosts served: exact names ("example.com") or one
	// leading wildcard label ("*.example.com" covers a.example.com and
	// a.b.example.com, not example.com). Case is ignored, a port in the
	// request's Host is ignored, and so is one trailing dot. "*" or an
	// empty list serves any host, even a request without one.
	Hosts []string
	// Path is an exact path; PathPrefix a string prefix (see the package
	// doc). At most one is set; both must start with "/" and be in normal
	// form (AppendNormalized leaves them unchanged).
	Path       string
	PathPrefix string
	// Methods lists request methods, matched case-sensitively (RFC 9110
	// §9.1: "get" is not GET).
	Methods []string
	// Headers are request fields that must be present, each with an exact
	// value or a value matching a regular expression when given.
	Headers []FieldMatch
	// Query are query parameters that must be present, each with an exact
	// value or a value matching a regular expression when given. Names
	// and values are compared after percent-decoding, with "+" read as a
	// space (application/x-www-form-urlencoded), as origins read them.
	Query []FieldMatch
	// Clients lists client addresses: CIDRs, single addresses, or the
	// names of package addrset's built-in sets ("private", "loopback").
	Clients []string
}

// FieldMatch is a condition on one header field or query parameter. Any
// one field or parameter of that name satisfying it is enough.
type FieldMatch struct {
	// Name is the field or parameter name; header names ignore case,
	// query names do not.
	Name string
	// Value, when not empty, is the exact value required (case-sensitive).
	Value string
	// Regex, when not empty, is an RE2 expression (package regexp) the
	// whole value must match: it is anchored at both ends. To require an
	// empty value, use "^$". At most one of Value and Regex is set; with
	// neither, the field need only be present.
	Regex string
}

// ActionSpec is what a route does. Exactly one field is set.
type ActionSpec struct {
	// Upstream names the pool a matching request is proxied to. The
	// table does not know the pools; the server checks that it exists.
	Upstream string
	Redirect *RedirectSpec
	Respond  *RespondSpec
	Static   *StaticSpec
}

// RedirectSpec answers with a redirect.
type RedirectSpec struct {
	// Status is 301, 302, 303, 307 or 308; 0 means 302.
	Status int
	// Location is a template (see Template for its variables), for
	// example "https://$host$request_uri".
	Location string
}

// RespondSpec answers with a fixed response.
type RespondSpec struct {
	// Status is between 200 and 599; 0 means 200.
	Status int
	// Body is sent as it is; it may be empty.
	Body string
	// ContentType labels a non-empty body; "" means
	// "text/plain; charset=utf-8".
	ContentType string
}

// StaticSpec serves files from a directory.
type StaticSpec struct {
	// Root is the directory; files are looked up under it by the request
	// path (after StripPrefix and AddPrefix) and can never be outside it,
	// through ".." or a symbolic link.
	Root string
	// Index lists the files tried, in order, for a path ending in "/";
	// nil means ["index.html"].
	Index []string
}

// HeaderSpec changes a header: Remove first, then Set (replace every field
// of the name with one), then Add (append a field).
type HeaderSpec struct {
	Remove []string
	Set    []Field
	Add    []Field
}

// Field is one header field to set or add.
type Field struct {
	Name  string
	Value string
}
