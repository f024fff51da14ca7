package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
)

// scalar is a config value written as one YAML scalar and parsed by the
// type itself, so the decoder can report a bad value with its line.
type scalar interface {
	parseScalar(s string) error
}

// Duration is a time span written like "5s", "1m30s" or "250ms".
type Duration time.Duration

// longUnits are the units Go's durations lack but configs want (HSTS,
// ejection caps): whole days, weeks and years, as nginx writes them.
var longUnits = map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}

func (d *Duration) parseScalar(s string) error {
	t := strings.TrimSpace(s)
	if n := len(t); n > 1 && longUnits[t[n-1]] != 0 {
		if k, err := strconv.ParseUint(t[:n-1], 10, 16); err == nil {
			*d = Duration(time.Duration(k) * longUnits[t[n-1]])
			return nil
		}
	}
	v, err := time.ParseDuration(t)
	if err != nil {
		return fmt.Errorf("bad duration %q: want a number with a unit, like 10s, 1m30s or 7d", s)
	}
	if v < 0 {
		return fmt.Errorf("bad duration %q: must not be negative", s)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

func (d Duration) String() string { return time.Duration(d).String() }

// Size is a byte count written like "64KiB", "10MB", "1GiB" or "4096".
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

func (z *Size) parseScalar(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) || n*float64(mult) > math.MaxInt64/2 {
		return fmt.Errorf("bad size %q: want a number with an optional unit, like 64KiB or 10MB", s)
	}
	*z = Size(n * float64(mult))
	return nil
}

// Or returns z, or def when z is zero.
func (z Size) Or(def int64) int64 {
	if z == 0 {
		return def
	}
	return int64(z)
}

// PortSpec is a port (443) or an inclusive range ("8000-8999").
type PortSpec gate.PortRange

func (p *PortSpec) parseScalar(s string) error {
	r, err := gate.ParsePortRange(s)
	if err != nil {
		return err
	}
	*p = PortSpec(r)
	return nil
}

func portSet(specs []PortSpec) gate.PortSet {
	if len(specs) == 0 {
		return nil
	}
	ps := make(gate.PortSet, len(specs))
	for i, s := range specs {
		ps[i] = gate.PortRange(s)
	}
	return ps
}
