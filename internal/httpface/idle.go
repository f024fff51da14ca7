package httpface

import "time"

// Outcomes of waitRequest.
const (
	waitReady = iota // a request's first bytes are here
	waitClose        // close quietly: the client left, went idle too long, or a drain began
	waitPark         // idle past parkAfter: park the connection without a goroutine
)

// parkAfter is how long an idle keep-alive connection keeps its goroutine
// before it is parked (ServeParked). Busy clients send their next request
// well within it, so parking costs them nothing. But once parkAtOnceAbove
// connections wait in goroutines, more go straight to the parker: a burst
// of clients going idle together would otherwise hold a stack each for
// that long, and the runtime keeps the memory of a stack peak.
const (
	parkAfter       = 250 * time.Millisecond
	parkAtOnceAbove = 128
)

// waitRequest waits for the next request's first bytes.
func (c *conn) waitRequest(first bool) int {
	s := c.s
	if c.r.Buffered() > 0 {
		// A pipelined request is already here.
		if c.raw.SetReadDeadline(time.Now().Add(s.o.HeaderTimeout)) != nil {
			return waitClose
		}
		return waitReady
	}
	now := time.Now()
	timeout := s.o.IdleTimeout
	switch {
	case first:
		// The listener saw a first byte; the head must follow promptly.
		timeout = s.o.HeaderTimeout
	case c.resumed:
		// Woken from the parker: what is left of the idle time.
		c.resumed = false
		timeout = c.idleUntil.Sub(now)
		if timeout <= 0 {
			return waitClose
		}
	default:
		c.idleUntil = now.Add(timeout)
		c.waitStart = now
	}
	wait := timeout
	canPark := !first && c.done != nil && c.fd >= 0 && s.parker.enabled()
	c.r.Release()
	c.w.Release()
	c.dropMessages()
	if canPark {
		if !c.busy && s.idleWaiting.Load() >= parkAtOnceAbove && !s.shutting.Load() {
			// Many connections idle in goroutines already, and this one
			// did not come back quickly last time: park at once, so that
			// the stacks of a burst going idle are not all alive together.
			return waitPark
		}
		s.idleWaiting.Add(1)
		defer s.idleWaiting.Add(-1)
		if wait > parkAfter {
			wait = parkAfter
		}
	}
	if err := c.raw.SetReadDeadline(now.Add(wait)); err != nil {
		return waitClose
	}
	if !first {
		// The first request is already on its way (the listener saw its
		// first byte) and is served even during a drain, with
		// Connection: close; later waits are where a drain ends a
		// connection.
		c.state.Store(stateIdle)
		if s.shutting.Load() {
			return waitClose
		}
	}
	err := c.r.FillIdle()
	c.state.Store(stateActive)
	if err != nil {
		if canPark && wait < timeout && isTimeout(err) && !s.shutting.Load() {
			return waitPark
		}
		return waitClose
	}
	if first {
		return waitReady
	}
	now = time.Now()
	c.busy = now.Sub(c.waitStart) < parkAfter
	if c.raw.SetReadDeadline(now.Add(s.o.HeaderTimeout)) != nil {
		return waitClose
	}
	return waitReady
}

// waitRest waits in the goroutine for what is left of the idle time, when
// the connection could not be parked.
func (c *conn) waitRest() bool {
	s := c.s
	if c.raw.SetReadDeadline(c.idleUntil) != nil {
		return false
	}
	c.state.Store(stateIdle)
	if s.shutting.Load() {
		return false
	}
	err := c.r.FillIdle()
	c.state.Store(stateActive)
	return err == nil && c.raw.SetReadDeadline(time.Now().Add(s.o.HeaderTimeout)) == nil
}
