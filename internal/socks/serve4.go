package socks

import (
	"errors"
	"fmt"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/sniff"
)

// serve4 runs a SOCKS4 or SOCKS4a session: one CONNECT request, answered
// 0x5A or 0x5B. SOCKS4 carries no password, so on a listener that requires
// authentication only a rule marked Unauthenticated can let it through.
func (ss *session) serve4() {
	reject := func(err error) {
		ss.fail(uint8(Reply4Rejected), err)
		_ = ss.write(AppendReply4(ss.out(), Reply4Rejected, noAddr))
	}
	req, err := readRequest4(ss.br, &ss.hs.scratch)
	if err != nil {
		if isReadError(err) {
			ss.fail(uint8(Reply4Rejected), err)
			return
		}
		reject(err)
		return
	}
	ss.entry.Method = req.Cmd.String()
	ss.entry.Target = req.Addr.String()
	if !ss.s.o.AllowSOCKS4 {
		reject(errors.New("socks4 is not enabled on this listener"))
		return
	}
	if req.Cmd != CmdConnect {
		reject(fmt.Errorf("socks4: command %s not supported", req.Cmd))
		return
	}
	if err := ss.c.SetDeadline(time.Time{}); err != nil {
		ss.fail(uint8(Reply4Rejected), fmt.Errorf("clear handshake deadline: %w", err))
		return
	}
	origin, err := ss.dial(gate.SOCKS4, req.Addr)
	if err != nil {
		reject(err)
		return
	}
	ss.entry.Status = int(Reply4Granted)
	if ss.write(AppendReply4(ss.out(), Reply4Granted, sniff.AddrPort(origin.LocalAddr()))) != nil {
		_ = origin.Close()
		return
	}
	ss.tunnel(origin)
}
