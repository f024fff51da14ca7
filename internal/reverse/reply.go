package reverse

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Template is a compiled location template. Its text is copied as is,
// except for variables, written $name or ${name}:
//
//	$scheme       "http" or "https", as the client reached Janus
//	$host         the request's host, lower case, without port
//	$request_uri  the request-target as received: path and query
//	$path         the route's path (Route.AppendPath): normalised, with the
//	              route's StripPrefix and AddPrefix applied
//	$query        the query as received, without "?"
//	$is_args      "?" when the query is not empty, else nothing
//
// "$$" is a literal "$". An unknown variable is an error when the template
// is parsed, not a surprise at request time.
type Template struct {
	parts   []tmplPart
	offSite bool // written to start with "//": another host on purpose
}

type tmplVar uint8

const (
	litPart tmplVar = iota
	varScheme
	varHost
	varRequestURI
	varPath
	varQuery
	varIsArgs
)

var tmplVars = map[string]tmplVar{
	"scheme":      varScheme,
	"host":        varHost,
	"request_uri": varRequestURI,
	"path":        varPath,
	"query":       varQuery,
	"is_args":     varIsArgs,
}

type tmplPart struct {
	v   tmplVar
	lit string // for litPart
}

// ParseTemplate compiles a location template.
func ParseTemplate(s string) (Template, error) {
	var t Template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{v: litPart, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x21 || c >= 0x7f {
			// RFC 3986 §2: a URI is ASCII. Non-ASCII must be written
			// percent-encoded (paths) or in punycode (hosts, RFC 3492).
			return Template{}, fmt.Errorf("byte %#02x at %d: a location holds only visible ASCII (percent-encode the rest)", c, i)
		}
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i += 2
			continue
		}
		var name string
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return Template{}, fmt.Errorf("unclosed ${ at %d", i)
			}
			name = s[i+2 : i+2+end]
			i += 3 + end
		} else {
			j := i + 1
			for j < len(s) && (s[j] == '_' || 'a' <= s[j] && s[j] <= 'z') {
				j++
			}
			name = s[i+1 : j]
			i = j
		}
		v, ok := tmplVars[name]
		if !ok {
			return Template{}, fmt.Errorf("unknown variable $%s (want $scheme, $host, $request_uri, $path, $query or $is_args)", name)
		}
		flush()
		t.parts = append(t.parts, tmplPart{v: v})
	}
	flush()
	t.offSite = strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\")
	return t, nil
}

// TemplateInput is what a template's variables read.
type TemplateInput struct {
	Scheme string
	Req    *httpmsg.RequestHead // RequestURI is Req.Path
	Params *Params
	Route  *Route // for $path; nil means Params.Path unchanged
}

// Append appends the expanded template to dst.
//
// The result is made safe to send as a Location: any byte that is not
// visible ASCII is percent-encoded, and a leading "//" or "/\" (which a
// browser reads as another host, RFC 3986 §4.2) is cut to "/", so that
// $request_uri of "//evil.example" cannot make an open redirect. A
// template that itself starts with "//" (a scheme-relative URL to another
// host, on purpose) is left as written.
func (t *Template) Append(dst []byte, in *TemplateInput) []byte {
	start := len(dst)
	for _, p := range t.parts {
		switch p.v {
		case litPart:
			dst = append(dst, p.lit...)
		case varScheme:
			dst = append(dst, in.Scheme...)
		case varHost:
			for _, c := range in.Params.Host {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				dst = appendLocationByte(dst, c)
			}
		case varRequestURI:
			dst = appendLocationBytes(dst, in.Req.Path)
		case varPath:
			if in.Route != nil {
				dst = in.Route.AppendPath(dst, in.Params)
			} else {
				dst = append(dst, in.Params.Path...)
			}
		case varQuery:
			dst = appendLocationBytes(dst, in.Params.Query)
		case varIsArgs:
			if len(in.Params.Query) > 0 {
				dst = append(dst, '?')
			}
		}
	}
	loc := dst[start:]
	if !t.offSite && len(loc) >= 2 && loc[0] == '/' && (loc[1] == '/' || loc[1] == '\\') {
		n := 1
		for n < len(loc) && (loc[n] == '/' || loc[n] == '\\') {
			n++
		}
		dst = append(dst[:start+1], loc[n:]...)
	}
	return dst
}

func appendLocationBytes(dst, b []byte) []byte {
	for _, c := range b {
		dst = appendLocationByte(dst, c)
	}
	return dst
}

func appendLocationByte(dst []byte, c byte) []byte {
	if c < 0x21 || c >= 0x7f {
		return append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return append(dst, c)
}

// Reply is a response Janus makes by itself, described independently of
// any wire codec: the face writes Head and then Body (not for HEAD).
type Reply struct {
	Status      int
	ContentType string // "" for none
	Location    []byte // redirects only
	// Body aliases the route's configured body: never modify it.
	Body []byte
}

// Reply fills dst with the route's answer to a request, for the Redirect
// and Respond actions; it reports false for the others. in.Route is
// ignored: $path is this route's. dst.Location's
// storage is reused, so a face that keeps one Reply per connection
// renders redirects without allocating.
func (r *Route) Reply(dst *Reply, in *TemplateInput) bool {
	switch r.Action {
	case Redirect:
		ti := *in
		ti.Route = r
		*dst = Reply{Status: r.redirectStatus, Location: r.location.Append(dst.Location[:0], &ti)}
		return true
	case Respond:
		*dst = Reply{Status: r.respondStatus, ContentType: r.contentType, Body: r.body, Location: dst.Location[:0]}
		return true
	}
	return false
}

// Head fills h with the reply's status and fields: Location,
// Content-Type and Content-Length. It resets h first.
func (rp *Reply) Head(h *httpmsg.ResponseHead) {
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = rp.Status
	if len(rp.Location) > 0 {
		h.Header.SetBytes("Location", rp.Location)
	}
	if rp.ContentType != "" {
		h.Header.Set("Content-Type", rp.ContentType)
	}
	var b [20]byte
	h.Header.SetBytes("Content-Length", strconv.AppendInt(b[:0], int64(len(rp.Body)), 10))
}
