package tcprpc_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// TestZeroOptionsMeanTheDefault: every option given its zero value leaves
// the default in place: calls are served (WithMaxInFlight(0) used to make
// every call wait forever, WithMaxConns(0) to refuse every connection).
func TestZeroOptionsMeanTheDefault(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp",
		tcprpc.WithMaxInFlight(0), tcprpc.WithMaxConns(0), tcprpc.WithMaxConnsPerIP(0), tcprpc.WithMaxMessageSize(0),
		tcprpc.WithReadTimeout(0), tcprpc.WithIdleTimeout(0), tcprpc.WithWriteTimeout(0),
		tcprpc.WithHandshakeTimeout(0), tcprpc.WithCodec(nil), tcprpc.WithHandshake(nil), tcprpc.WithLogger(nil))
	c := newClient(t, e.addr, jsonCodec(t),
		tcprpc.WithMaxMessageSize(0), tcprpc.WithWriteTimeout(0), tcprpc.WithDialTimeout(0),
		tcprpc.WithNetwork(""), tcprpc.WithTLS(nil), tcprpc.WithClientHandshake(nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			var n int
			if err := c.Call(ctx, "demo.add", &n, i, 1); err != nil || n != i+1 {
				t.Errorf("add(%d, 1) = %d, %v", i, n, err)
			}
		})
	}
	wg.Wait()
}

// TestInvalidOptionsFailTheConstructor: a negative value, or an option of
// the other side, is an error of NewServer, NewClient and Dialer, never a
// hang or a panic at the first call.
func TestInvalidOptionsFailTheConstructor(t *testing.T) {
	t.Parallel()
	s := newRPCServer(t)
	serverCases := []struct {
		opt  tcprpc.Option
		want string
	}{
		{tcprpc.WithMaxInFlight(-1), "WithMaxInFlight(-1): negative"},
		{tcprpc.WithMaxConns(-5), "WithMaxConns(-5): negative"},
		{tcprpc.WithMaxConnsPerIP(-1), "WithMaxConnsPerIP(-1): negative"},
		{tcprpc.WithMaxMessageSize(-1), "WithMaxMessageSize(-1): negative"},
		{tcprpc.WithReadTimeout(-time.Second), "WithReadTimeout(-1s): negative"},
		{tcprpc.WithIdleTimeout(-time.Second), "negative"},
		{tcprpc.WithWriteTimeout(-time.Second), "negative"},
		{tcprpc.WithHandshakeTimeout(-time.Second), "negative"},
		{tcprpc.WithDialTimeout(time.Second), "tcprpc: WithDialTimeout is a client option"},
		{tcprpc.WithTLS(&tls.Config{}), "WithTLS is a client option"},
		{tcprpc.WithNetwork("unix"), "WithNetwork is a client option"},
		{tcprpc.WithClientHandshake(func(context.Context, net.Conn) error { return nil }), "WithClientHandshake is a client option"},
	}
	for _, tt := range serverCases {
		srv, err := tcprpc.NewServer(s, tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) || srv != nil {
			t.Errorf("NewServer: %v (a server: %v); want an error containing %q", err, srv != nil, tt.want)
		}
	}
	if _, err := tcprpc.NewServer(nil); err == nil {
		t.Error("NewServer(nil): no error")
	}
	clientCases := []struct {
		opt  tcprpc.Option
		want string
	}{
		{tcprpc.WithMaxMessageSize(-1), "negative"},
		{tcprpc.WithWriteTimeout(-1), "negative"},
		{tcprpc.WithDialTimeout(-time.Second), "WithDialTimeout(-1s): negative"},
		{tcprpc.WithNetwork("udp"), `WithNetwork("udp")`},
		{tcprpc.WithMaxInFlight(1), "tcprpc: WithMaxInFlight is a server option"},
		{tcprpc.WithMaxConns(1), "WithMaxConns is a server option"},
		{tcprpc.WithMaxConnsPerIP(1), "WithMaxConnsPerIP is a server option"},
		{tcprpc.WithIdleTimeout(time.Second), "WithIdleTimeout is a server option"},
		{tcprpc.WithReadTimeout(time.Second), "WithReadTimeout is a server option"},
		{tcprpc.WithHandshakeTimeout(time.Second), "WithHandshakeTimeout is a server option"},
		{tcprpc.WithCodec(jsonCodec(t)), "WithCodec is a server option"},
		{tcprpc.WithLogger(nil), "WithLogger is a server option"},
		{tcprpc.WithHandshake(func(context.Context, net.Conn) (string, error) { return "", nil }), "WithHandshake is a server option"},
	}
	for _, tt := range clientCases {
		c, err := tcprpc.NewClient("127.0.0.1:1", jsonCodec(t), tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) || c != nil {
			t.Errorf("NewClient: %v; want an error containing %q", err, tt.want)
		}
		if d, err := tcprpc.Dialer("127.0.0.1:1", tt.opt); err == nil || d != nil {
			t.Errorf("Dialer: %v; want an error containing %q", err, tt.want)
		}
	}
	if _, err := tcprpc.NewClient("127.0.0.1:1", nil); err == nil {
		t.Error("NewClient with a nil codec: no error")
	}
}
