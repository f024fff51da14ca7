package limit

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestKeyPartsOfDifferentKindsNeverCollide(t *testing.T) {
	var a, b [64]byte
	tests := []struct {
		desc string
		x, y []byte
	}{
		{"user and group of the same name", AppendString(a[:0], KindUser, "bob"), AppendString(b[:0], KindGroup, "bob")},
		{"compound keys split differently", AppendString(AppendString(a[:0], KindRoute, "a"), KindUser, "bc"),
			AppendString(AppendString(b[:0], KindRoute, "ab"), KindUser, "c")},
		{"IPv4 and the IPv6 address with the same leading bytes", AppendIP(a[:0], netip.MustParseAddr("1.2.3.4"), 0, 0),
			AppendIP(b[:0], netip.MustParseAddr("102:304::"), 32, 32)},
		{"different prefixes", AppendIP(a[:0], netip.MustParseAddr("10.0.0.1"), 24, 0), AppendIP(b[:0], netip.MustParseAddr("10.0.0.1"), 16, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if bytes.Equal(tt.x, tt.y) {
				t.Errorf("keys collide: %q", tt.x)
			}
		})
	}
}

func TestKeyIPMasksToPrefix(t *testing.T) {
	tests := []struct {
		desc, a, b   string
		bits4, bits6 int
		same         bool
	}{
		{"IPv4 /24 groups a subnet", "192.0.2.1", "192.0.2.200", 24, 64, true},
		{"IPv4 /32 keeps hosts apart", "192.0.2.1", "192.0.2.2", 32, 64, false},
		{"IPv6 /64 groups one host's addresses", "2001:db8::1", "2001:db8::ffff:1", 24, 64, true},
		{"IPv6 /64 keeps networks apart", "2001:db8:0:1::1", "2001:db8:0:2::1", 24, 64, false},
		{"IPv4-mapped IPv6 is IPv4", "::ffff:192.0.2.1", "192.0.2.1", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var a, b [64]byte
			x := AppendIP(a[:0], netip.MustParseAddr(tt.a), tt.bits4, tt.bits6)
			y := AppendIP(b[:0], netip.MustParseAddr(tt.b), tt.bits4, tt.bits6)
			if bytes.Equal(x, y) != tt.same {
				t.Errorf("%s vs %s: same=%v, want %v", FormatKey(x), FormatKey(y), !tt.same, tt.same)
			}
		})
	}
}

func TestFormatKey(t *testing.T) {
	tests := []struct {
		desc string
		key  []byte
		want string
	}{
		{"ip prefix and user", AppendString(AppendIP(nil, netip.MustParseAddr("192.0.2.9"), 24, 64), KindUser, "bob"), "ip=192.0.2.0/24 user=bob"},
		{"whole IPv6", AppendIP(nil, netip.MustParseAddr("2001:db8::1"), 0, 0), "ip=2001:db8::1"},
		{"odd header value is quoted", AppendBytes(nil, KindHeader, []byte("a\x00b")), `header="a\x00b"`},
		{"truncated key", []byte{'u', 9, 'x'}, `"\tx"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := FormatKey(tt.key); got != tt.want {
				t.Errorf("FormatKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyLongValueIsCut(t *testing.T) {
	k := AppendString(nil, KindHeader, strings.Repeat("x", 10000))
	if len(k) > MaxKeyLen+4 {
		t.Errorf("key is %d bytes, want ≤ %d", len(k), MaxKeyLen+4)
	}
}

func TestKeyBuildingDoesNotAllocate(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8::1")
	n := testing.AllocsPerRun(1000, func() {
		var b [64]byte
		k := AppendIP(b[:0], ip, 24, 64)
		k = AppendString(k, KindUser, "alice")
		sink = len(k)
	})
	if n != 0 {
		t.Errorf("%v allocations per key, want 0", n)
	}
}

var sink int

func FuzzFormatKey(f *testing.F) {
	f.Add(AppendString(AppendIP(nil, netip.MustParseAddr("192.0.2.9"), 24, 64), KindUser, "bob"))
	f.Add(AppendIP(nil, netip.MustParseAddr("2001:db8::1"), 0, 64))
	f.Add([]byte{'i', '4', 200})
	f.Add([]byte{'u', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, key []byte) {
		_ = FormatKey(key) // must not panic
	})
}
