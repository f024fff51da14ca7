package observe

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// flushEvery bounds how stale a buffered log line can get. Buffering saves a
// write system call per request; Squid and nginx buffer their logs the same way.
const flushEvery = 200 * time.Millisecond

// Output is a buffered, line-oriented log destination: stdout, stderr or a
// file that Reopen opens anew after rotation. It is safe for concurrent use;
// each Write is expected to carry whole lines.
type Output struct {
	path string // "" for a stream that cannot be reopened

	mu     sync.Mutex
	file   io.Writer
	closer io.Closer // nil for stdout/stderr
	buf    *bufio.Writer
	timer  *time.Timer // pending flush, nil when the buffer is empty
	closed bool
}

// OpenOutput opens dest: "stdout", "stderr" or a file path, appended to.
func OpenOutput(dest string) (*Output, error) {
	switch dest {
	case "", "stdout":
		return NewOutput(os.Stdout), nil
	case "stderr":
		return NewOutput(os.Stderr), nil
	}
	f, err := openAppend(dest)
	if err != nil {
		return nil, err
	}
	o := NewOutput(f)
	o.path, o.closer = dest, f
	return o, nil
}

// NewOutput returns an Output writing to w, which it never closes.
func NewOutput(w io.Writer) *Output {
	return &Output{file: w, buf: bufio.NewWriterSize(w, 64<<10)}
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

// Write buffers p; a timer flushes it within flushEvery.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, os.ErrClosed
	}
	n, err := o.buf.Write(p)
	if o.timer == nil && o.buf.Buffered() > 0 {
		o.timer = time.AfterFunc(flushEvery, o.timedFlush)
	}
	return n, err
}

func (o *Output) timedFlush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.timer = nil
	_ = o.buf.Flush()
}

// Flush writes out what is buffered.
func (o *Output) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Flush()
}

// Reopen flushes and reopens the file (after logrotate moved it). It does
// nothing for stdout and stderr.
func (o *Output) Reopen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.path == "" || o.closed {
		return nil
	}
	_ = o.buf.Flush()
	f, err := openAppend(o.path)
	if err != nil {
		return err
	}
	_ = o.closer.Close()
	o.file, o.closer = f, f
	o.buf.Reset(f)
	return nil
}

// Close flushes and closes the file. Later writes fail.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	err := o.buf.Flush()
	if o.closer != nil {
		if cerr := o.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
