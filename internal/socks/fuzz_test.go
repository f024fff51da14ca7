package socks

import (
	"bytes"
	"net/netip"
	"testing"
	"testing/iotest"
)

// The fuzzers check three things of every parser: it never panics, it never
// reads past the message (the rest of the input stays for the tunnel), and
// what it accepts survives encoding and parsing again unchanged.

func FuzzGreeting(f *testing.F) {
	f.Add([]byte{5, 1, 0})
	f.Add([]byte{5, 2, 0, 2})
	f.Add([]byte{5, 0})
	f.Add([]byte{4, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		s, err := ReadGreeting(r)
		if err != nil {
			return
		}
		consumed := len(in) - r.Len()
		if consumed != 2+int(in[1]) {
			t.Fatalf("consumed %d bytes of a greeting announcing %d methods", consumed, in[1])
		}
		var methods []Method
		for m := 0; m < 256; m++ {
			if s.Has(Method(m)) {
				methods = append(methods, Method(m))
			}
		}
		again, err := ReadGreeting(bytes.NewReader(AppendGreeting(nil, methods...)))
		if err != nil || again != s {
			t.Fatalf("round trip: %v, %v != %v", err, again, s)
		}
	})
}

func FuzzUserPass(f *testing.F) {
	f.Add([]byte{1, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', 'e', 'c', 'r', 'e', 't'})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{5, 1, 'a', 1, 'b'})
	f.Add([]byte{1, 255, 'x'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		u, p, err := ReadUserPass(r)
		if err != nil {
			return
		}
		enc, err := AppendUserPass(nil, u, p)
		if err != nil {
			t.Fatalf("cannot encode what was parsed: %v", err)
		}
		if consumed := len(in) - r.Len(); !bytes.Equal(enc, in[:consumed]) {
			t.Fatalf("re-encoded % x, consumed % x", enc, in[:consumed])
		}
	})
}

func FuzzRequest5(f *testing.F) {
	f.Add([]byte{5, 1, 0, 1, 127, 0, 0, 1, 0, 80})
	f.Add(append(append([]byte{5, 1, 0, 3, 9}, "localhost"...), 1, 187))
	f.Add(append([]byte{5, 3, 0, 4}, make([]byte, 18)...))
	f.Add([]byte{5, 1, 0, 2, 0, 0})
	f.Add([]byte{5, 1, 0, 3, 0, 0, 80})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		req, err := ReadRequest(r)
		if rep, addr, rerr := ReadReply(bytes.NewReader(in)); (rerr == nil) != (err == nil) ||
			(err == nil && (rep != Reply(req.Cmd) || addr != req.Addr)) {
			t.Fatalf("ReadReply disagrees with ReadRequest: %v %v %v / %+v %v", rep, addr, rerr, req, err)
		}
		if err != nil {
			return
		}
		consumed := in[:len(in)-r.Len()]
		enc, err := AppendRequest(nil, req)
		if err != nil {
			t.Fatalf("cannot encode what was parsed: %+v: %v", req, err)
		}
		if !req.Addr.IP.Is4In6() {
			want := bytes.Clone(consumed)
			want[2] = 0 // RSV is ignored on input and zero on output
			if !bytes.Equal(enc, want) {
				t.Fatalf("re-encoded % x, consumed % x", enc, consumed)
			}
		}
		again, err := ReadRequest(bytes.NewReader(enc))
		if err != nil || again.Cmd != req.Cmd || again.Addr.Name != req.Addr.Name ||
			again.Addr.Port != req.Addr.Port || again.Addr.IP != req.Addr.IP.Unmap() {
			t.Fatalf("round trip: %+v, %v != %+v", again, err, req)
		}
	})
}

func FuzzRequest4(f *testing.F) {
	f.Add([]byte{4, 1, 0, 80, 127, 0, 0, 1, 'b', 'o', 'b', 0})
	f.Add(append([]byte{4, 1, 1, 187, 0, 0, 0, 1, 0}, "localhost\x00"...))
	f.Add([]byte{4, 2, 0, 80, 0, 0, 0, 0, 0})
	f.Add([]byte{4, 1, 0, 80, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		req, err := ReadRequest4(r)
		// A reader without ReadByte takes the other path through readCString.
		slow, slowErr := ReadRequest4(iotest.OneByteReader(bytes.NewReader(in)))
		if (err == nil) != (slowErr == nil) || slow != req {
			t.Fatalf("byte reader and plain reader disagree: %+v %v / %+v %v", req, err, slow, slowErr)
		}
		if err != nil {
			return
		}
		enc, err := AppendRequest4(nil, req)
		if err != nil {
			t.Fatalf("cannot encode what was parsed: %+v: %v", req, err)
		}
		consumed := in[:len(in)-r.Len()]
		if req.Addr.Name == "" && !bytes.Equal(enc, consumed) {
			t.Fatalf("re-encoded % x, consumed % x", enc, consumed)
		}
		again, err := ReadRequest4(bytes.NewReader(enc))
		if err != nil || again != req {
			t.Fatalf("round trip: %+v, %v != %+v", again, err, req)
		}
	})
}

func FuzzUDPHeader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 127, 0, 0, 1, 0, 53, 'q'})
	f.Add([]byte{0, 0, 0, 3, 1, 'h', 0, 53})
	f.Add(append([]byte{0, 0, 0, 4}, make([]byte, 20)...))
	f.Add([]byte{0, 0, 1, 1, 1, 2, 3, 4, 0, 1, 'x'})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, payload, err := ParseUDPHeader(in)
		if err != nil {
			return
		}
		if len(payload) > len(in) || !bytes.Equal(payload, in[len(in)-len(payload):]) {
			t.Fatalf("payload is not the tail of the datagram")
		}
		enc, err := AppendUDPHeader(nil, h)
		if err != nil {
			t.Fatalf("cannot encode what was parsed: %+v: %v", h, err)
		}
		again, p2, err := ParseUDPHeader(append(enc, payload...))
		if err != nil || again.Frag != h.Frag || again.Addr.Name != h.Addr.Name ||
			again.Addr.Port != h.Addr.Port || again.Addr.IP != h.Addr.IP.Unmap() || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip: %+v %v != %+v", again, err, h)
		}
		if h.Addr.IP.IsValid() && h.Frag == 0 {
			ap := netip.AddrPortFrom(h.Addr.IP, h.Addr.Port)
			put := make([]byte, udpHeaderLen(ap))
			putUDPHeader(put, ap)
			if !bytes.Equal(put, enc) {
				t.Fatalf("putUDPHeader % x, AppendUDPHeader % x", put, enc)
			}
		}
	})
}
