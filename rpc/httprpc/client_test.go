package httprpc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	c := rpc.NewClient(httprpc.NewTransport(f.URL), lineCodec{})
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
	f := newFixture(t, nil, httprpc.WithMaxBodySize(32))
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
		opts     []httprpc.ClientOption
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
		{name: "reply too large", url: custom.URL + "/big", codec: lineCodec{}, opts: []httprpc.ClientOption{httprpc.WithMaxReplySize(99)}, wantIs: httprpc.ErrReplyTooLarge},
		{name: "chunked reply too large", url: custom.URL + "/big-chunked", codec: lineCodec{}, opts: []httprpc.ClientOption{httprpc.WithMaxReplySize(99)}, wantIs: httprpc.ErrReplyTooLarge},
		{name: "codec without media type", url: f.URL, codec: streamCodec{lineCodec{}}, wantText: "httprpc: codec stream has no media type"},
		{name: "bad url", url: "localhost:1/x", codec: lineCodec{}, wantText: "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := httprpc.NewClient(tt.url, tt.codec, tt.opts...)
			defer c.Close()
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
	c := httprpc.NewClient(ts.URL, lineCodec{})
	defer c.Close()
	if err := c.Notify(context.Background(), "record", "x"); err != nil {
		t.Fatal(err)
	}
}

func TestClientContext(t *testing.T) {
	f := newFixture(t, nil)
	c := httprpc.NewClient(f.URL, lineCodec{})
	defer c.Close()
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
				// handler's context whatever the client's reason.
				if !errors.Is(err, context.Canceled) {
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
			c := httprpc.NewClient(f.URL, tt.codec)
			defer c.Close()
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
	f := newFixture(t, record)
	c := httprpc.NewClient(f.URL, lineCodec{},
		httprpc.WithHeader("X-Token", "one"),
		httprpc.WithHeader("x-token", "two"),
		httprpc.WithHeader("Host", "rpc.example"),
		httprpc.WithHeader("Content-Type", "text/plain"), // the codec's wins
	)
	defer c.Close()
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

// countingTransport counts the requests of a caller's own http.Client.
type countingTransport struct {
	n atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestClientWithHTTPClient(t *testing.T) {
	f := newFixture(t, nil)
	ct := &countingTransport{}
	c := httprpc.NewClient(f.URL, lineCodec{}, httprpc.WithHTTPClient(&http.Client{Transport: ct}))
	var sum int64
	if err := c.Call(context.Background(), "add", &sum, int64(1), int64(2)); err != nil || sum != 3 {
		t.Fatalf("got %d, %v", sum, err)
	}
	if n := ct.n.Load(); n != 1 {
		t.Errorf("%d requests through the given client, want 1", n)
	}
	c.Close()
}

func TestTransportClose(t *testing.T) {
	f := newFixture(t, nil)
	tr := httprpc.NewTransport(f.URL)
	c := rpc.NewClient(tr, lineCodec{})
	if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := tr.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := c.Call(context.Background(), "add", nil, int64(1), int64(2)); !errors.Is(err, httprpc.ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
}

func TestNewServer(t *testing.T) {
	h := http.NotFoundHandler()
	s := httprpc.NewServer("127.0.0.1:0", h)
	tests := []struct {
		name      string
		got, want any
	}{
		{"Addr", s.Addr, "127.0.0.1:0"},
		{"ReadHeaderTimeout", s.ReadHeaderTimeout, httprpc.DefaultReadHeaderTimeout},
		{"ReadTimeout", s.ReadTimeout, httprpc.DefaultReadTimeout},
		{"IdleTimeout", s.IdleTimeout, httprpc.DefaultIdleTimeout},
		{"WriteTimeout", s.WriteTimeout, time.Duration(0)},
		{"MaxHeaderBytes", s.MaxHeaderBytes, httprpc.DefaultMaxHeaderBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%v, want %v", tt.got, tt.want)
			}
		})
	}
	if s.Handler == nil {
		t.Error("no handler")
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
	tr := httprpc.NewTransport("http://rpc.example/", httprpc.WithHTTPClient(&http.Client{Transport: late}))
	defer tr.Close()
	msg := []byte("call 1 echo \"mine\"")
	_, err := tr.RoundTrip(context.Background(), lineCodec{}, msg, false)
	if se, ok := errors.AsType[*httprpc.StatusError](err); !ok || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("RoundTrip: %v", err)
	}
	// msg belongs to the caller again, who reuses it.
	copy(msg, "call 2 echo \"next\"")
	close(late.read)
	if got := <-late.got; got != nil {
		t.Errorf("a body read after RoundTrip returned gave %q; want a read error", got)
	}
}
