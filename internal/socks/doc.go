// Package socks is Janus's SOCKS face: a pure wire codec for SOCKS5
// (RFC 1928), its user/password sub-negotiation (RFC 1929) and SOCKS4/4a
// (the "SOCKS: A protocol for TCP proxy across firewalls" and "SOCKS 4A"
// documents), and a server that turns those requests into gate decisions,
// outbound dials, tunnels and UDP relays.
//
// The codec reads from an io.Reader and appends to byte slices; it never
// allocates more than a length byte allows (a name is at most 255 bytes) and
// returns errors that say which field was wrong. The server owns no listener:
// the listener's sniffer hands it connections whose first byte is 0x04 or
// 0x05.
package socks
