package cache

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// t0 is the tests' epoch: every time is explicit.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func date(sec int) string { return string(AppendHTTPDate(nil, at(sec))) }

// fields adds "Name: value" strings to h.
func fields(h *httpmsg.Header, kv []string) {
	for _, f := range kv {
		name, value, _ := strings.Cut(f, ":")
		h.AddString(name, strings.TrimSpace(value))
	}
}

// newReq builds an absolute-form request for url ("http://host[:port]/path").
func newReq(method, url string, kv ...string) *httpmsg.RequestHead {
	h := &httpmsg.RequestHead{}
	h.Method = []byte(method)
	h.Form = httpmsg.AbsoluteForm
	scheme, rest, _ := strings.Cut(url, "://")
	authority, path, _ := strings.Cut(rest, "/")
	h.Scheme = []byte(scheme)
	h.Authority = []byte(authority)
	host, port, _, err := httpmsg.SplitAuthority(h.Authority)
	if err != nil {
		panic(err)
	}
	h.Host = []byte(strings.ToLower(string(host)))
	h.Port = port
	if h.Port == 0 {
		h.Port = httpmsg.DefaultPort(h.Scheme)
	}
	h.Path = []byte("/" + path)
	h.Version = httpmsg.HTTP11
	fields(&h.Header, kv)
	return h
}

func newResp(status int, kv ...string) *httpmsg.ResponseHead {
	h := &httpmsg.ResponseHead{Version: httpmsg.HTTP11, Status: status}
	h.SetReasonString("R")
	fields(&h.Header, kv)
	return h
}

func newCache(t testing.TB, o Options) *Cache {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// lookup runs Lookup at sec.
func lookup(c *Cache, h *httpmsg.RequestHead, sec int) *Result {
	res := &Result{}
	c.Lookup(context.Background(), &Request{Head: h, Now: at(sec)}, res)
	return res
}

// fill plays the upstream for a Forward: response head at sec, content
// body, and returns the outcome.
func fill(t testing.TB, res *Result, resp *httpmsg.ResponseHead, body string, sec int) Outcome {
	t.Helper()
	if res.Action != Forward || res.Fill == nil {
		t.Fatalf("want Forward with a Fill, got action %d fill %v (%+v)", res.Action, res.Fill != nil, res.Status)
	}
	out := res.Fill.Response(resp, ResponseTimes{at(sec), at(sec)}, res)
	if out == Store {
		_, _ = res.Fill.Write([]byte(body))
		if err := res.Fill.Commit(); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	return out
}

// store makes the cache hold resp/body for req, received at sec.
func store(t testing.TB, c *Cache, req *httpmsg.RequestHead, resp *httpmsg.ResponseHead, body string, sec int) {
	t.Helper()
	res := lookup(c, req, sec)
	if out := fill(t, res, resp, body, sec); out != Store {
		t.Fatalf("not stored: outcome %d", out)
	}
}

// content reads an Answer's content.
func content(t testing.TB, res *Result) string {
	t.Helper()
	var b strings.Builder
	if _, err := res.WriteBody(&b); err != nil && err != io.EOF {
		t.Fatalf("body: %v", err)
	}
	return b.String()
}

func statusOf(c *Cache, res *Result) string {
	return string(res.Status.Append(nil, c.o.Name))
}
