//go:build !linux

package tunnel

// splice is Linux-only; elsewhere every tunnel uses the buffer copy.
func (d *direction) splice() (done bool, err *Error) { return false, nil }

// readWaiter has no portable way to wait for readability without reading,
// so the buffer copy holds its buffer while blocked in Read.
func (d *direction) readWaiter() func() error { return nil }
