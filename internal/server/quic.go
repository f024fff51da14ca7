package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/httpface"
)

// quicSide is a listener's UDP socket at the TCP one's address and port,
// serving HTTP/3 over QUIC with the listener's reverse face.
type quicSide struct {
	udp *net.UDPConn
	tr  *quic.Transport
	ln  *quic.Listener
}

// portZeroTries bounds how often a listener on port 0 draws a new TCP port
// when the UDP port of the same number is taken.
const portZeroTries = 8

// servesHTTP3 reports whether the listener serves HTTP/3 beside TCP.
func (l *listener) servesHTTP3() bool {
	return l.cfg.ServesHTTP3() && l.tls != nil && l.http != nil
}

// openQUIC opens the UDP socket on the TCP socket's bound address and port
// and starts QUIC on it. Browsers find it through Alt-Svc, which names only
// a port: so the port must be the TCP one. The TLS settings and the face
// come from the socket's current listener at each handshake, so that a
// reload changes certificates without closing the socket.
func (sk *socket) openQUIC() error {
	ta, ok := sk.ln.Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("listener address %s is not TCP", sk.ln.Addr())
	}
	pc, err := sk.srv.binder().ListenPacket("udp", (&net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone}).String())
	if err != nil {
		return err
	}
	udp, ok := pc.(*net.UDPConn)
	if !ok {
		_ = pc.Close()
		return fmt.Errorf("UDP socket %s is a %T", pc.LocalAddr(), pc)
	}
	tr := &quic.Transport{Conn: udp}
	tlsConf := httpface.H3TLSConfig(&tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			l := sk.cur.Load()
			if l == nil || l.tls == nil {
				return nil, errors.New("no TLS configuration for HTTP/3")
			}
			return l.tls, nil
		},
	})
	ln, err := tr.Listen(tlsConf, sk.cur.Load().http.QUICConfig())
	if err != nil {
		_ = tr.Close()
		_ = udp.Close()
		return err
	}
	sk.quic = &quicSide{udp: udp, tr: tr, ln: ln}
	sk.cur.Load().http.AdvertiseHTTP3(uint16(ta.Port))
	return nil
}

// retryPortZero reports whether a failed UDP bind is worth another TCP
// port: only when the config let the system choose (port 0) and the UDP
// port of that number was taken.
func retryPortZero(lc *config.Listener, err error, attempt int) bool {
	_, port, _ := net.SplitHostPort(lc.Listen)
	return (port == "0" || port == "") && attempt+1 < portZeroTries && errors.Is(err, syscall.EADDRINUSE)
}

// acceptQUIC accepts QUIC connections until the socket's QUIC side closes.
// Each holds one of its listener's connection slots, as a TCP connection
// does, and is tracked for the drain.
func (sk *socket) acceptQUIC(q *quicSide) {
	for {
		l := sk.cur.Load()
		l.slots <- struct{}{}
		qc, err := q.ln.Accept(context.Background())
		if err != nil {
			<-l.slots
			if !errors.Is(err, quic.ErrServerClosed) && !isClosed(err) {
				l.log.Warn("QUIC accept failed; HTTP/3 stops on this listener", "err", err)
			}
			return
		}
		if l = sk.claim(l); l == nil {
			_ = qc.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "shutting down")
			continue
		}
		tc := &trackedQUIC{qc}
		sk.srv.conns.add(tc)
		l.ctr.conns.Add(1)
		go l.http.ServeH3(qc, func() {
			l.ctr.conns.Add(-1)
			sk.srv.conns.remove(tc)
			<-l.slots
			l.gen.release()
		})
	}
}

// stopQUIC stops accepting QUIC connections; those established go on until
// they drain.
func (sk *socket) stopQUIC() {
	if sk.quic != nil {
		_ = sk.quic.ln.Close()
	}
}

// closeQUIC closes what is left of the QUIC side and the UDP socket.
func (sk *socket) closeQUIC() {
	if q := sk.quic; q != nil {
		_ = q.ln.Close()
		_ = q.tr.Close()
		_ = q.udp.Close()
		sk.quic = nil
	}
}

// trackedQUIC lets the connection tracker close a QUIC connection when a
// drain runs out of time.
type trackedQUIC struct{ c *quic.Conn }

func (t *trackedQUIC) Close() error {
	return t.c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "shutting down")
}
