package tcprpc_test

import (
	"context"
	"net"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// benchTraceparent is a W3C traceparent, the one metadata entry a traced
// call carries.
const benchTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// metaClient serves add on a loopback port for codec, with a server
// interceptor that reads the traceparent as tracing.Server does, and
// returns a client with the interceptors given.
func metaClient(b *testing.B, codec string, cides ...rpc.Interceptor) *rpc.Client {
	b.Helper()
	c, ok := rpc.LookupCodec(codec)
	if !ok {
		b.Skipf("codec %s not registered", codec)
	}
	read := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		if call.MetadataValue("traceparent") == "x" {
			return nil, nil
		}
		return next(ctx, call)
	}
	s, err := rpc.NewServer(rpc.WithInterceptors(read))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Register("add", func(a, b int64) (int64, error) { return a + b, nil }); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := newServer(b, s)
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	d, err := tcprpc.Dialer(ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	cl, err := rpc.NewStreamClient(d, c, rpc.WithInterceptors(cides...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	return cl
}

// setTraceparent is a client interceptor that sends a constant
// traceparent, the metadata of a traced call without the tracing.
func setTraceparent(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
	call.SetMetadata("traceparent", benchTraceparent)
	return next(ctx, call)
}

// BenchmarkMetaCall measures a small call with no metadata and with one
// entry, a traceparent, that a client interceptor sets and a server
// interceptor reads: the cost of carrying a trace context. allocs/op
// counts both ends.
func BenchmarkMetaCall(b *testing.B) {
	for _, codec := range []string{"msgpack", "json", "proto"} {
		for _, mode := range []struct {
			name  string
			cides []rpc.Interceptor
		}{
			{"plain", nil},
			{"traceparent", []rpc.Interceptor{setTraceparent}},
		} {
			b.Run(codec+"/"+mode.name+"/serial", func(b *testing.B) {
				c := metaClient(b, codec, mode.cides...)
				ctx := context.Background()
				var n int64
				params := []any{int64(1000), int64(1)}
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Call(ctx, "add", &n, params...); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(codec+"/"+mode.name+"/parallel", func(b *testing.B) {
				c := metaClient(b, codec, mode.cides...)
				ctx := context.Background()
				b.ReportAllocs()
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					var n int64
					params := []any{int64(1000), int64(1)}
					for pb.Next() {
						if err := c.Call(ctx, "add", &n, params...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
