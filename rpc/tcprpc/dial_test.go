package tcprpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

var (
	alice    = auth.Key{ID: "alice", Secret: []byte("alice's secret, 32 bytes or so..")}
	mallory  = auth.Key{ID: "alice", Secret: []byte("not alice's secret")}
	aliceSet = func() *auth.KeySet {
		ks, err := auth.NewKeySet(alice)
		if err != nil {
			panic(err)
		}
		return ks
	}()
)

// withKey is the client option of a client holding key.
func withKey(t testing.TB, key auth.Key) tcprpc.Option {
	t.Helper()
	c, err := auth.NewClient(key)
	if err != nil {
		t.Fatal(err)
	}
	return tcprpc.WithClientHandshake(c.Handshake)
}

// authServer serves the demo methods to clients holding alice's key.
func authServer(t testing.TB) string {
	t.Helper()
	a, err := auth.NewServer(aliceSet)
	if err != nil {
		t.Fatal(err)
	}
	return serveDemo(t, nil, tcprpc.WithHandshake(a.Handshake))
}

// serveDemo serves the demo methods on a loopback port, over TLS if cfg is
// not nil, and returns the address.
func serveDemo(t testing.TB, cfg *tls.Config, opts ...tcprpc.Option) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newRPCServer(t)
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, s, opts...)
	if cfg != nil {
		go srv.Serve(tls.NewListener(ln, cfg))
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// silentServer accepts connections and neither reads nor writes them; they
// are closed at the end of the test.
func silentServer(t testing.TB) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() })
			conns <- nc
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), conns
}

// httpServer serves HTTP on a loopback port; a request it cannot read gets
// 400 once the header timeout passes.
func httpServer(t *testing.T) string {
	return httpServerTimeout(t, 200*time.Millisecond)
}

func httpServerTimeout(t *testing.T, headerTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: headerTimeout}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// callOnce makes one call with no deadline of its own, and fails the test
// if it has not returned within a minute: a call that would wait forever.
func callOnce(t *testing.T, c *rpc.Client) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Call(context.Background(), "demo.add", nil, 1, 2) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the call still waits after a minute")
		return nil
	}
}

func wantErrorContaining(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q, want one containing %q", err, w)
		}
	}
}

// TestDialTimeout: a dial bounds the connection, TLS and the handshake
// together, even for a call whose context has no deadline.
func TestDialTimeout(t *testing.T) {
	t.Parallel()
	_, clientTLS := tlsConfigs(t)
	silentHandshake := tcprpc.WithClientHandshake(func(ctx context.Context, nc net.Conn) error {
		_, err := io.ReadFull(nc, make([]byte, 1))
		return err
	})
	for _, tt := range []struct {
		name string
		opts []tcprpc.Option
		want string
	}{
		{"TLS", []tcprpc.Option{tcprpc.WithTLS(clientTLS), tcprpc.WithDialTimeout(300 * time.Millisecond)}, "TLS handshake"},
		{"handshake", []tcprpc.Option{silentHandshake, tcprpc.WithDialTimeout(300 * time.Millisecond)}, "handshake with"},
		// The default: 10 seconds.
		{"TLS by default", []tcprpc.Option{tcprpc.WithTLS(clientTLS)}, "timed out after 10s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := silentServer(t)
			c := newClient(t, addr, jsonCodec(t), tt.opts...)
			err := callOnce(t, c)
			wantErrorContaining(t, err, tt.want, "(WithDialTimeout)")
		})
	}
}

// TestClientWithKeyMeetsServerWithout: a client holding a key waits for the
// server's challenge at most 3 seconds, then says that the server sent none:
// a server without authentication, a TLS server or an HTTP server all wait
// for the client to speak first.
func TestClientWithKeyMeetsServerWithout(t *testing.T) {
	t.Parallel()
	serverTLS, _ := tlsConfigs(t)
	for _, tt := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"no authentication", func(t *testing.T) string { return serveDemo(t, nil) }},
		{"TLS", func(t *testing.T) string { return serveDemo(t, serverTLS) }},
		{"HTTP", func(t *testing.T) string { return httpServerTimeout(t, time.Minute) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.addr(t), jsonCodec(t), withKey(t, alice))
			err := callOnce(t, c)
			wantErrorContaining(t, err, "none came in 3s", "does not require authentication, or speaks another protocol")
			if !errors.Is(err, auth.ErrAuthentication) {
				t.Errorf("%v: not auth.ErrAuthentication", err)
			}
		})
	}
}

// TestClientWithoutKeyMeetsAuthServer: a client without a key that meets a
// server wanting one fails with CodeUnauthenticated and says why, rather
// than with a reply it cannot read.
func TestClientWithoutKeyMeetsAuthServer(t *testing.T) {
	t.Parallel()
	addr := authServer(t)

	// The stream itself says so.
	dial, err := tcprpc.Dialer(addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteMessage(context.Background(), []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[1,2],"id":1}`)); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReadMessage(nil)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeUnauthenticated || !errors.Is(err, auth.ErrAuthentication) {
		t.Errorf("ReadMessage: %v, want an *rpc.Error with CodeUnauthenticated", err)
	}

	// And so does a call.
	c := newClient(t, addr, jsonCodec(t))
	wantErrorContaining(t, callOnce(t, c), "the server requires authentication")
}

// TestClientWithoutKeyFailsUnauthenticated: the call of a client without a
// key that meets a server wanting one fails with an *rpc.Error with
// CodeUnauthenticated, as any authentication failure does. (The client
// passes the stream's error on.)
func TestClientWithoutKeyFailsUnauthenticated(t *testing.T) {
	t.Parallel()
	c := newClient(t, authServer(t), jsonCodec(t))
	err := callOnce(t, c)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeUnauthenticated || !errors.Is(err, auth.ErrAuthentication) {
		t.Errorf("call: %v, want an *rpc.Error with CodeUnauthenticated", err)
	}
}

// TestClientWithoutKeyMeetsOtherProtocols: a client without a key that
// meets a server of another protocol says what the server speaks, or, when
// the server closes the connection without a word, what it may speak.
func TestClientWithoutKeyMeetsOtherProtocols(t *testing.T) {
	t.Parallel()
	serverTLS, _ := tlsConfigs(t)
	alertServer := func(t *testing.T) string {
		addr, conns := silentServer(t)
		go func() {
			for nc := range conns {
				// A TLS server that answers a record it cannot read with
				// an alert (fatal, unexpected_message).
				nc.Read(make([]byte, 64))
				nc.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a})
				nc.Close()
			}
		}()
		return addr
	}
	for _, tt := range []struct {
		name string
		addr func(t *testing.T) string
		want string
	}{
		{"TLS server that closes", func(t *testing.T) string { return serveDemo(t, serverTLS) }, "does it speak TLS (use tls://)"},
		{"TLS server that sends an alert", alertServer, "the server speaks TLS: use tls://"},
		{"HTTP", httpServer, "the server speaks HTTP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.addr(t), jsonCodec(t))
			wantErrorContaining(t, callOnce(t, c), tt.want)
		})
	}
}

// TestAuthenticationFailureIsAnRPCError: a handshake that fails over tcprpc
// fails the call with an *rpc.Error with CodeUnauthenticated, which
// errors.Is matches with auth.ErrAuthentication, as over HTTP.
func TestAuthenticationFailureIsAnRPCError(t *testing.T) {
	t.Parallel()
	addr := authServer(t)
	c := newClient(t, addr, jsonCodec(t), withKey(t, mallory))
	err := callOnce(t, c)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeUnauthenticated {
		t.Fatalf("call with a wrong key: %v, want an *rpc.Error with CodeUnauthenticated", err)
	}
	if !errors.Is(err, auth.ErrAuthentication) || !errors.Is(err, rpc.ErrUnauthenticated) {
		t.Errorf("call with a wrong key: %v, not auth.ErrAuthentication", err)
	}
	if !strings.Contains(re.Message, "rejected our answer") {
		t.Errorf("message %q does not say why", re.Message)
	}
	// The right key gets in.
	ok := newClient(t, addr, jsonCodec(t), withKey(t, alice))
	if err := callOnce(t, ok); err != nil {
		t.Errorf("call with the right key: %v", err)
	}
}
