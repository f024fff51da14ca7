//go:build !linux

package httpface

import "syscall"

// parker is a stub where there is no epoll: connections wait in their
// goroutines.
type parker struct{ s *Server }

func (p *parker) enabled() bool     { return false }
func (p *parker) park(c *conn) bool { return false }
func (p *parker) closeAll()         {}
func (p *parker) stop()             {}
func rawFD(rc syscall.RawConn) int  { return -1 }
