package tcprpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"

	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// tlsConfigs returns the TLS configurations of a server and of its clients,
// with a throwaway CA.
func tlsConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}
}

// TestTLSIdleConnectionClosedByServer: over TLS too, a connection the
// server closed while the client was idle (its close_notify waiting unread)
// is noticed before the next call, which redials instead of failing.
func TestTLSIdleConnectionClosedByServer(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := tlsConfigs(t)
	s := newRPCServer(t)
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	serve := func(addr string) *tcprpc.Server {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		srv := newServer(t, s)
		go srv.Serve(tls.NewListener(ln, serverTLS))
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := serve(addr)
	cl := newClient(t, addr, jsonCodec(t), tcprpc.WithTLS(clientTLS))
	defer cl.Close()
	var sum int
	for i := range 2 {
		if err := cl.Call(context.Background(), "demo.add", &sum, i, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	serve(addr)
	for i := range 3 {
		if err := cl.Call(context.Background(), "demo.add", &sum, i, 2); err != nil || sum != i+2 {
			t.Fatalf("call %d after the restart: %d, %v", i, sum, err)
		}
	}
}
