package httprpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	tr, err := httprpc.NewTransport(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(tr, lineCodec{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	t.Run("calls", func(t *testing.T) {
		tests := []struct {
			method string
			params []any
			want   any
		}{
			{"add", []any{int64(40), int64(2)}, int64(42)},
			{"echo", []any{"hello, world"}, "hello, world"},
			{"echo", []any{"quotes \" and\nnewlines, ünïcode"}, "quotes \" and\nnewlines, ünïcode"},
			{"echo", []any{""}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.method, func(t *testing.T) {
				t.Parallel()
				switch want := tt.want.(type) {
				case int64:
					var got int64
					if err := c.Call(ctx, tt.method, &got, tt.params...); err != nil || got != want {
						t.Fatalf("got %v, %v; want %v", got, err, want)
					}
				case string:
					var got string
					if err := c.Call(ctx, tt.method, &got, tt.params...); err != nil || got != want {
						t.Fatalf("got %q, %v; want %q", got, err, want)
					}
				}
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			method   string
			params   []any
			wantCode rpc.Code
		}{
			{"fail", []any{"no luck"}, 42},
			{"nosuch", nil, rpc.CodeMethodNotFound},
			{"add", []any{int64(1)}, rpc.CodeInvalidParams},
		}
		for _, tt := range tests {
			t.Run(tt.method, func(t *testing.T) {
				t.Parallel()
				err := c.Call(ctx, tt.method, nil, tt.params...)
				e, ok := errors.AsType[*rpc.Error](err)
				if !ok || e.Code != tt.wantCode {
					t.Fatalf("error %v, want code %d", err, tt.wantCode)
				}
			})
		}
	})

	t.Run("notify", func(t *testing.T) {
		if err := c.Notify(ctx, "record", "n1"); err != nil {
			t.Fatal(err)
		}
		if got := <-f.notes; got != "n1" {
			t.Errorf("recorded %q", got)
		}
	})

	t.Run("batch", func(t *testing.T) {
		var sum int64
		var echo string
		calls := []*rpc.BatchCall{
			{Method: "add", Params: []any{int64(1), int64(2)}, Result: &sum},
			{Method: "echo", Params: []any{"x"}, Result: &echo},
			{Method: "record", Params: []any{"n2"}, Notification: true},
			{Method: "nosuch"},
		}
		if err := c.Batch(ctx, calls...); err != nil {
			t.Fatal(err)
		}
		if sum != 3 || echo != "x" || calls[0].Err != nil || calls[1].Err != nil {
			t.Errorf("got %d %q %v %v", sum, echo, calls[0].Err, calls[1].Err)
		}
		if !errors.Is(calls[3].Err, rpc.ErrMethodNotFound) {
			t.Errorf("nosuch: %v", calls[3].Err)
		}
		if got := <-f.notes; got != "n2" {
			t.Errorf("recorded %q", got)
		}
	})
}

func TestClientStatusErrors(t *testing.T) {
	f := newFixture(t, nil, httprpc.WithMaxMessageSize(32))
	long := strings.Repeat("é", 300) // two bytes each: 200 bytes cut one in two
	custom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/unavailable":
			http.Error(w, long, http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/big":
			w.Header().Set("Content-Type", lineType)
			w.Write([]byte(`ok 1 "` + strings.Repeat("b", 100) + `"`))
		case "/big-chunked":
			w.Header().Set("Content-Type", lineType)
			for range 10 {
				w.Write([]byte(strings.Repeat("b", 10)))
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(custom.Close) // after the parallel subtests

	tests := []struct {
		name     string
		url      string
		codec    rpc.Codec
		opts     []httprpc.Option
		params   []any
		wantCode int    // a *StatusError with this code, if not 0
		wantText string // in the error's text
		wantIs   error
	}{
		{name: "unsupported media type", url: f.URL, codec: otherCodec{}, wantCode: 415, wantText: `httprpc: 415 Unsupported Media Type: httprpc: unsupported Content-Type "application/x-other"`},
		{name: "too large", url: f.URL, codec: lineCodec{}, params: []any{strings.Repeat("x", 64)}, wantCode: 413, wantText: "httprpc: 413 Request Entity Too Large: httprpc: request body larger than 32 bytes"},
		{name: "unavailable", url: custom.URL + "/unavailable", codec: lineCodec{}, wantCode: 503, wantText: "httprpc: 503 Service Unavailable: " + strings.Repeat("é", 99)},
		{name: "redirect not followed", url: custom.URL + "/moved", codec: lineCodec{}, wantCode: 302},
		{name: "no content to a call", url: custom.URL + "/empty", codec: lineCodec{}, wantIs: rpc.ErrNoReply},
		{name: "reply too large", url: custom.URL + "/big", codec: lineCodec{}, opts: []httprpc.Option{httprpc.WithMaxMessageSize(99)}, wantIs: rpc.ErrLimitExceeded, wantText: "reply too large"},
		{name: "chunked reply too large", url: custom.URL + "/big-chunked", codec: lineCodec{}, opts: []httprpc.Option{httprpc.WithMaxMessageSize(99)}, wantIs: rpc.ErrLimitExceeded, wantText: "reply too large"},
		{name: "pipelined reply too large", url: custom.URL + "/big", codec: lineCodec{}, opts: []httprpc.Option{httprpc.WithMaxMessageSize(99), httprpc.WithPipelining(4)}, wantIs: rpc.ErrLimitExceeded, wantText: "reply too large"},
		{name: "pipelined chunked reply too large", url: custom.URL + "/big-chunked", codec: lineCodec{}, opts: []httprpc.Option{httprpc.WithMaxMessageSize(99), httprpc.WithPipelining(4)}, wantIs: rpc.ErrLimitExceeded, wantText: "reply too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, tt.url, tt.codec, tt.opts...)
			params := tt.params
			if params == nil {
				params = []any{"x"}
			}
			err := c.Call(context.Background(), "echo", nil, params...)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantCode != 0 {
				se, ok := errors.AsType[*httprpc.StatusError](err)
				if !ok || se.Code != tt.wantCode {
					t.Fatalf("error %v, want status %d", err, tt.wantCode)
				}
				if len(se.Body) > 200 {
					t.Errorf("body of %d bytes", len(se.Body))
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v, want %v", err, tt.wantIs)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestClientOnewayAcceptsBody(t *testing.T) {
	// A server may answer a notification with a body (some JSON-RPC
	// servers do); a oneway message ignores it.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok - nil"))
	}))
	defer ts.Close()
	c := newClient(t, ts.URL, lineCodec{})
	if err := c.Notify(context.Background(), "record", "x"); err != nil {
		t.Fatal(err)
	}
}

func TestClientContext(t *testing.T) {
	f := newFixture(t, nil)
	c := newClient(t, f.URL, lineCodec{})
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		cancel bool // cancel once the call started on the server
		want   error
	}{
		{"canceled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- c.Call(ctx, "slow", nil) }()
			<-f.slowStarted
			if tt.cancel {
				cancel()
			}
			// "slow" returns only when its context ends, so both
			// receives below prove that the call ended early.
			select {
			case err := <-errc:
				if !errors.Is(err, tt.want) {
					t.Errorf("client: %v, want %v", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call did not return after its context ended")
			}
			select {
			case err := <-f.slowEnded:
				// The client closed the connection, which cancels the
				// handler's context; a deadline travels with the call
				// (Polyrpc-Timeout-Ms), so the handler's may end first.
				if !errors.Is(err, context.Canceled) && !(tt.want == context.DeadlineExceeded && errors.Is(err, context.DeadlineExceeded)) {
					t.Errorf("server: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server's call went on after the client left")
			}
		})
	}
}

func TestClientKeepAlive(t *testing.T) {
	const calls = 20
	tests := []struct {
		name   string
		method string
		codec  rpc.Codec
	}{
		{"results", "add", lineCodec{}},
		{"rpc errors", "nosuch", lineCodec{}},
		{"status errors", "add", otherCodec{}}, // 415: the body is drained
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := newClient(t, f.URL, tt.codec)
			for range calls {
				c.Call(context.Background(), tt.method, nil, int64(1), int64(2))
			}
			if n := len(f.newConns()); n != 1 {
				t.Errorf("%d calls opened %d connections, want 1", calls, n)
			}
		})
	}
}

func TestClientHeaders(t *testing.T) {
	var got atomic.Pointer[http.Request]
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Store(r)
			next.ServeHTTP(w, r)
		})
	}
	// The server is on loopback, where only IP addresses, localhost and
	// the hosts of allowed origins are served (DNS rebinding).
	f := newFixture(t, record, httprpc.WithAllowOrigin("http://rpc.example"))
	c := newClient(t, f.URL, lineCodec{},
		httprpc.WithHeader("X-Token", "one"),
		httprpc.WithHeader("x-token", "two"),
		httprpc.WithHeader("Host", "rpc.example"),
	)
	if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); err != nil {
		t.Fatal(err)
	}
	r := got.Load()
	tests := []struct {
		name, got, want string
	}{
		{"X-Token", strings.Join(r.Header.Values("X-Token"), ","), "one,two"},
		{"Host", r.Host, "rpc.example"},
		{"Content-Type", r.Header.Get("Content-Type"), lineType},
		{"Accept", r.Header.Get("Accept"), lineType},
		{"Method", r.Method, http.MethodPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}
}

// countingTransport counts the requests of a caller's own RoundTripper.
type countingTransport struct {
	n atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestClientWithRoundTripper(t *testing.T) {
	f := newFixture(t, nil)
	ct := &countingTransport{}
	c := newClient(t, f.URL, lineCodec{}, httprpc.WithRoundTripper(ct))
	var sum int64
	if err := c.Call(context.Background(), "add", &sum, int64(1), int64(2)); err != nil || sum != 3 {
		t.Fatalf("got %d, %v", sum, err)
	}
	if n := ct.n.Load(); n != 1 {
		t.Errorf("%d requests through the given RoundTripper, want 1", n)
	}
}

func TestTransportClose(t *testing.T) {
	f := newFixture(t, nil)
	tr, err := httprpc.NewTransport(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(tr, lineCodec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := tr.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); !errors.Is(err, rpc.ErrClosed) {
		t.Errorf("call after Close: %v, want rpc.ErrClosed", err)
	}
}

// lateRoundTripper answers at once and reads the request body only when
// told to, after RoundTrip returned, as http.RoundTripper allows ("may do so
// in a separate goroutine even after RoundTrip returns"). net/http does so
// when a server answers before it has read the whole request.
type lateRoundTripper struct {
	read chan struct{} // closed to start reading
	got  chan []byte   // what the late reader read, nil if it failed
}

func (l *lateRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	go func() {
		<-l.read
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			b = nil
		}
		l.got <- b
	}()
	return &http.Response{
		StatusCode: http.StatusServiceUnavailable,
		Body:       io.NopCloser(strings.NewReader("busy")),
		Request:    r,
	}, nil
}

func TestTransportLateBodyRead(t *testing.T) {
	late := &lateRoundTripper{read: make(chan struct{}), got: make(chan []byte, 1)}
	tr, err := httprpc.NewTransport("http://rpc.example/", httprpc.WithRoundTripper(late))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	msg := []byte("call 1 echo \"mine\"")
	_, err = tr.Exchange(context.Background(), lineCodec{}, msg, false)
	if se, ok := errors.AsType[*httprpc.StatusError](err); !ok || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("Exchange: %v", err)
	}
	// msg belongs to the caller again, who reuses it.
	copy(msg, "call 2 echo \"next\"")
	close(late.read)
	if got := <-late.got; got != nil {
		t.Errorf("a body read after Exchange returned gave %q; want a read error", got)
	}
}

// headerWrapper returns a wrapper that sets a header on every request, as
// request signing does, and counts the requests.
func headerWrapper(n *atomic.Int64) func(http.RoundTripper) http.RoundTripper {
	return func(base http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			r = r.Clone(r.Context())
			r.Header.Set("X-Signed", "yes")
			return base.RoundTrip(r)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestClientWrapper: WithWrapper wraps whatever engine the client uses: its
// own, with the TLS configuration and the pipelining given, or the one given.
// It is the TLS + signing recipe: WithTLSConfig(cfg), WithWrapper(sign).
func TestClientWrapper(t *testing.T) {
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Pointer[http.Request]
	f := newFixture(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Signed") != "yes" {
				http.Error(w, "not signed", http.StatusUnauthorized)
				return
			}
			got.Store(r)
			next.ServeHTTP(w, r)
		})
	})
	// The fixture's httptest server, over TLS this time, served by the
	// package's own server.
	tlsURL := serve(t, f.Config.Handler, httprpc.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
	tlsURL = "https" + strings.TrimPrefix(tlsURL, "http")

	tests := []struct {
		name    string
		url     string
		opts    []httprpc.Option
		wantTLS bool
	}{
		{"own engine over TLS", tlsURL, []httprpc.Option{httprpc.WithTLSConfig(certs.ClientConfig(t, false))}, true},
		{"own engine over TLS, pipelining", tlsURL, []httprpc.Option{httprpc.WithTLSConfig(certs.ClientConfig(t, false)), httprpc.WithPipelining(4)}, true},
		{"own engine", f.URL, nil, false},
		{"given round tripper", tlsURL, []httprpc.Option{httprpc.WithRoundTripper(&http.Transport{TLSClientConfig: certs.ClientConfig(t, false)})}, true},
		{"given net/http round tripper", f.URL, []httprpc.Option{httprpc.WithRoundTripper(&http.Transport{})}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			c := newClient(t, tt.url+"/RPC2", lineCodec{}, append(tt.opts, httprpc.WithWrapper(headerWrapper(&n)))...)
			for i := range 3 {
				var sum int64
				if err := c.Call(context.Background(), "add", &sum, int64(i), int64(2)); err != nil || sum != int64(i)+2 {
					t.Fatalf("call %d: %d, %v", i, sum, err)
				}
			}
			if n.Load() != 3 {
				t.Errorf("the wrapper saw %d requests, want 3", n.Load())
			}
			if r := got.Load(); (r.TLS != nil) != tt.wantTLS {
				t.Errorf("request over TLS: %v, want %v", r.TLS != nil, tt.wantTLS)
			}
		})
	}
}

// TestClientWrappersNest: wrappers given several times add up, the first
// innermost, and none changes the caller's http.Transport.
func TestClientWrappersNest(t *testing.T) {
	f := newFixture(t, nil)
	var order []string
	wrap := func(name string) func(http.RoundTripper) http.RoundTripper {
		return func(base http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				order = append(order, name)
				return base.RoundTrip(r)
			})
		}
	}
	tr := &http.Transport{}
	c := newClient(t, f.URL, lineCodec{}, httprpc.WithRoundTripper(tr), httprpc.WithWrapper(wrap("inner")), httprpc.WithWrapper(wrap("outer")))
	if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "outer,inner" {
		t.Errorf("wrappers ran in the order %v, want outer, inner", order)
	}
	if tr.Proxy != nil || tr.DialContext != nil {
		t.Errorf("the caller's http.Transport was changed")
	}
}

// TestClientUnauthenticated: a 401, as an authenticating server answers a
// caller without valid credentials, is an *rpc.Error with code
// CodeUnauthenticated, the error of an unauthenticated call on every
// transport; other statuses stay StatusErrors.
func TestClientUnauthenticated(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/401":
			w.Header().Set("WWW-Authenticate", `PolyRPC-HMAC nonce="abc"`)
			http.Error(w, "auth: missing credentials", http.StatusUnauthorized)
		case "/403":
			http.Error(w, "forbidden", http.StatusForbidden)
		}
	}))
	defer ts.Close()
	for _, oneway := range []bool{false, true} {
		c := newClient(t, ts.URL+"/401", lineCodec{})
		var err error
		if oneway {
			err = c.Notify(context.Background(), "record", "x")
		} else {
			err = c.Call(context.Background(), "add", nil, int64(1), int64(2))
		}
		if !errors.Is(err, rpc.ErrUnauthenticated) {
			t.Errorf("oneway %v: %v, want rpc.ErrUnauthenticated", oneway, err)
		}
		e, ok := errors.AsType[*rpc.Error](err)
		if !ok || e.Code != rpc.CodeUnauthenticated {
			t.Fatalf("oneway %v: %#v, want an *rpc.Error with CodeUnauthenticated", oneway, err)
		}
		if want := "httprpc: the server requires authentication: 401 Unauthorized: auth: missing credentials"; e.Message != want {
			t.Errorf("message %q, want %q", e.Message, want)
		}
	}
	c := newClient(t, ts.URL+"/403", lineCodec{})
	err := c.Call(context.Background(), "add", nil, int64(1), int64(2))
	if se, ok := errors.AsType[*httprpc.StatusError](err); !ok || se.Code != http.StatusForbidden || errors.Is(err, rpc.ErrUnauthenticated) {
		t.Errorf("403: %v, want a StatusError", err)
	}
}

// TestClientMaxIdleConns: the client keeps as many idle connections as
// WithMaxIdleConns says, and closes the others.
func TestClientMaxIdleConns(t *testing.T) {
	const calls = 3
	for _, tt := range []struct {
		maxIdle   int
		wantConns int // connections dialed by two rounds of calls at once
	}{
		{1, calls + calls - 1},
		{calls, calls},
	} {
		t.Run(strconv.Itoa(tt.maxIdle), func(t *testing.T) {
			var arrived sync.WaitGroup
			f := newFixture(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					// Every call of a round waits for all to arrive: each
					// needs a connection of its own.
					arrived.Done()
					arrived.Wait()
					next.ServeHTTP(w, r)
				})
			})
			c := newClient(t, f.URL, lineCodec{}, httprpc.WithMaxIdleConns(tt.maxIdle))
			for range 2 {
				arrived.Add(calls)
				var wg sync.WaitGroup
				for range calls {
					wg.Go(func() {
						if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
			}
			if n := len(f.newConns()); n != tt.wantConns {
				t.Errorf("%d connections, want %d", n, tt.wantConns)
			}
		})
	}
}
