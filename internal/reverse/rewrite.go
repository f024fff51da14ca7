package reverse

// Rewrites reports whether the route changes the path sent upstream
// (StripPrefix or AddPrefix).
func (r *Route) Rewrites() bool { return r.strip != "" || r.add != "" }

// AppendPath appends the route's view of the request path to dst: the
// normalised path with StripPrefix removed and AddPrefix put in front. It
// is what a static route looks files up by and what $path means in a
// redirect. The result is in normal form.
//
// Stripping keeps a leading "/": with StripPrefix "/api", /api/x becomes
// /x, /api becomes /, and /apix (a string prefix match) becomes /x. A dot
// segment left at the front by a strip inside a segment (/api.. with
// StripPrefix "/api") is dropped, as RFC 3986 §5.2.4 drops ".." at the
// root.
func (r *Route) AppendPath(dst []byte, p *Params) []byte {
	path := p.Path
	if r.strip != "" && hasPrefix(path, r.strip) {
		path = path[len(r.strip):]
		if len(path) == 0 || path[0] != '/' {
			seg, rest := cut(path, '/')
			if string(seg) == "." || string(seg) == ".." {
				path = rest
			}
			dst = append(dst, r.add...)
			dst = append(dst, '/')
			return append(dst, path...)
		}
	}
	dst = append(dst, r.add...)
	return append(dst, path...)
}

// Target returns the request-target to send upstream for a request whose
// target as received is raw (RequestHead.Path). Without a rewrite that is
// raw itself, unchanged and not copied, as the issue asks: the origin sees
// what the client sent. With a rewrite it is AppendPath's result, then "?"
// and the query as received, appended to dst; a rewrite works on the
// normalised path so that what is stripped is exactly what was matched.
func (r *Route) Target(dst, raw []byte, p *Params) []byte {
	if !r.Rewrites() {
		return raw
	}
	dst = r.AppendPath(dst, p)
	if p.Query != nil {
		dst = append(dst, '?')
		dst = append(dst, p.Query...)
	}
	return dst
}
