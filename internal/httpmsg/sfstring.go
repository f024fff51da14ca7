package httpmsg

// AppendSFString appends s as a structured-field String (RFC 9651
// §3.3.3), as Cache-Status and RateLimit carry names: quoted, with `"`
// and `\` escaped; bytes outside printable ASCII, which a String cannot
// hold, become '?'.
func AppendSFString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c > 0x7e:
			dst = append(dst, '?')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
