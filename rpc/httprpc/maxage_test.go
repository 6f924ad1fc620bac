package httprpc_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/netutil"
)

// ageRecorder records the connections of a netutil.MaxAge listener that a
// server accepts, and when the server closes each.
type ageRecorder struct {
	net.Listener
	mu     sync.Mutex
	conns  []*agedConn
	closed chan *agedConn
}

func (l *ageRecorder) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &agedConn{Conn: nc, l: l, expires: nc.(interface{ ExpiresAt() time.Time }).ExpiresAt()}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c, nil
}

func (l *ageRecorder) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *ageRecorder) conn(i int) *agedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[i]
}

// waitClosed returns the next connection the server closes, failing the
// test if none closes within 10 s.
func (l *ageRecorder) waitClosed(t *testing.T) *agedConn {
	t.Helper()
	select {
	case c := <-l.closed:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection closed within 10 s")
		return nil
	}
}

// agedConn wraps the MaxAge connection as other wrappers do, with a
// NetConn method: the servers must look through it.
type agedConn struct {
	net.Conn
	l        *ageRecorder
	expires  time.Time
	once     sync.Once
	closedAt time.Time
}

func (c *agedConn) NetConn() net.Conn { return c.Conn }

func (c *agedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.closedAt = time.Now()
		c.l.closed <- c
	})
	return err
}

// maxAgeCases are the protocols a MaxAge listener's connections are
// served in, on each engine.
func maxAgeCases(t *testing.T) (cases []struct {
	name      string
	opts      []httprpc.Option
	scheme    string
	protocols func(*http.Protocols)
}, clientTLS *tls.Config) {
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	withTLS := []httprpc.Option{httprpc.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
	cases = append(cases, []struct {
		name      string
		opts      []httprpc.Option
		scheme    string
		protocols func(*http.Protocols)
	}{
		{"HTTP/1.1", nil, "http", func(p *http.Protocols) { p.SetHTTP1(true) }},
		{"HTTP/1.1 over TLS", withTLS, "https", func(p *http.Protocols) { p.SetHTTP1(true) }},
		{"h2c", nil, "http", func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }},
		{"h2", withTLS, "https", func(p *http.Protocols) { p.SetHTTP2(true) }},
	}...)
	return cases, certs.ClientConfig(t, false)
}

// serveAged serves h on a MaxAge listener of maxAge with opts, until the
// test ends.
func serveAged(t *testing.T, h http.Handler, maxAge time.Duration, opts ...httprpc.Option) (addr string, rec *ageRecorder) {
	t.Helper()
	hs, err := httprpc.NewServer(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec = &ageRecorder{Listener: netutil.MaxAge(ln, maxAge), closed: make(chan *agedConn, 10)}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(rec) }()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return ln.Addr().String(), rec
}

// TestMaxAgeClosesAfterTheResponse: on each engine and protocol, a
// kept-alive connection that expires while a request runs gets its
// response, then closes (HTTP/1.1: Connection: close; HTTP/2: GOAWAY),
// and the client's next request goes over a new connection.
func TestMaxAgeClosesAfterTheResponse(t *testing.T) {
	t.Parallel()
	cases, clientTLS := maxAgeCases(t)
	for _, tt := range cases {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				t.Parallel()
				entered, proceed := make(chan struct{}, 1), make(chan struct{})
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/wait" {
						entered <- struct{}{}
						<-proceed
					}
					io.WriteString(w, "ok "+r.Proto)
				})
				addr, rec := serveAged(t, h, 300*time.Millisecond, on(engine, tt.opts...)...)
				tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: clientTLS.Clone()}
				tt.protocols(tr.Protocols)
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: time.Minute}
				url := tt.scheme + "://" + addr
				get := func(path string) error {
					resp, err := client.Get(url + path)
					if err != nil {
						return err
					}
					defer resp.Body.Close()
					body, err := io.ReadAll(resp.Body)
					if err == nil && (resp.StatusCode != 200 || !strings.HasPrefix(string(body), "ok ")) {
						t.Errorf("GET %s: %s %q", path, resp.Status, body)
					}
					return err
				}
				done := make(chan error, 1)
				go func() { done <- get("/wait") }()
				<-entered
				first := rec.conn(0)
				time.Sleep(time.Until(first.expires)) // the request runs past the expiry
				close(proceed)
				if err := <-done; err != nil {
					t.Fatalf("request across the expiry: %v", err)
				}
				if got := rec.waitClosed(t); got != first {
					t.Fatalf("closed %p, want the expired %p", got, first)
				}
				for range 3 {
					if err := get("/"); err != nil {
						t.Fatalf("next request: %v", err)
					}
				}
				if n := rec.accepted(); n != 2 {
					t.Fatalf("%d connections accepted, want 2", n)
				}
			})
		}
	}
}

// TestMaxAgeClosesAnIdleConnectionAtItsExpiry: on each engine, a
// kept-alive HTTP/1.1 connection idle at its expiry is closed then, not
// before, and the client's next request goes over a new connection. An
// HTTP/2 connection is not closed idle (without GOAWAY, a request on its
// way would fail): its next request is answered, with GOAWAY, and the
// request after it goes over a new connection.
func TestMaxAgeClosesAnIdleConnectionAtItsExpiry(t *testing.T) {
	t.Parallel()
	cases, clientTLS := maxAgeCases(t)
	for _, tt := range cases {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				t.Parallel()
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
				addr, rec := serveAged(t, h, 300*time.Millisecond, on(engine, tt.opts...)...)
				tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: clientTLS.Clone()}
				tt.protocols(tr.Protocols)
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: time.Minute}
				get := func() {
					t.Helper()
					resp, err := client.Get(tt.scheme + "://" + addr)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.Close {
						t.Errorf("a response before the expiry says Connection: close")
					}
				}
				get()
				if strings.HasPrefix(tt.name, "h2") {
					time.Sleep(time.Until(rec.conn(0).expires))
					get()
					if n := rec.accepted(); n != 1 {
						t.Fatalf("%d connections accepted, want the idle one reused", n)
					}
				}
				got := rec.waitClosed(t)
				if got != rec.conn(0) || got.closedAt.Before(got.expires) {
					t.Fatalf("closed at %v, expires at %v", got.closedAt, got.expires)
				}
				get()
				if n := rec.accepted(); n != 2 {
					t.Fatalf("%d connections accepted, want 2", n)
				}
			})
		}
	}
}
