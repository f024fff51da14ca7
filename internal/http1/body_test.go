package http1

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func readBody(in string, f Framing) (string, *Body, error) {
	r := newStringReader(in)
	var b Body
	b.Reset(r, f, 400, 0)
	got, err := io.ReadAll(&b)
	return string(got), &b, err
}

func TestChunkedBodyDecodes(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		want    string
		trailer string // "name=value" of the first trailer field
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"several chunks, upper-case hex", "5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n", "hello 0123456789", ""},
		{"extensions dropped", "5;name=value;flag\r\nhello\r\n0;last=\"q \\\" s\"\r\n\r\n", "hello", ""},
		{"extension with BWS", "5 ; a = b\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"trailers surfaced", "5\r\nhello\r\n0\r\nX-Sum: abc\r\n\r\n", "hello", "X-Sum=abc"},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""},
		{"empty body", "0\r\n\r\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, b, err := readBody(tt.in, Framing{Kind: ChunkedBody})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
			if !b.Done() || b.Count() != int64(len(tt.want)) {
				t.Errorf("done=%v count=%d", b.Done(), b.Count())
			}
			var tr string
			if b.Trailer.Len() > 0 {
				n, v := b.Trailer.Field(0)
				tr = string(n) + "=" + string(v)
			}
			if tr != tt.trailer {
				t.Errorf("trailer = %q, want %q", tr, tt.trailer)
			}
		})
	}
}

func TestChunkedBodyRefusesMalformedChunks(t *testing.T) {
	tests := []struct{ desc, in string }{
		{"huge chunk size", "fffffffffffffffffff\r\n"},
		{"chunk size overflowing int64", "8000000000000000\r\n"},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"no size", "\r\nhello\r\n0\r\n\r\n"},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n"},
		{"data longer than size", "3\r\nhello\r\n0\r\n\r\n"},
		{"missing CRLF after data", "5\r\nhello0\r\n\r\n"},
		{"LF only after data", "5\r\nhello\n0\r\n\r\n"},
		{"bad extension", "5;=x\r\nhello\r\n0\r\n\r\n"},
		{"unterminated quoted extension", "5;a=\"x\r\nhello\r\n0\r\n\r\n"},
		{"junk after size", "5 x\r\nhello\r\n0\r\n\r\n"},
		{"truncated data", "5\r\nhel"},
		{"truncated before last chunk", "5\r\nhello\r\n"},
		{"truncated trailer", "0\r\nX: y\r\n"},
		{"obs-fold in trailer", "0\r\nX: y\r\n z\r\n\r\n"},
		{"size line too long", "5;" + strings.Repeat("a", maxChunkLine) + "\r\nhello\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, b, err := readBody(tt.in, Framing{Kind: ChunkedBody})
			if err == nil {
				t.Fatalf("accepted %q", tt.in)
			}
			if StatusOf(err) != 400 {
				t.Errorf("status %d (%v)", StatusOf(err), err)
			}
			if b.Done() {
				t.Error("Done after an error")
			}
		})
	}
}

func TestLengthBodyStopsAtLengthAndLeavesTheRest(t *testing.T) {
	r := newStringReader("helloNEXT")
	var b Body
	b.Reset(r, Framing{Kind: LengthBody, Length: 5}, 400, 0)
	got, err := io.ReadAll(&b)
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	if string(r.Bytes()) != "NEXT" {
		t.Fatalf("left %q", r.Bytes())
	}
}

func TestLengthBodyTruncatedIsAnError(t *testing.T) {
	_, b, err := readBody("hel", Framing{Kind: LengthBody, Length: 5})
	if err == nil || b.Done() {
		t.Fatalf("err = %v, done = %v", err, b.Done())
	}
}

func TestCloseBodyReadsToEOF(t *testing.T) {
	got, b, err := readBody("all of it", Framing{Kind: CloseBody})
	if err != nil || got != "all of it" || !b.Done() {
		t.Fatalf("got %q, %v, done=%v", got, err, b.Done())
	}
}

func TestLargeLengthBodyStreamsThroughSmallBuffers(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	var r Reader
	r.Reset(bytes.NewReader(payload))
	var b Body
	b.Reset(&r, Framing{Kind: LengthBody, Length: int64(len(payload))}, 400, 0)
	var out bytes.Buffer
	n, err := b.WriteTo(&out)
	if err != nil || n != int64(len(payload)) || !bytes.Equal(out.Bytes(), payload) {
		t.Fatalf("n=%d err=%v equal=%v", n, err, bytes.Equal(out.Bytes(), payload))
	}
}

func TestChunkedWriterRoundTripsThroughChunkedBody(t *testing.T) {
	var wire bytes.Buffer
	var w Writer
	w.Reset(&wire)
	cw := ChunkedWriter{W: &w}
	payload := strings.Repeat("x", 3*BufferSize+17)
	for i := 0; i < len(payload); i += 1000 {
		end := min(i+1000, len(payload))
		if _, err := cw.Write([]byte(payload[i:end])); err != nil {
			t.Fatal(err)
		}
	}
	var tr Body
	tr.Trailer.AddString("X-Checksum", "42")
	if err := cw.Close(&tr.Trailer); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, b, err := readBody(wire.String(), Framing{Kind: ChunkedBody})
	if err != nil || got != payload {
		t.Fatalf("round trip: %v, len %d", err, len(got))
	}
	if string(b.Trailer.Get("x-checksum")) != "42" {
		t.Fatalf("trailer lost: %q", b.Trailer.Get("X-Checksum"))
	}
}
