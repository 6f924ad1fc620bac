package tcprpc_test

import (
	"context"
	"net"
	"testing"

	_ "github.com/polyrpc/polyrpc/codec/json"
	_ "github.com/polyrpc/polyrpc/codec/msgpack"
	_ "github.com/polyrpc/polyrpc/codec/proto"
	_ "github.com/polyrpc/polyrpc/codec/xml"

	"github.com/polyrpc/polyrpc/rpc"
)

// benchClient serves add on a loopback port for codec and returns a client.
func benchClient(b *testing.B, codec string) *rpc.Client {
	b.Helper()
	c, ok := rpc.LookupCodec(codec)
	if !ok {
		b.Skipf("codec %s not registered", codec)
	}
	s := newRPCServer(b)
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
	cl := newClient(b, ln.Addr().String(), c)
	return cl
}

// BenchmarkSmallCall measures one add call at a time, client and server
// together; allocs/op counts both ends.
func BenchmarkSmallCall(b *testing.B) {
	for _, codec := range []string{"json", "msgpack", "proto", "xml"} {
		b.Run(codec, func(b *testing.B) {
			c := benchClient(b, codec)
			ctx := context.Background()
			var n int64
			params := []any{int64(1000), int64(1)} // boxed once, as a caller reusing them would
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Call(ctx, "add", &n, params...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSmallCallParallel shares one client among many goroutines.
func BenchmarkSmallCallParallel(b *testing.B) {
	for _, codec := range []string{"json", "msgpack", "proto"} {
		b.Run(codec, func(b *testing.B) {
			c := benchClient(b, codec)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				var n int64
				for pb.Next() {
					if err := c.Call(ctx, "add", &n, int64(2), int64(1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
