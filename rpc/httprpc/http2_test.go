package httprpc_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// protoRecorder wraps a handler to record the protocol and the client's
// address of every request.
type protoRecorder struct {
	h      http.Handler
	mu     sync.Mutex
	protos map[string]int
	conns  map[string]bool
}

func newProtoRecorder(h http.Handler) *protoRecorder {
	return &protoRecorder{h: h, protos: map[string]int{}, conns: map[string]bool{}}
}

func (p *protoRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.protos[r.Proto]++
	p.conns[r.RemoteAddr] = true
	p.mu.Unlock()
	p.h.ServeHTTP(w, r)
}

// TestClientHTTP2: with WithHTTP2 a client makes all its calls, concurrent
// ones too, over one HTTP/2 connection: h2c with prior knowledge over http,
// h2 by ALPN over https; against net/http's server and against a Server on
// each engine. A server that does not speak HTTP/2 fails the call.
func TestClientHTTP2(t *testing.T) {
	t.Parallel()
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	clientTLS := certs.ClientConfig(t, false)
	s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})

	type server struct {
		url string
		rec *protoRecorder
	}
	netHTTP := func(overTLS bool) server {
		rec := newProtoRecorder(newHandler(t, s))
		ts := httptest.NewUnstartedServer(rec)
		ts.Config.Protocols = new(http.Protocols)
		ts.Config.Protocols.SetHTTP1(true)
		if overTLS {
			ts.Config.Protocols.SetHTTP2(true)
			ts.EnableHTTP2 = true
			ts.TLS = serverTLS
			ts.StartTLS()
		} else {
			ts.Config.Protocols.SetUnencryptedHTTP2(true)
			ts.Start()
		}
		t.Cleanup(ts.Close)
		return server{ts.URL, rec}
	}
	engine := func(name string, overTLS bool) server {
		rec := newProtoRecorder(newHandler(t, s))
		opts := []httprpc.Option{httprpc.WithEngine(name)}
		if overTLS {
			opts = append(opts, httprpc.WithTLSConfig(serverTLS))
		}
		url := serve(t, rec, opts...)
		if overTLS {
			url = "https" + strings.TrimPrefix(url, "http")
		}
		return server{url, rec}
	}
	for _, tt := range []struct {
		name string
		srv  server
	}{
		{"h2c to net/http", netHTTP(false)},
		{"h2 to net/http", netHTTP(true)},
		{"h2c to the net/http engine", engine("net/http", false)},
		{"h2 to the net/http engine", engine("net/http", true)},
		{"h2c to the own engine", engine("polyrpc", false)},
		{"h2 to the own engine", engine("polyrpc", true)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.srv.url, lineCodec{}, httprpc.WithHTTP2(), httprpc.WithTLSConfig(clientTLS))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
			defer cancel()
			// The first call makes the connection, which the others share.
			var sum int64
			if err := c.Call(ctx, "add", &sum, int64(1), int64(2)); err != nil || sum != 3 {
				t.Fatalf("add: %d, %v", sum, err)
			}
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					var sum int64
					if err := c.Call(ctx, "add", &sum, int64(i), int64(1)); err != nil || sum != int64(i)+1 {
						t.Errorf("add(%d, 1): %d, %v", i, sum, err)
					}
				})
			}
			wg.Wait()
			rec := tt.srv.rec
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.protos["HTTP/2.0"] != 51 || len(rec.protos) != 1 {
				t.Errorf("protocols %v, want 51 calls over HTTP/2.0", rec.protos)
			}
			if len(rec.conns) != 1 {
				t.Errorf("%d connections, want 1", len(rec.conns))
			}
		})
	}

	t.Run("HTTP/1.1 server", func(t *testing.T) {
		ts := httptest.NewServer(newHandler(t, s)) // HTTP/1.1 alone
		t.Cleanup(ts.Close)
		c := newClient(t, ts.URL, lineCodec{}, httprpc.WithHTTP2())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Call(ctx, "add", nil, int64(1), int64(2)); err == nil || ctx.Err() != nil {
			t.Errorf("a call to an HTTP/1.1 server: %v, want an error at once", err)
		}
	})
}

// TestServerProtocols: on each engine a Server speaks HTTP/1.1, h2c with
// prior knowledge, and over TLS h2 and HTTP/1.1, on one listener; requests
// have what net/http gives its handlers (http.ServerContextKey,
// http.LocalAddrContextKey).
func TestServerProtocols(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(http.StatusNoContent)
	})
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		opts      []httprpc.Option
		protocols func(*http.Protocols)
		scheme    string
		wantProto string
	}{
		{"HTTP/1.1", nil, func(p *http.Protocols) { p.SetHTTP1(true) }, "http", "HTTP/1.1"},
		{"h2c", nil, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, "http", "HTTP/2.0"},
		{"h2", []httprpc.Option{httprpc.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}, func(p *http.Protocols) { p.SetHTTP2(true) }, "https", "HTTP/2.0"},
		{"HTTP/1.1 over TLS", []httprpc.Option{httprpc.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}, func(p *http.Protocols) { p.SetHTTP1(true) }, "https", "HTTP/1.1"},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				url := serve(t, h, on(engine, tt.opts...)...)
				tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: certs.ClientConfig(t, false)}
				tt.protocols(tr.Protocols)
				defer tr.CloseIdleConnections()
				resp, err := (&http.Client{Transport: tr}).Get(tt.scheme + strings.TrimPrefix(url, "http"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				r := <-got
				if r.Proto != tt.wantProto {
					t.Errorf("protocol %s, want %s", r.Proto, tt.wantProto)
				}
				if _, ok := r.Context().Value(http.ServerContextKey).(*http.Server); !ok {
					t.Error("no http.ServerContextKey in the request's context")
				}
				if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); !ok || la.String() != strings.TrimPrefix(url, "http://") {
					t.Errorf("http.LocalAddrContextKey %v, want %s", la, url)
				}
			})
		}
	}
}
