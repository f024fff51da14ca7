// Package reverse is the reverse face's routing logic: a compiled, immutable
// route table that picks the most specific route for a request, the path
// normalisation that matching relies on, the header rules for the request
// sent upstream and the response sent back, and the plans for the answers
// Janus gives by itself (redirects, fixed responses, static files).
//
// It works on the message model of package httpmsg and opens no connection:
// a proxy route names an upstream pool, and the face asks that pool for a
// target.
//
// # Precedence
//
// Table.Match returns the most specific route whose every condition holds,
// comparing candidates on these keys in turn (as nginx picks a server by
// host first and then a location within it):
//
//  1. Host: an exact host beats a wildcard, a longer wildcard suffix beats a
//     shorter one ("*.a.example.com" beats "*.example.com"), and any host
//     pattern beats a route without one.
//  2. Path: an exact path beats any prefix, a longer prefix beats a shorter
//     one, and any path condition beats a route without one.
//  3. Conditions: a route with more of the other conditions (methods when
//     listed count as one, each header, each query parameter, client
//     addresses when listed count as one) beats one with fewer.
//  4. Config order breaks full ties: the earlier route wins.
//
// A request falls through to less specific routes when a more specific
// one's conditions fail: "Host: api.example.com" with path /other reaches a
// catch-all route when the api.example.com routes only cover /v1/.
//
// A route with several hosts competes under each of them with that host's
// rank. A filter that must hold for every host (a 403 for /admin, say)
// therefore belongs on a route without hosts only when no host-specific
// route covers the same paths; otherwise repeat it for those hosts.
//
// # Paths
//
// Paths are matched after normalisation (see AppendNormalized): unreserved
// characters are percent-decoded, dot segments resolved and duplicate
// slashes merged, so /%61dmin, /./admin, //admin and /x/../admin all match
// a route for /admin. Encoded slashes, backslashes (encoded or not), NUL,
// malformed percent-encoding and paths that climb above the root are
// refused with 400. Matching is case-sensitive, as in nginx: /ADMIN is not
// /admin, because origins on POSIX file systems treat them as different.
//
// A path prefix is a string prefix, as nginx's location prefixes are:
// "/admin" covers /admin, /admin/x and /administrator. End the prefix with
// a slash to cover a directory only. The string form is the safer one for
// filters, since it also covers /admin;param and /admin.json.
//
// What goes upstream is the request-target as received unless the route
// rewrites it (strip or add a path prefix); a rewrite works on the
// normalised path, so that what is stripped is exactly what was matched.
package reverse
