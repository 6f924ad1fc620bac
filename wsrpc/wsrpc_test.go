package wsrpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/polyrpc/polyrpc/auth"
	_ "github.com/polyrpc/polyrpc/codec/json"
	_ "github.com/polyrpc/polyrpc/codec/msgpack"
	_ "github.com/polyrpc/polyrpc/codec/proto"
	_ "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/wsrpc"
)

type env struct {
	url       string // ws:// or wss:// URL of /ws
	srv       *httptest.Server
	h         *wsrpc.Handler
	entered   chan struct{}
	release   chan struct{}
	cancelled chan struct{} // a "block" call saw its context end
	tls       *tls.Config   // the client's, for wss
	// "hold" calls count themselves in running (peak: the most at once)
	// and each returns on a token of tokens.
	tokens        chan struct{}
	running, peak atomic.Int32
}

// start serves test methods at GET /ws, over TLS when withTLS.
func start(t *testing.T, withTLS bool, wrap func(http.Handler) http.Handler, opts ...wsrpc.Option) *env {
	t.Helper()
	s, err := rpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{entered: make(chan struct{}, 256), release: make(chan struct{}), tokens: make(chan struct{}), cancelled: make(chan struct{}, 256)}
	must(t, s.Register("hold", func(ctx context.Context) error {
		n := e.running.Add(1)
		defer e.running.Add(-1)
		for {
			p := e.peak.Load()
			if n <= p || e.peak.CompareAndSwap(p, n) {
				break
			}
		}
		e.entered <- struct{}{}
		select {
		case <-e.tokens:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	must(t, s.Register("add", func(a, b int64) (int64, error) { return a + b, nil }))
	must(t, s.Register("block", func(ctx context.Context, n int64) (int64, error) {
		e.entered <- struct{}{}
		select {
		case <-e.release:
			return n, nil
		case <-ctx.Done():
			e.cancelled <- struct{}{}
			return 0, ctx.Err()
		}
	}))
	must(t, s.Register("whoami", func(ctx context.Context) (string, error) {
		p, _ := rpc.PeerFromContext(ctx)
		return p.Transport + ":" + p.Identity, nil
	}))
	must(t, s.Register("codec", func(ctx context.Context) (string, error) {
		c, _ := rpc.CallFromContext(ctx)
		return c.Codec, nil
	}))
	h, err := wsrpc.NewHandler(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	var handler http.Handler = h
	if wrap != nil {
		handler = wrap(h)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", handler)
	if withTLS {
		files := testcert.New(t)
		cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
		if err != nil {
			t.Fatal(err)
		}
		e.srv = httptest.NewUnstartedServer(mux)
		e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		e.srv.StartTLS()
		e.tls = files.ClientConfig(t, false)
		e.url = "wss://" + e.srv.Listener.Addr().String() + "/ws"
	} else {
		e.srv = httptest.NewServer(mux)
		e.url = "ws://" + e.srv.Listener.Addr().String() + "/ws"
	}
	t.Cleanup(func() {
		h.Shutdown(context.Background())
		e.srv.Close()
	})
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func client(t testing.TB, e *env, codec string, opts ...wsrpc.ClientOption) *rpc.Client {
	t.Helper()
	c, ok := rpc.LookupCodec(codec)
	if !ok {
		t.Fatalf("no codec %q", codec)
	}
	if e.tls != nil {
		opts = append(opts, wsrpc.WithTLSConfig(e.tls))
	}
	cl, err := wsrpc.NewClient(e.url, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

var codecs = []string{"json", "xml", "msgpack", "proto"}

func TestCodecs(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		e := start(t, withTLS, nil)
		for _, name := range codecs {
			for _, pin := range []bool{true, false} {
				t.Run(fmt.Sprintf("tls=%v/%s/pin=%v", withTLS, name, pin), func(t *testing.T) {
					var opts []wsrpc.ClientOption
					if !pin {
						opts = append(opts, wsrpc.WithoutSubprotocol())
					}
					cl := client(t, e, name, opts...)
					var sum int64
					if err := cl.Call(context.Background(), "add", &sum, 2, 3); err != nil {
						t.Fatal(err)
					}
					if sum != 5 {
						t.Errorf("add(2, 3) = %d", sum)
					}
					var who, codec string
					must(t, cl.Call(context.Background(), "whoami", &who))
					must(t, cl.Call(context.Background(), "codec", &codec))
					want := "ws:"
					if withTLS {
						want = "wss:"
					}
					if who != want || codec != name {
						t.Errorf("whoami = %q, codec = %q; want %q, %q", who, codec, want, name)
					}
				})
			}
		}
	}
}

// TestMultiplexed runs calls at once on one connection: all of them are
// served together (each waits until all entered) before any returns.
func TestMultiplexed(t *testing.T) {
	for _, name := range []string{"json", "msgpack", "proto"} {
		t.Run(name, func(t *testing.T) {
			e := start(t, false, nil)
			cl := client(t, e, name)
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					var got int64
					if err := cl.Call(context.Background(), "block", &got, i); err != nil {
						errs <- err
					} else if got != int64(i) {
						errs <- fmt.Errorf("block(%d) = %d", i, got)
					}
				})
			}
			for range n {
				<-e.entered
			}
			close(e.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestCancel cancels a call in flight: the client sends $/cancelRequest on
// the connection and the server's handler sees its context end.
func TestCancel(t *testing.T) {
	e := start(t, false, nil)
	cl := client(t, e, "json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cl.Call(ctx, "block", nil, 1) }()
	<-e.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	<-e.cancelled // the server's handler saw $/cancelRequest
	// The connection serves on.
	var sum int64
	must(t, cl.Call(context.Background(), "add", &sum, 1, 1))
}

func TestSubprotocol(t *testing.T) {
	e := start(t, false, nil)
	for _, name := range codecs {
		ws, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{Subprotocols: []string{wsrpc.Subprotocol(name)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := ws.Subprotocol(); got != wsrpc.Subprotocol(name) {
			t.Errorf("%s: subprotocol %q", name, got)
		}
		ws.CloseNow()
	}
	// Pinned to jsonrpc, a message that would sniff as msgpack is read as
	// JSON: a parse error reply, in a text message.
	ws, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{Subprotocols: []string{"jsonrpc"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	must(t, ws.Write(context.Background(), websocket.MessageBinary, []byte{0x94, 0x00, 0x01, 0xa3, 'a', 'd', 'd', 0x90}))
	typ, msg, err := ws.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageText || !strings.Contains(string(msg), "-32700") {
		t.Errorf("reply %v %s, want a text parse error", typ, msg)
	}
	// A plain JSON-RPC call by hand.
	must(t, ws.Write(context.Background(), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":7,"method":"add","params":[40,2]}`)))
	_, msg, err = ws.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), `"result":42`) {
		t.Errorf("reply %s", msg)
	}
}

func TestTooBig(t *testing.T) {
	e := start(t, false, nil, wsrpc.WithMaxMessageSize(1024))
	ws, _, err := websocket.Dial(context.Background(), e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	big := `{"jsonrpc":"2.0","id":1,"method":"add","params":["` + strings.Repeat("x", 4096) + `"]}`
	ws.Write(context.Background(), websocket.MessageText, []byte(big))
	_, _, err = ws.Read(context.Background())
	if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
		t.Fatalf("read after a message too big: %v (status %d), want 1009", err, code)
	}
	// The server goes on.
	cl := client(t, e, "json")
	var sum int64
	must(t, cl.Call(context.Background(), "add", &sum, 1, 2))
	if sum != 3 {
		t.Errorf("sum %d", sum)
	}
}

func TestBadText(t *testing.T) {
	e := start(t, false, nil)
	ws, _, err := websocket.Dial(context.Background(), e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.Write(context.Background(), websocket.MessageText, []byte("{\"a\":\"\xff\"}"))
	_, _, err = ws.Read(context.Background())
	if code := websocket.CloseStatus(err); code != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("invalid UTF-8: %v, want 1007", err)
	}
	ws2, _, err := websocket.Dial(context.Background(), e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	ws2.Write(context.Background(), websocket.MessageText, []byte("hello"))
	_, _, err = ws2.Read(context.Background())
	if code := websocket.CloseStatus(err); code != websocket.StatusUnsupportedData {
		t.Fatalf("unknown codec: %v, want 1003", err)
	}
}

func TestOrigin(t *testing.T) {
	e := start(t, false, nil, wsrpc.WithAllowOrigin("https://good.example"))
	for origin, want := range map[string]int{
		"https://evil.example":                     http.StatusForbidden,
		"https://good.example":                     http.StatusSwitchingProtocols,
		"http://" + e.srv.Listener.Addr().String(): http.StatusSwitchingProtocols, // same origin
	} {
		ws, resp, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if resp == nil {
			t.Fatalf("%s: %v", origin, err)
		}
		if resp.StatusCode != want {
			t.Errorf("origin %s: status %d, want %d (%v)", origin, resp.StatusCode, want, err)
		}
		if ws != nil {
			ws.CloseNow()
		}
	}
}

func TestShutdown(t *testing.T) {
	e := start(t, false, nil)
	ws, _, err := websocket.Dial(context.Background(), e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	// The connection is served once a call was answered on it.
	must(t, ws.Write(context.Background(), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}`)))
	if _, _, err := ws.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- e.h.Shutdown(context.Background()) }()
	_, _, err = ws.Read(context.Background())
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Fatalf("after Shutdown: %v, want 1001", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestAuth(t *testing.T) {
	key := auth.Key{ID: "alice", Secret: []byte("0123456789abcdef0123456789abcdef")}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, false, func(h http.Handler) http.Handler {
		a, err := auth.NewHTTPHandler(h, keys)
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
	_, resp, err := websocket.Dial(context.Background(), e.url, nil)
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned upgrade: %v %v, want 401", resp, err)
	}
	cl := client(t, e, "json", wsrpc.WithHTTPClient(&http.Client{Transport: key.SignHTTP(nil)}))
	var who string
	must(t, cl.Call(context.Background(), "whoami", &who))
	if who != "ws:alice" {
		t.Errorf("whoami = %q", who)
	}
}

// TestMaxInFlight sends more calls than the connection may run at once: the
// server reads no further until one ends, so no more than the limit ever
// run together, and all are answered.
func TestMaxInFlight(t *testing.T) {
	e := start(t, false, nil, wsrpc.WithMaxInFlight(2))
	ws, _, err := websocket.Dial(context.Background(), e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	const n = 6
	for i := range n {
		must(t, ws.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"hold"}`, i))))
	}
	replies := make(chan error, n)
	go func() {
		for range n {
			_, _, err := ws.Read(context.Background())
			replies <- err
		}
	}()
	<-e.entered
	<-e.entered // the limit is reached
	for range n {
		e.tokens <- struct{}{}
	}
	for range n {
		if err := <-replies; err != nil {
			t.Fatal(err)
		}
	}
	if p := e.peak.Load(); p != 2 {
		t.Errorf("%d calls ran at once, want 2", p)
	}
}

// TestIdle: a connection without a message or a call in flight for the
// idle timeout is closed with 1001.
func TestIdle(t *testing.T) {
	e := start(t, false, nil, wsrpc.WithIdleTimeout(20*time.Millisecond), wsrpc.WithPingInterval(0))
	ws, _, err := websocket.Dial(context.Background(), e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, _, err = ws.Read(context.Background())
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Fatalf("idle connection: %v, want 1001", err)
	}
}

// TestPing: the server pings, and a client that reads answers, so calls
// go on over a connection that saw many pings.
func TestPing(t *testing.T) {
	e := start(t, false, nil, wsrpc.WithPingInterval(5*time.Millisecond))
	pinged := make(chan struct{}, 100)
	ws, _, err := websocket.Dial(context.Background(), e.url, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pinged <- struct{}{}:
			default:
			}
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs := make(chan []byte, 1)
	go func() {
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- msg
		}
	}()
	for range 3 {
		<-pinged
	}
	must(t, ws.Write(context.Background(), websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}`)))
	if msg, ok := <-msgs; !ok || !strings.Contains(string(msg), `"result":3`) {
		t.Fatalf("after pings: %q %v", msg, ok)
	}
}
