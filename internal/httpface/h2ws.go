package httpface

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	_ "unsafe" // go:linkname, below

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/upstream"
)

// WebSocket over HTTP/2 (RFC 8441). A client opens a stream with an
// extended CONNECT (":method: CONNECT", ":protocol: websocket", ":path");
// the route table sees it as a GET of that path. Upstream it becomes the
// HTTP/1.1 upgrade of RFC 6455 §4.1, on the same pools and dial path as
// HTTP/1.1 WebSockets: on the origin's 101 the client's stream is answered
// 200 (RFC 8441 §5) and then carries the WebSocket's bytes both ways, as
// Envoy translates between the two.

// wsGUID completes Sec-WebSocket-Accept (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// maxWSInterim bounds the 1xx responses skipped before the origin's answer
// to an upgrade.
const maxWSInterim = 8

// acceptExtendedConnect decides on a CONNECT stream. It reports true for a
// WebSocket (RFC 8441 §4); otherwise it has answered: 405 for a plain
// CONNECT (the reverse face opens no tunnels) and 501 for another
// protocol, which Janus does not implement.
func (x *h2exchange) acceptExtendedConnect() bool {
	proto := x.r.Header.Get(":protocol")
	switch {
	case proto == "":
		x.plain(http.StatusMethodNotAllowed, "CONNECT is not served over HTTP/2 here")
		return false
	case !strings.EqualFold(proto, "websocket"):
		x.plain(http.StatusNotImplemented, "protocol "+strconv.Quote(proto)+" is not supported")
		return false
	}
	x.ws = true
	return true
}

// method is the request's method for routes and policies: a WebSocket is a
// GET, as it is in HTTP/1.1.
func (x *h2exchange) method() string {
	if x.ws {
		return http.MethodGet
	}
	return x.r.Method
}

// webSocketElsewhere answers a WebSocket whose route does not proxy. A
// redirect or fixed response is sent as for any request, unless it is a
// 2xx: that would tell the client its WebSocket is open (RFC 8441 §5).
func (x *h2exchange) webSocketElsewhere() {
	q := x.q
	if x.route.Action == reverse.Static {
		x.plain(http.StatusMethodNotAllowed, "no WebSocket on a static route")
		return
	}
	x.route.Reply(&q.reply, &reverse.TemplateInput{Scheme: x.s.scheme, Req: &q.req, Params: &q.params})
	q.reply.Head(&q.rout)
	if q.rout.Status < 300 {
		x.plain(http.StatusMethodNotAllowed, "no WebSocket on this route")
		return
	}
	x.writeHead(&q.rout)
	n, _ := x.w.Write(q.reply.Body)
	x.down = int64(n)
}

// exchangeWebSocket sends the upgrade to host on oc and, on the origin's
// 101, joins the stream and the connection; any other answer goes to the
// client as the response. A pooled connection the origin had closed is
// replaced once by a fresh one.
func (x *h2exchange) exchangeWebSocket(host *upstream.Host, oc *http1.ClientConn, u *Upstream) {
	s, q := x.s, x.q
	host.Begin()
	began := time.Now()
	outcome := upstream.Outcome{}
	ended := false
	end := func() {
		if !ended {
			ended = true
			outcome.Latency = time.Since(began)
			host.End(outcome)
		}
	}
	defer end()

	var raw [16]byte
	_, _ = rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	x.webSocketRequest(key)
	timeout := u.ResponseTimeout
	if timeout <= 0 {
		timeout = s.o.ResponseTimeout
	}
	var fr http1.Framing
	for try := 0; ; try++ {
		fr = http1.Framing{}
		err := x.sendUpgrade(oc, timeout)
		if err == nil {
			fr, err = x.readUpgradeAnswer(oc)
		}
		if err == nil {
			break
		}
		oc.Close()
		if try == 0 && oc.Reused && isClosedBeforeResponse(err) {
			if oc, err = x.dialTarget(host); err == nil {
				continue
			}
			outcome.ConnectFailed = true
		}
		x.upstreamFailed(err)
		return
	}
	if q.resp.Status != http.StatusSwitchingProtocols {
		if q.resp.Status < 300 {
			// An origin that ignored the upgrade: passed on, its 2xx would
			// tell the client the WebSocket is open (RFC 8441 §5).
			oc.Close()
			outcome.Status = q.resp.Status
			x.plain(http.StatusBadGateway, "the origin did not switch to WebSocket (status "+strconv.Itoa(q.resp.Status)+")")
			return
		}
		// A refusal (426, 403, a redirect...) is the client's answer.
		x.relay(oc, fr, &outcome)
		return
	}
	outcome.Status = http.StatusSwitchingProtocols
	if !q.resp.Header.HasToken("Upgrade", "websocket") ||
		string(q.resp.Header.Get("Sec-WebSocket-Accept")) != webSocketAccept(key) {
		// RFC 6455 §4.1: the client fails the connection; so does Janus.
		oc.Close()
		outcome.Status = 0
		x.plain(http.StatusBadGateway, "the origin's WebSocket handshake is not valid")
		return
	}
	end()
	h := &q.rout
	h.Reset()
	h.Status = http.StatusOK
	h.Header.CopyFrom(&q.resp.Header)
	h.Header.Del("Sec-WebSocket-Accept") // RFC 8441 §5: not used in HTTP/2
	x.writeHead(h)                       // drops Connection and Upgrade
	early := takeBuffered(&oc.R)
	oc.W.Release()
	_ = oc.Conn.SetDeadline(time.Time{}) // the response timeout is over; tunnel_idle rules now
	x.tunnelWebSocket(oc.Conn, early)
}

// webSocketRequest builds the upgrade request sent upstream (RFC 6455
// §4.1): a GET of the route's target with the client's fields
// (Sec-WebSocket-Version, -Protocol, -Extensions among them), the
// forwarding fields, the route's changes and a forward-auth answer's
// fields, as for any request, and a key of Janus's own.
func (x *h2exchange) webSocketRequest(key string) {
	out := x.outbound(methodGet, "Sec-WebSocket-Key")
	out.Header.AddString("Connection", "Upgrade")
	out.Header.AddString("Upgrade", "websocket")
	out.Header.AddString("Sec-WebSocket-Key", key)
}

var methodGet = []byte(http.MethodGet)

// sendUpgrade writes the upgrade request on oc.
func (x *h2exchange) sendUpgrade(oc *http1.ClientConn, timeout time.Duration) error {
	_ = oc.Conn.SetDeadline(time.Now().Add(timeout))
	oc.W.WriteRequestHead(&x.q.out)
	return oc.W.Flush()
}

// readUpgradeAnswer reads the origin's answer to the upgrade, past 1xx
// responses other than 101.
func (x *h2exchange) readUpgradeAnswer(oc *http1.ClientConn) (http1.Framing, error) {
	for i := 0; ; i++ {
		fr, err := http1.ReadResponse(&oc.R, &x.q.resp, x.q.out.Method, x.s.limits)
		if err != nil || !x.q.resp.Informational() || x.q.resp.Status == http.StatusSwitchingProtocols {
			return fr, err
		}
		if i == maxWSInterim {
			return fr, errTooManyInterim
		}
	}
}

// dialTarget opens a fresh connection to host.
func (x *h2exchange) dialTarget(host *upstream.Host) (*http1.ClientConn, error) {
	ip, port := host.DialAddr()
	tcp, err := x.s.o.Dialer.DialTCP(x.s.ctx, ip, port, nil)
	if err != nil {
		return nil, err
	}
	x.q.key = host.Addr().AppendTo(x.q.key[:0])
	return http1.NewClientConn(tcp, string(x.q.key)), nil
}

// takeBuffered returns a copy of what r has buffered and releases its
// buffer: the connection under it goes on without the reader.
func takeBuffered(r *http1.Reader) []byte {
	var b []byte
	if n := r.Buffered(); n > 0 {
		b = append(b, r.Bytes()...)
		r.Discard(n)
	}
	r.Release()
	return b
}

// webSocketAccept is the Sec-WebSocket-Accept that answers key (RFC 6455
// §4.2.2).
func webSocketAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// tunnelWebSocket carries the WebSocket's bytes between the client's
// stream and origin until either side ends or nothing moves for the
// listener's tunnel idle time; early holds bytes the origin sent with its
// 101. The origin's end of stream ends the response cleanly; an error on
// its side, or the idle time, resets the stream, as a cut response does.
func (x *h2exchange) tunnelWebSocket(origin *net.TCPConn, early []byte) {
	t := newWSTunnel(x.w, x.r.Body, origin, x.s.o.TunnelIdle)
	err := t.run(early)
	x.up, x.down = t.up, t.down
	if err != nil {
		x.err = "websocket: " + err.Error()
		// An idle tunnel is cut as an HTTP/1.1 one is (its connection
		// closes): the stream is reset, whether or not a write to the
		// client was waiting at that moment.
		if !errors.Is(err, errWSClientGone) {
			panic(http.ErrAbortHandler)
		}
	}
}
