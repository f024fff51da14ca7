package forward

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSmokeGET(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello " + r.Host + " " + r.Header.Get("Via")))
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	cl := p.client(t)
	for i := 0; i < 3; i++ {
		resp, err := cl.Get(origin.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("%d %q %v", resp.StatusCode, b, resp.Header)
	}
	t.Logf("%+v", p.access.last(t))
}
