package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
)

// Read reads one header from r, which must stand at the start of the
// connection, and consumes exactly its bytes: whatever follows stays in r
// for the client's own protocol. TLV values are copied out of r's buffer.
//
// Read waits only for bytes that belong to the header, so a client whose
// first message is short cannot make it block. Without a signature it
// returns ErrNoHeader and consumes nothing (the signature is decided
// within r's minimum size of 16 bytes). A version 2 header longer than r's
// buffer is read into one allocation of its exact size. A connection that
// ends or times out inside the header gives ErrIncomplete or ErrTimeout,
// wrapping the read error.
func Read(r *bufio.Reader) (Header, error) {
	var need int
	for {
		// Parse all that has arrived (it stops at the header's end), and
		// wait for one more byte only while the bytes cannot decide: they
		// may already show that there is no header, or a bad one.
		b, _ := r.Peek(r.Buffered())
		h, n, err := Parse(b)
		if err == nil {
			detachTLVs(h.TLVs)
			_, _ = r.Discard(n)
			return h, nil
		}
		if !errors.Is(err, ErrIncomplete) {
			return Header{}, err
		}
		if n > r.Size() {
			need = n
			break
		}
		if _, err := r.Peek(len(b) + 1); err != nil {
			return Header{}, cutShort(r.Buffered(), err)
		}
	}
	// A header longer than r's buffer: read exactly the bytes Parse asks
	// for, which never go past the header.
	buf := make([]byte, need)
	for {
		if m, err := io.ReadFull(r, buf[len(buf)-need:]); err != nil {
			return Header{}, cutShort(len(buf)-need+m, err)
		}
		h, n, err := Parse(buf)
		if err == nil {
			return h, nil
		}
		if !errors.Is(err, ErrIncomplete) {
			return Header{}, err
		}
		// Only a version 1 line read through a tiny buffer comes back.
		need = n - len(buf)
		buf = append(buf, make([]byte, need)...)
	}
}

// cutShort describes a read that failed after got bytes of a header.
func cutShort(got int, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w (%d bytes received): %w", ErrTimeout, got, err)
	}
	if got > 0 && errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: connection ended after %d bytes: %w", ErrIncomplete, got, err)
}
