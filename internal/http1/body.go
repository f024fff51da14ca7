package http1

import (
	"errors"
	"io"
	"net"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Body streams a message's content from a Reader, removing the chunked
// coding. It never buffers more than the Reader's buffer. The zero value is
// an empty body; Reset it for each message.
type Body struct {
	r      *Reader
	kind   BodyKind
	left   int64 // LengthBody: bytes left; ChunkedBody: bytes left in this chunk
	state  chunkState
	n      int64 // content bytes delivered
	err    error // sticky; io.EOF at a clean end
	status int   // status carried by framing errors: 400 requests, 502 responses
	budget int   // bytes the trailer section may take
	max    int64 // content bytes allowed; 0: no limit

	// Trailer holds the trailer fields of a chunked body once Read or Next
	// has returned io.EOF (RFC 9112 §7.1.2).
	Trailer httpmsg.Header
}

type chunkState uint8

const (
	chunkSize chunkState = iota // expecting a chunk-size line
	chunkData                   // inside chunk data
	chunkCRLF                   // expecting the CRLF after chunk data
)

// Reset prepares b to read content framed by f from r. status is what
// framing errors will carry: 400 for a request body, 502 for a response.
// limit bounds the trailer section (0: DefaultMaxHead).
func (b *Body) Reset(r *Reader, f Framing, status int, limit int) {
	b.r = r
	b.kind = f.Kind
	b.left = 0
	if f.Kind == LengthBody {
		b.left = f.Length
	}
	b.state = chunkSize
	b.n = 0
	b.err = nil
	if f.Kind == NoBody || f.Kind == LengthBody && f.Length == 0 {
		b.err = io.EOF
	}
	b.status = status
	if limit <= 0 {
		limit = DefaultMaxHead
	}
	b.budget = limit
	b.max = 0
	b.Trailer.Reset()
}

// SetMax bounds the content to n bytes (0: no limit): past it, reads fail
// with ErrContentTooLarge. A length-framed body larger than n is better
// refused from its Content-Length before reading.
func (b *Body) SetMax(n int64) { b.max = n }

// Kind returns the framing kind.
func (b *Body) Kind() BodyKind { return b.kind }

// Count returns the content bytes delivered so far.
func (b *Body) Count() int64 { return b.n }

// Done reports whether the content was read to its clean end.
func (b *Body) Done() bool { return b.err == io.EOF }

// Err returns the error that ended the body, nil while it goes on and at a
// clean end.
func (b *Body) Err() error {
	if b.err == io.EOF {
		return nil
	}
	return b.err
}

// Remaining returns the bytes left of a LengthBody, -1 for other kinds.
func (b *Body) Remaining() int64 {
	if b.kind == LengthBody {
		return b.left
	}
	return -1
}

// Next returns the next content bytes available in the reader's buffer,
// reading from the source only when none are buffered; it does not consume
// them (see Consume). At the end it returns io.EOF, with trailers in Trailer.
func (b *Body) Next() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	for {
		switch b.kind {
		case LengthBody:
			return b.available()
		case CloseBody:
			if b.r.Buffered() == 0 {
				if err := b.r.Fill(); err != nil {
					return nil, b.fail(err)
				}
			}
			return b.r.Bytes(), nil
		case ChunkedBody:
			switch b.state {
			case chunkSize:
				if err := b.readChunkSize(); err != nil {
					return nil, err
				}
				continue
			case chunkCRLF:
				if err := b.readChunkEnd(); err != nil {
					return nil, err
				}
				continue
			}
			return b.available()
		}
		b.err = io.EOF
		return nil, io.EOF
	}
}

// available returns up to b.left buffered content bytes, reading once if
// none are buffered.
func (b *Body) available() ([]byte, error) {
	if b.r.Buffered() == 0 {
		if err := b.fill(); err != nil {
			return nil, err
		}
	}
	p := b.r.Bytes()
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	if b.max > 0 && b.n+int64(len(p)) > b.max {
		return nil, b.fail(ErrContentTooLarge)
	}
	return p, nil
}

// Consume marks n bytes returned by Next as read.
func (b *Body) Consume(n int) {
	b.r.Discard(n)
	b.n += int64(n)
	switch b.kind {
	case LengthBody:
		b.left -= int64(n)
		if b.left == 0 {
			b.err = io.EOF
		}
	case ChunkedBody:
		b.left -= int64(n)
		if b.left == 0 {
			b.state = chunkCRLF
		}
	}
}

// fill reads more bytes where the framing promises them; the end of input
// there is a truncated message.
func (b *Body) fill() error {
	if err := b.r.Fill(); err != nil {
		if err == io.EOF {
			err = ErrTruncated.withStatus(b.status)
		}
		return b.fail(err)
	}
	return nil
}

func (b *Body) fail(err error) error {
	b.err = err
	return err
}

// Read reads content into p.
func (b *Body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.err == nil && b.r.Buffered() == 0 && len(p) >= BufferSize && b.kind != ChunkedBody {
		// Large reads skip the buffer.
		want := p
		if b.kind == LengthBody && int64(len(want)) > b.left {
			want = want[:b.left]
		}
		n, err := b.r.Read(want)
		b.n += int64(n)
		if b.kind == LengthBody {
			b.left -= int64(n)
			if b.left == 0 {
				b.err = io.EOF
				return n, nil
			}
		}
		if err != nil {
			if err == io.EOF && b.kind == LengthBody {
				err = ErrTruncated.withStatus(b.status)
			}
			b.err = err
			if n > 0 {
				return n, nil
			}
		}
		return n, err
	}
	chunk, err := b.Next()
	if err != nil {
		return 0, err
	}
	n := copy(p, chunk)
	b.Consume(n)
	return n, nil
}

// WriteTo writes the rest of the content to w. Between TCP connections, a
// long Content-Length body that is not buffered is handed to the kernel
// (splice) through w's ReadFrom.
func (b *Body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if n, ok, err := b.Splice(w, 1<<62); ok {
			total += n
			if err != nil || b.err == io.EOF {
				return total, err
			}
			continue
		}
		chunk, err := b.Next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(chunk)
		b.Consume(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// Splice copies up to max bytes of a Content-Length or read-until-close body
// that nothing is buffered for straight from the source connection to w,
// through w's ReadFrom, so that the kernel can splice between TCP sockets.
// ok is false when it does not apply (chunked, bytes buffered, the source is
// not a *net.TCPConn, or w has no ReadFrom); the caller copies normally then.
func (b *Body) Splice(w io.Writer, max int64) (n int64, ok bool, err error) {
	if b.err != nil || b.r.Buffered() != 0 || max <= 0 {
		return 0, false, nil
	}
	if b.kind != LengthBody && b.kind != CloseBody {
		return 0, false, nil
	}
	src, isTCP := b.r.src.(*net.TCPConn)
	rf, isRF := w.(io.ReaderFrom)
	if !isTCP || !isRF {
		return 0, false, nil
	}
	if b.kind == LengthBody {
		if b.left < BufferSize {
			return 0, false, nil // not worth a pipe
		}
		max = min(max, b.left)
	}
	n, err = rf.ReadFrom(&io.LimitedReader{R: src, N: max})
	b.r.count += n
	b.n += n
	switch {
	case err != nil:
		b.err = err
	case b.kind == LengthBody:
		b.left -= n
		if b.left == 0 {
			b.err = io.EOF
		} else if n < max {
			// The source ended inside the content.
			err = ErrTruncated.withStatus(b.status)
			b.err = err
		}
	case n < max:
		// ReadFrom returns nil at EOF: the close-delimited body ended.
		b.err = io.EOF
	}
	return n, true, err
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

// readChunkSize reads "chunk-size [chunk-ext] CRLF" (RFC 9112 §7.1): hex
// digits without sign or overflow; extensions are checked and dropped
// (§7.1.1). A zero size is the last chunk, after which the trailer section
// is read.
func (b *Body) readChunkSize() error {
	line, err := b.r.line(maxChunkLine, errChunkLineTooLong)
	if err != nil {
		return b.lineErr(err)
	}
	n := len(line)
	s := line[:n-2]
	var size int64
	i := 0
	for ; i < len(s); i++ {
		d := unhex(s[i])
		if d < 0 {
			break
		}
		if size > (1<<60)>>4 {
			return b.fail(errorf(b.status, "chunk size overflows"))
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		return b.fail(errorf(b.status, "bad chunk size"))
	}
	if !validChunkExt(s[i:]) {
		return b.fail(errorf(b.status, "bad chunk extension"))
	}
	b.r.Discard(n)
	if size == 0 {
		return b.readTrailer()
	}
	b.left = size
	b.state = chunkData
	return nil
}

func (b *Body) readChunkEnd() error {
	for b.r.Buffered() < 2 {
		if err := b.fill(); err != nil {
			return err
		}
	}
	p := b.r.Bytes()
	if p[0] != '\r' || p[1] != '\n' {
		return b.fail(errorf(b.status, "chunk data not followed by CRLF"))
	}
	b.r.Discard(2)
	b.state = chunkSize
	return nil
}

func (b *Body) readTrailer() error {
	if err := readFields(b.r, &b.Trailer, b.budget, nil, b.status); err != nil {
		return b.lineErr(err)
	}
	b.err = io.EOF
	return io.EOF
}

func (b *Body) lineErr(err error) error {
	if err == io.EOF {
		err = ErrTruncated
	}
	var e *Error
	if errors.As(err, &e) {
		err = e.withStatus(b.status)
	}
	return b.fail(err)
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// validChunkExt checks what follows the chunk size:
// *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ).
func validChunkExt(s []byte) bool {
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() bool {
		j := i
		for i < len(s) && tchar[s[i]] {
			i++
		}
		return i > j
	}
	for {
		ws()
		if i == len(s) {
			return true
		}
		if s[i] != ';' {
			return false
		}
		i++
		ws()
		if !token() {
			return false
		}
		ws()
		if i < len(s) && s[i] == '=' {
			i++
			ws()
			if i < len(s) && s[i] == '"' {
				if !quoted(s, &i) {
					return false
				}
			} else if !token() {
				return false
			}
		}
	}
}

// quoted consumes a quoted-string (RFC 9110 §5.6.4) starting at s[*i].
func quoted(s []byte, i *int) bool {
	j := *i + 1
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			*i = j + 1
			return true
		case c == '\\':
			if j+1 >= len(s) || !vchar[s[j+1]] {
				return false
			}
			j += 2
		case vchar[c]:
			j++
		default:
			return false
		}
	}
	return false
}
