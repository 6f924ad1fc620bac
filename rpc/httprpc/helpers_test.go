package httprpc_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// newRPCServer returns an rpc.Server with the line codec and the methods
// given, or fails the test.
func newRPCServer(t testing.TB, methods map[string]any, opts ...rpc.Option) *rpc.Server {
	t.Helper()
	if opts == nil {
		opts = []rpc.Option{rpc.WithCodecs(lineCodec{})}
	}
	s, err := rpc.NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range methods {
		if err := s.Register(name, fn); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func newHandler(t testing.TB, s *rpc.Server, opts ...httprpc.Option) *httprpc.Handler {
	t.Helper()
	h, err := httprpc.NewHandler(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newClient returns a client closed when the test ends, or fails the test.
func newClient(t testing.TB, url string, c rpc.Codec, opts ...httprpc.Option) *rpc.Client {
	t.Helper()
	cl, err := httprpc.NewClient(url, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// serve serves h with httprpc.Server on a loopback port until the test
// ends, and returns its URL.
func serve(t testing.TB, h http.Handler, opts ...httprpc.Option) string {
	t.Helper()
	hs, err := httprpc.NewServer(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
