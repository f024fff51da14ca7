package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/janus-proxy/janus/internal/janustest"
)

// rawCodec lets a hand-written service carry plain bytes, so the test needs
// no generated protobuf code.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

// echoService has a unary method and a server-streaming one.
var echoService = grpc.ServiceDesc{
	ServiceName: "janus.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			md, _ := metadata.FromIncomingContext(ctx)
			out := []byte(fmt.Sprintf("echo:%s xff=%s", in, strings.Join(md.Get("x-forwarded-for"), ",")))
			_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "kept"))
			return &out, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			var in []byte
			if err := stream.RecvMsg(&in); err != nil {
				return err
			}
			for i := 0; i < 5; i++ {
				msg := []byte(fmt.Sprintf("%s-%d", in, i))
				if err := stream.SendMsg(&msg); err != nil {
					return err
				}
			}
			return nil
		},
	}},
}

// TestGRPCThroughTheReverseFace: a gRPC client reaches a gRPC server (h2c)
// through Janus, over TLS and over h2c: unary with metadata and trailers,
// and a server stream.
func TestGRPCThroughTheReverseFace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	srv.RegisterService(&echoService, nil)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "grpc.test")
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}]}
    reverse: {routes: [{name: grpc, match: {path_prefix: /janus.test.Echo/}, upstream: grpc}]}
  - name: h2c
    listen: 127.0.0.1:0
    h2c: true
    reverse: {routes: [{name: grpc, match: {path_prefix: /janus.test.Echo/}, upstream: grpc}]}
upstreams:
  grpc: {targets: [%q], protocol: h2c}
`, cert, key, ln.Addr().String()), nil)

	for _, tc := range []struct {
		desc     string
		listener string
		creds    credentials.TransportCredentials
	}{
		{"over TLS", "tls", credentials.NewTLS(&tls.Config{RootCAs: ca.Pool, ServerName: "grpc.test"})},
		{"over h2c", "h2c", insecure.NewCredentials()},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			conn, err := grpc.NewClient(j.Addr(t, tc.listener), grpc.WithTransportCredentials(tc.creds),
				grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			in, out := []byte("hello"), []byte(nil)
			var trailer metadata.MD
			if err := conn.Invoke(ctx, "/janus.test.Echo/Unary", &in, &out, grpc.Trailer(&trailer)); err != nil {
				t.Fatalf("unary: %v", err)
			}
			if string(out) != "echo:hello xff=127.0.0.1" || strings.Join(trailer.Get("x-trailer"), "") != "kept" {
				t.Errorf("unary got %q, trailer %v", out, trailer)
			}

			stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/janus.test.Echo/Count")
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("n")
			if err := stream.SendMsg(&msg); err != nil {
				t.Fatal(err)
			}
			_ = stream.CloseSend()
			var got []string
			for {
				var m []byte
				if err := stream.RecvMsg(&m); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("stream: %v", err)
				}
				got = append(got, string(m))
			}
			if strings.Join(got, ",") != "n-0,n-1,n-2,n-3,n-4" {
				t.Errorf("stream got %v", got)
			}
		})
	}
}
