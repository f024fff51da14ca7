package cache

import (
	"time"
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7): the IMF-fixdate
// form without allocating, and the obsolete RFC 850 and asctime forms that
// recipients must also accept. ok is false for anything else; callers then
// apply the RFC's rule for an invalid date of that field (an invalid
// Expires means already expired, §5.3).
func ParseHTTPDate(b []byte) (t time.Time, ok bool) {
	if len(b) == 29 && b[3] == ',' && b[4] == ' ' && string(b[26:]) == "GMT" {
		return parseFixdate(b)
	}
	for _, layout := range obsoleteLayouts {
		if t, err := time.Parse(layout, string(b)); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

var obsoleteLayouts = [...]string{
	"Monday, 02-Jan-06 15:04:05 MST", // RFC 850
	"Mon Jan _2 15:04:05 2006",       // asctime
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
func parseFixdate(b []byte) (time.Time, bool) {
	day, ok1 := digits(b[5:7])
	mon := monthOf(b[8:11])
	year, ok2 := digits(b[12:16])
	hh, ok3 := digits(b[17:19])
	mm, ok4 := digits(b[20:22])
	ss, ok5 := digits(b[23:25])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || mon == 0 || b[7] != ' ' || b[11] != ' ' || b[16] != ' ' ||
		b[19] != ':' || b[22] != ':' || b[25] != ' ' || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	return time.Date(year, mon, day, hh, mm, ss, 0, time.UTC), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func monthOf(b []byte) time.Month {
	for i, m := range monthNames {
		if string(b) == m {
			return time.Month(i + 1)
		}
	}
	return 0
}

var monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

var dayNames = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// AppendHTTPDate appends t in IMF-fixdate form.
func AppendHTTPDate(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, dayNames[t.Weekday()]...)
	dst = append(dst, ", "...)
	dst = append2(dst, d)
	dst = append(dst, ' ')
	dst = append(dst, monthNames[mo-1]...)
	dst = append(dst, ' ')
	dst = append2(dst, y/100)
	dst = append2(dst, y%100)
	dst = append(dst, ' ')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, s)
	return append(dst, " GMT"...)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10%10), byte('0'+n%10))
}
