package cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// ErrAborted is what readers of an object get when its fill was abandoned
// (the upstream died mid-body, or storage failed): the face cuts their
// response.
var ErrAborted = errors.New("cache: object aborted")

// object is a body being filled (and, for followers, read at the same
// time). The writer appends to memory until the object outgrows memMax,
// then spills everything to a temporary file and goes on there; readers
// read whatever was stored and wait for more, so a slow reader never
// holds the writer back.
type object struct {
	mu     sync.Mutex
	mem    []byte   // the body while in memory
	file   *os.File // the spill file, once spilled
	n      int64    // bytes stored
	done   bool
	err    error
	wake   chan struct{} // closed on progress when someone waits
	refs   int           // the writer and readers; the file closes at 0
	memMax int64
	max    int64                    // the largest object stored, on any tier; 0: no limit
	spill  func() (*os.File, error) // nil: no disk; the object cannot outgrow memMax
}

// write stores p. It returns an error when the object cannot hold it; the
// caller then aborts the object.
func (o *object) write(p []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done || o.err != nil {
		return o.err
	}
	if o.max > 0 && o.n+int64(len(p)) > o.max {
		// Content of unknown length can outgrow what a tier stores.
		return fmt.Errorf("cache: object over %d bytes", o.max)
	}
	if o.file == nil && o.n+int64(len(p)) > o.memMax {
		if o.spill == nil {
			return fmt.Errorf("cache: object over %d bytes and no disk tier", o.memMax)
		}
		f, err := o.spill()
		if err != nil {
			return err
		}
		if _, err := f.Write(o.mem); err != nil {
			_ = f.Close()
			return err
		}
		o.file, o.mem = f, nil
	}
	if o.file != nil {
		// Written under the lock so readers never see n past the file's
		// end; readers use ReadAt and do not hold the lock while reading.
		if _, err := o.file.Write(p); err != nil {
			return err
		}
	} else {
		o.mem = append(o.mem, p...)
	}
	o.n += int64(len(p))
	o.signal()
	return nil
}

func (o *object) signal() {
	if o.wake != nil {
		close(o.wake)
		o.wake = nil
	}
}

// finish ends the fill: err nil means complete.
func (o *object) finish(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done || o.err != nil {
		return
	}
	if err != nil {
		o.err = err
	} else {
		o.done = true
	}
	o.signal()
}

// release drops one reference to the spill file.
func (o *object) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.refs--; o.refs <= 0 && o.file != nil {
		_ = o.file.Close()
		o.file = nil
	}
}

// acquire takes a reference for a reader.
func (o *object) acquire() {
	o.mu.Lock()
	o.refs++
	o.mu.Unlock()
}

// readAt copies stored bytes at off into p, waiting while none are there
// yet. It returns io.EOF at the end of a complete object and ErrAborted
// for an aborted one: at once, or, with drain, once the bytes stored
// before the abort are read (the fill's leader relays all the upstream
// sent, as a proxy without a cache would).
func (o *object) readAt(p []byte, off int64, drain bool) (int, error) {
	for {
		o.mu.Lock()
		n, done, err, file, mem := o.n, o.done, o.err, o.file, o.mem
		if err != nil && !(drain && off < n) {
			o.mu.Unlock()
			return 0, fmt.Errorf("%w: %w", ErrAborted, err)
		}
		if off < n {
			o.mu.Unlock()
			avail := n - off
			if int64(len(p)) > avail {
				p = p[:avail]
			}
			if file != nil {
				return file.ReadAt(p, off)
			}
			return copy(p, mem[off:n]), nil
		}
		if done {
			o.mu.Unlock()
			return 0, io.EOF
		}
		if o.wake == nil {
			o.wake = make(chan struct{})
		}
		wake := o.wake
		o.mu.Unlock()
		<-wake
	}
}
