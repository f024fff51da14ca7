package http1

import (
	"bytes"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func TestWriterBuffersUntilFlushAndReleasesItsBuffer(t *testing.T) {
	var out bytes.Buffer
	var w Writer
	w.Reset(&out)
	w.WriteString("small ")
	w.Write([]byte("writes"))
	if out.Len() != 0 || w.Buffered() != 12 {
		t.Fatalf("wrote early: %q, buffered %d", out.String(), w.Buffered())
	}
	if err := w.Flush(); err != nil || out.String() != "small writes" {
		t.Fatalf("%v %q", err, out.String())
	}
	w.Release()
	if w.buf != nil || w.pooled != nil {
		t.Fatal("buffer kept after Release")
	}
	// A write longer than the buffer goes straight through.
	big := strings.Repeat("b", 2*BufferSize)
	w.WriteString("x")
	w.Write([]byte(big))
	w.Flush()
	if out.String() != "small writesx"+big {
		t.Fatal("big write mangled")
	}
}

func TestWriterSerializesHeadsLongerThanTheBuffer(t *testing.T) {
	var out bytes.Buffer
	var w Writer
	w.Reset(&out)
	var h httpmsg.ResponseHead
	h.Version = httpmsg.HTTP11
	h.Status = 200
	long := strings.Repeat("v", 3*BufferSize)
	h.Header.AddString("X-Long", long)
	w.WriteResponseHead(&h)
	w.WriteString("body")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\n\r\nbody"
	if out.String() != want {
		t.Fatalf("got %d bytes, want %d", out.Len(), len(want))
	}
	// And it is back to a pooled buffer afterwards.
	w.WriteString("again")
	if cap(w.buf) != BufferSize {
		t.Fatalf("cap %d after a long head", cap(w.buf))
	}
}
