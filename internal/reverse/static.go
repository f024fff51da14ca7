package reverse

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// staticSpec is a compiled StaticSpec.
type staticSpec struct {
	root  string
	index []string
}

func compileStatic(s *StaticSpec) (*staticSpec, error) {
	st := &staticSpec{root: s.Root, index: s.Index}
	if st.root == "" {
		return st, errors.New("root: empty")
	}
	fi, err := os.Stat(st.root)
	if err != nil {
		return st, fmt.Errorf("root: %w", err)
	}
	if !fi.IsDir() {
		return st, fmt.Errorf("root: %s is not a directory", st.root)
	}
	if st.index == nil {
		st.index = []string{"index.html"}
	}
	for _, n := range st.index {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
			return st, fmt.Errorf("index: %q is not a file name", n)
		}
	}
	return st, nil
}

// StaticPlan is what a static route answers to one request, worked out
// from the file system and the request's conditional and range fields. The
// face writes Head, then, when File is not nil, Length bytes of File from
// Offset (sendfile fits), and finally calls Close.
type StaticPlan struct {
	// Status is 200 or 206 with a body; 304 (not modified), 301 (to the
	// directory's URL with a slash), 403, 404, 405 (not GET or HEAD), 412
	// (a precondition failed) or 416 (range not satisfiable) without one.
	Status int
	// File is open when there are bytes to send (GET with Status 200 or
	// 206 and Length > 0), else nil.
	File *os.File
	// Offset and Length are the bytes to send; Length is also the
	// Content-Length of a HEAD.
	Offset, Length int64
	// Size is the file's full size; ModTime its modification time.
	Size    int64
	ModTime time.Time
	// ContentType is chosen by the file name's extension (package mime),
	// "application/octet-stream" when it has none known.
	ContentType string
	// ETag is a strong entity tag (RFC 9110 §8.8.3) made of the size and
	// modification time, as nginx makes it.
	ETag string
	// Location is set for 301.
	Location []byte
}

// Close closes File, if any. It is safe on every plan.
func (sp *StaticPlan) Close() error {
	if sp.File == nil {
		return nil
	}
	err := sp.File.Close()
	sp.File = nil
	return err
}

// Head fills h for the plan, after resetting it: status, Content-Length
// (except for 304), and as the status calls for Content-Type, ETag,
// Last-Modified, Accept-Ranges, Content-Range (RFC 9110 §14.4), Location
// and Allow. A face sending its own error body for a 4xx replaces
// Content-Length.
func (sp *StaticPlan) Head(h *httpmsg.ResponseHead) {
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = sp.Status
	var b [64]byte
	switch sp.Status {
	case 200, 206, 304:
		h.Header.Set("ETag", sp.ETag)
		h.Header.SetBytes("Last-Modified", sp.ModTime.UTC().AppendFormat(b[:0], httpDate))
		if sp.Status == 304 {
			return // RFC 9110 §15.4.5: no content fields
		}
		h.Header.Set("Content-Type", sp.ContentType)
		h.Header.Set("Accept-Ranges", "bytes")
		if sp.Status == 206 {
			r := append(b[:0], "bytes "...)
			r = strconv.AppendInt(r, sp.Offset, 10)
			r = append(r, '-')
			r = strconv.AppendInt(r, sp.Offset+sp.Length-1, 10)
			r = append(r, '/')
			r = strconv.AppendInt(r, sp.Size, 10)
			h.Header.SetBytes("Content-Range", r)
		}
	case 301:
		h.Header.SetBytes("Location", sp.Location)
	case 405:
		h.Header.Set("Allow", "GET, HEAD")
	case 416:
		// RFC 9110 §14.4: an unsatisfied range names the full length.
		h.Header.SetBytes("Content-Range", strconv.AppendInt(append(b[:0], "bytes */"...), sp.Size, 10))
	}
	h.Header.SetBytes("Content-Length", strconv.AppendInt(b[:0], sp.Length, 10))
}

// httpDate is the IMF-fixdate format (RFC 9110 §5.6.7).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// PlanStatic works out a static route's answer to req, whose Params Match
// returned. The file is looked up by the route's path (AppendPath),
// percent-decoded, under the route's root through os.Root: ".." and
// symbolic links can never leave the root. A directory is served by its
// first index file that exists; a directory without one is 404, as is any
// path with a segment starting with "." other than /.well-known (dotfiles
// such as .git or .env are not published by accident), and anything that
// is not a regular file.
//
// The error is for failures the face answers with 500 (the root is gone,
// out of file descriptors); the plan is then empty.
func (r *Route) PlanStatic(req *httpmsg.RequestHead, p *Params) (StaticPlan, error) {
	if r.static == nil {
		return StaticPlan{}, fmt.Errorf("reverse: route %s is not a static route", r.Name)
	}
	if string(req.Method) != "GET" && string(req.Method) != "HEAD" {
		return StaticPlan{Status: 405}, nil
	}
	name, ok := fileName(r.AppendPath(nil, p))
	if !ok {
		return StaticPlan{Status: 404}, nil
	}
	root, err := os.OpenRoot(r.static.root)
	if err != nil {
		return StaticPlan{}, fmt.Errorf("reverse: route %s: %w", r.Name, err)
	}
	defer root.Close()

	f, fi, status, err := openRegular(root, name)
	if err != nil || status != 0 {
		return StaticPlan{Status: status}, err
	}
	if fi.IsDir() {
		f.Close()
		if name != "." && !strings.HasSuffix(name, "/") {
			// RFC 9110 §15.4.2: the directory's URL ends in a slash, so that
			// relative links in its index resolve under it.
			loc := append(append([]byte(nil), p.Path...), '/')
			if p.Query != nil {
				loc = append(append(loc, '?'), p.Query...)
			}
			return StaticPlan{Status: 301, Location: loc}, nil
		}
		f, fi, name = nil, nil, strings.TrimSuffix(name, "/")
		for _, idx := range r.static.index {
			var st int
			f, fi, st, err = openRegular(root, path.Join(name, idx))
			if err != nil {
				return StaticPlan{}, err
			}
			if st == 0 && !fi.IsDir() {
				name = path.Join(name, idx)
				break
			}
			if f != nil {
				f.Close()
			}
			f = nil
		}
		if f == nil {
			return StaticPlan{Status: 404}, nil
		}
	}
	sp := planFor(req, f, fi, name)
	if sp.Length == 0 || string(req.Method) == "HEAD" || sp.Status != 200 && sp.Status != 206 {
		f.Close()
		sp.File = nil
	}
	return sp, nil
}

// fileName turns a route path into a name under the root: percent-decoded
// (normalisation refused encoded "/", "\" and NUL), without the leading
// slash, "." for the root itself. It refuses dotfiles.
func fileName(routePath []byte) (string, bool) {
	b := make([]byte, 0, len(routePath))
	for i := 1; i < len(routePath); i++ {
		c := routePath[i]
		if c == '%' && i+2 < len(routePath) {
			c = unhex(routePath[i+1])<<4 | unhex(routePath[i+2])
			i += 2
		}
		b = append(b, c)
	}
	name := string(b)
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return "", false
		}
	}
	if name == "" {
		name = "."
	}
	return name, true
}

// openRegular opens name under root, returning a status instead of an
// error for what a client may cause (404, 403). O_NONBLOCK keeps a FIFO
// planted under the root from blocking the open; for a regular file it
// changes nothing.
func openRegular(root *os.Root, name string) (*os.File, fs.FileInfo, int, error) {
	f, err := root.OpenFile(strings.TrimSuffix(name, "/"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if st := fileErrStatus(err); st != 0 {
			return nil, nil, st, nil
		}
		return nil, nil, 0, fmt.Errorf("reverse: open %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("reverse: stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		f.Close()
		return nil, nil, 404, nil
	}
	return f, fi, 0, nil
}

// fileErrStatus maps an open error a client can cause to a status, and
// returns 0 for the others (out of descriptors, I/O errors: a 500). Not
// found, not a directory, a symbolic link loop, a name too long and an
// escape from the root (os.Root's error is not an errno) are all 404: the
// client learns nothing about what lies outside.
func fileErrStatus(err error) int {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return 404
	}
	switch errno {
	case syscall.EACCES, syscall.EPERM:
		return 403
	case syscall.ENOENT, syscall.ENOTDIR, syscall.ELOOP, syscall.ENAMETOOLONG, syscall.EINVAL:
		return 404
	}
	return 0
}
