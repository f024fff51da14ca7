package httpface

import (
	"encoding/base64"
	"testing"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// FuzzH2CSettings: whatever HTTP2-Settings holds, h2cSettings does not
// panic, and what it accepts is whole settings (six bytes each, RFC 7540
// §6.5.1), every one valid, that encode back to an accepted value.
func FuzzH2CSettings(f *testing.F) {
	for _, s := range []string{"", "AAMAAABkAARAAAAA", "AAMAAABkAARAAAAAAAIAAAAA", "AAMAAABkAARAAAAA==", " AAMAAABk ", "AAIAAAAC", "AAMAAA", "!!!!", "AAMAAABk+/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		var h httpmsg.Header
		h.AddString("Connection", "Upgrade, HTTP2-Settings")
		h.AddString("Upgrade", "h2c")
		h.AddString("HTTP2-Settings", value)
		p, ok := h2cSettings(&h)
		if !ok {
			return
		}
		if len(p)%6 != 0 {
			t.Fatalf("%q: accepted %d bytes", value, len(p))
		}
		for i := 0; i < len(p); i += 6 {
			st := http2.Setting{ID: http2.SettingID(uint16(p[i])<<8 | uint16(p[i+1])), Val: uint32(p[i+2])<<24 | uint32(p[i+3])<<16 | uint32(p[i+4])<<8 | uint32(p[i+5])}
			if err := st.Valid(); err != nil {
				t.Fatalf("%q: accepted %v: %v", value, st, err)
			}
		}
		var again httpmsg.Header
		again.AddString("Connection", "upgrade,http2-settings")
		again.AddString("Upgrade", "websocket, h2c")
		again.AddString("HTTP2-Settings", base64.RawURLEncoding.EncodeToString(p))
		if q, ok := h2cSettings(&again); !ok || string(q) != string(p) {
			t.Fatalf("%q: its canonical encoding decodes to %x, %v; want %x", value, q, ok, p)
		}
	})
}

// TestH2CSettingsNeedTheUpgradeFields: RFC 7540 §3.2 and §3.2.1: Upgrade
// offers h2c, Connection names Upgrade and HTTP2-Settings, and there is
// exactly one HTTP2-Settings.
func TestH2CSettingsNeedTheUpgradeFields(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		fields [][2]string
		ok     bool
	}{
		{"complete", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABk"}}, true},
		{"empty settings", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", ""}}, true},
		{"Connection in two fields", [][2]string{{"Connection", "Upgrade"}, {"Connection", "HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABk"}}, true},
		{"Upgrade to websocket", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "websocket"}, {"HTTP2-Settings", "AAMAAABk"}}, false},
		{"no Upgrade in Connection", [][2]string{{"Connection", "HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABk"}}, false},
		{"no HTTP2-Settings in Connection", [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABk"}}, false},
		{"no HTTP2-Settings", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}}, false},
		{"two HTTP2-Settings", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABk"}, {"HTTP2-Settings", "AAMAAABk"}}, false},
		{"standard base64", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AAMAAABk+/"}}, false},
		{"invalid window size", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "AASAAAAA"}}, false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var h httpmsg.Header
			for _, f := range tc.fields {
				h.AddString(f[0], f[1])
			}
			if _, ok := h2cSettings(&h); ok != tc.ok {
				t.Errorf("accepted %v, want %v", ok, tc.ok)
			}
		})
	}
}
