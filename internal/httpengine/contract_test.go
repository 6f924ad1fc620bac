package httpengine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// These tests hold the Server to net/http's contract with a Handler: what
// middleware written for net/http relies on.

// ctxOf returns a handler that sends each request's context to got, after
// calling use on it, and answers 200.
func ctxOf(got chan<- context.Context, use func(context.Context) context.Context) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if use != nil {
			ctx = use(ctx)
		}
		got <- ctx
		io.WriteString(w, "ok")
	}
}

// waitDone fails the test unless ctx ends (within a guard against hangs).
func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(hostileHangGuard):
		t.Fatalf("%s: the context did not end", what)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("%s: Err %v, want context.Canceled", what, ctx.Err())
	}
}

// TestRequestContextEndsWithHandler: a request's context ends when its
// handler returns, as with net/http, whether the handler looked at Done
// or not, and contexts derived from it end with it; the next request's
// context is a new one.
func TestRequestContextEndsWithHandler(t *testing.T) {
	for _, tc := range []struct {
		name string
		use  func(context.Context) context.Context
	}{
		{"untouched", nil},
		{"Done called", func(ctx context.Context) context.Context { ctx.Done(); return ctx }},
		{"derived WithCancel", func(ctx context.Context) context.Context {
			ctx, cancel := context.WithCancel(ctx) // ends with its parent
			context.AfterFunc(ctx, cancel)
			return ctx
		}},
		{"derived WithValue", func(ctx context.Context) context.Context {
			return context.WithValue(ctx, ctxKey{}, 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan context.Context, 2)
			url, _, _ := startServer(t, ctxOf(got, tc.use))
			nc, br := rawConn(t, url)
			// Two requests in one write: the first one's context has
			// ended by the time the second's handler runs.
			io.WriteString(nc, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
			first, second := <-got, <-got
			for range 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.ReadAll(resp.Body)
			}
			if first == second {
				t.Fatal("two requests share a context")
			}
			waitDone(t, first, "the first request's")
			waitDone(t, second, "the second request's")
			if err := context.Cause(first); !errors.Is(err, context.Canceled) {
				t.Errorf("Cause %v, want context.Canceled", err)
			}
		})
	}
}

type ctxKey struct{}

// TestRequestContextLiveWhileHandlerRuns: the context of a request whose
// handler runs has not ended, and derived contexts and AfterFunc end when
// the handler returns.
func TestRequestContextLiveWhileHandlerRuns(t *testing.T) {
	afterFunc := make(chan struct{})
	derived := make(chan context.Context, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := ctx.Err(); err != nil {
			t.Errorf("Err %v while the handler runs", err)
		}
		select {
		case <-ctx.Done():
			t.Error("Done closed while the handler runs")
		default:
		}
		context.AfterFunc(ctx, func() { close(afterFunc) })
		d, cancel := context.WithTimeout(ctx, time.Hour)
		_ = cancel // ends with its parent
		derived <- d
		io.WriteString(w, "ok")
	})
	url, _, _ := startServer(t, h)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close() // the connection stays open, idle
	waitDone(t, <-derived, "the derived")
	<-afterFunc
}

// TestRequestContextValues: the keys net/http puts into a request's
// context: the *http.Server, and the local address.
func TestRequestContextValues(t *testing.T) {
	got := make(chan context.Context, 1)
	url, _, _ := startServer(t, ctxOf(got, nil))
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx := <-got
	if hs, ok := ctx.Value(http.ServerContextKey).(*http.Server); !ok || hs == nil {
		t.Errorf("ServerContextKey: %#v, want an *http.Server", ctx.Value(http.ServerContextKey))
	}
	addr, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || "http://"+addr.String() != url {
		t.Errorf("LocalAddrContextKey: %v, want %s", ctx.Value(http.LocalAddrContextKey), url)
	}
}

// TestResponseController: what http.ResponseController finds on the
// ResponseWriter. Flush sends what was written so far (chunked, its length
// unknown) while the handler waits; the deadlines are set; full duplex is
// allowed: the handler answers before it reads the body, which the client
// sends only once it has the answer's start.
func TestResponseController(t *testing.T) {
	flushed := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for name, err := range map[string]error{
			"EnableFullDuplex": rc.EnableFullDuplex(),
			"SetReadDeadline":  rc.SetReadDeadline(time.Now().Add(time.Hour)),
			"SetWriteDeadline": rc.SetWriteDeadline(time.Now().Add(time.Hour)),
		} {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		io.WriteString(w, "first part;")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-flushed
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the body after the answer began: %v", err)
		}
		io.WriteString(w, "body "+string(body))
	})
	url, _, _ := startServer(t, h)
	nc, br := rawConn(t, url)
	io.WriteString(nc, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding %v, want chunked", resp.TransferEncoding)
	}
	part := make([]byte, len("first part;"))
	if _, err := io.ReadFull(resp.Body, part); err != nil || string(part) != "first part;" {
		t.Fatalf("before the handler returned: %q, %v", part, err)
	}
	close(flushed)
	io.WriteString(nc, "abcd")
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "body abcd" {
		t.Errorf("the rest: %q, %v", rest, err)
	}
	hostileExpectOpen(t, nc, br)
}

// upgradeEcho is a handler that switches to a protocol of its own: after
// 101 it echoes each line it reads, prefixed by "echo: ", until "bye".
func upgradeEcho(t *testing.T, hijacked chan<- net.Conn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			io.WriteString(w, "plain "+r.URL.Path)
			return
		}
		w.Header().Set("Upgrade", "echo")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		nc, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Write after Hijack: %v, want http.ErrHijacked", err)
		}
		if hijacked != nil {
			hijacked <- nc
		}
		go func() {
			defer nc.Close()
			for {
				line, err := rw.ReadString('\n')
				if err != nil || line == "bye\n" {
					return
				}
				rw.WriteString("echo: " + line)
				rw.Flush()
			}
		}()
	}
}

// TestHijackUpgrade: an Upgrade handshake by hand. The 101 goes out after
// the answer to a request pipelined before it, with the handler's fields
// and no framing of its own; the bytes the client sent right behind the
// request reach the handler through the bufio.Reader; and the hijacked
// connection leaves the server: Shutdown does not wait for it, nor close
// it, and the limit per source no longer counts it.
func TestHijackUpgrade(t *testing.T) {
	hijacked := make(chan net.Conn, 1)
	url, srv, _ := startServer(t, upgradeEcho(t, hijacked), func(s *httpengine.Server) { s.MaxConnsPerIP = 1 })
	nc, br := rawConn(t, url)
	io.WriteString(nc, "GET /first HTTP/1.1\r\nHost: h\r\n\r\n"+
		"GET /up HTTP/1.1\r\nHost: h\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly\n")
	resp, body := hostileRead(t, br, "GET")
	if resp.StatusCode != 200 || body != "plain /first" {
		t.Fatalf("the request before the upgrade: %s %q", resp.Status, body)
	}
	head, err := readHeadLines(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(head, "HTTP/1.1 101 Switching Protocols\r\n") ||
		!strings.Contains(head, "\r\nUpgrade: echo\r\n") || !strings.Contains(head, "\r\nConnection: Upgrade\r\n") ||
		strings.Contains(head, "Content-Length") || strings.Contains(head, "Transfer-Encoding") || strings.Contains(head, "close") {
		t.Fatalf("the 101's head: %q", head)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "echo: early\n" {
		t.Fatalf("the bytes sent right behind the request: %q, %v", line, err)
	}
	<-hijacked

	// Out of the server's accounting: another connection from the same
	// source is served, with MaxConnsPerIP 1 ...
	hostileGetOK(t, strings.TrimPrefix(url, "http://"))
	// ... and Shutdown has no connection to wait for.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	io.WriteString(nc, "after shutdown\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: after shutdown\n" {
		t.Fatalf("the hijacked connection after Shutdown: %q, %v", line, err)
	}
	io.WriteString(nc, "bye\n")
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after bye: %v, want the handler's close", err)
	}
}

// readHeadLines reads a response head, up to its empty line, as it is.
func readHeadLines(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\r\n" {
			return b.String(), nil
		}
	}
}

// TestHijackErrors: Hijack twice fails with http.ErrHijacked, and after
// the handler returned with errAfterHandler; a handler that hijacks
// without writing anything writes its own answer.
func TestHijackErrors(t *testing.T) {
	late := make(chan http.ResponseWriter, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			late <- w
			return
		}
		nc, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		if _, _, err := w.(http.Hijacker).Hijack(); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("a second Hijack: %v, want http.ErrHijacked", err)
		}
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
		rw.Flush()
		nc.Close()
	})
	url, _, _ := startServer(t, h)
	resp, err := http.Get(url + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "raw" {
		t.Errorf("the handler's own answer: %q", b)
	}
	resp, err = http.Get(url + "/late")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, _, err := (<-late).(http.Hijacker).Hijack(); err == nil {
		t.Error("Hijack after the handler returned succeeded")
	}
}

// TestWebSocket: a WebSocket handler (github.com/coder/websocket) runs on
// the Server's listener, beside ordinary requests.
func TestWebSocket(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		defer c.CloseNow()
		ctx := context.Background() // r's ends when the handler returns
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") })
	url, _, _ := startServer(t, mux)
	ctx, cancel := context.WithTimeout(context.Background(), hostileHangGuard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for i := range 3 {
		want := fmt.Sprintf("message %d", i)
		if err := c.Write(ctx, websocket.MessageText, []byte(want)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != "echo: "+want {
			t.Fatalf("got %q, %v; want echo: %s", got, err, want)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("Close: %v", err)
	}
	resp, err := http.Get(url + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain" {
		t.Errorf("an ordinary request beside it: %q", b)
	}
}

// TestHTTP09RequestAnsweredAtOnce: a request line without a version
// (HTTP/0.9's "GET /") is answered 400 at once, as net/http does, not
// after the head timeout, which is an hour here.
func TestHTTP09RequestAnsweredAtOnce(t *testing.T) {
	_, addr := startHostile(t, hostileEcho, func(s *httpengine.Server) { s.ReadHeaderTimeout = time.Hour })
	for _, line := range []string{"GET /\r\n", "GET /\n", "GET\r\n"} {
		c, br := hostileDial(t, addr) // its deadline guards against a hang
		hostileSend(t, c, line)
		resp, body := hostileRead(t, br, "GET")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "request line") {
			t.Errorf("%q: %s %q, want 400", line, resp.Status, body)
		}
		hostileExpectClosed(t, br)
	}
}

// TestOptionsAsterisk: "OPTIONS *" is answered by the server, 200 with no
// body, as net/http answers it (an http.ServeMux would answer 400), and
// the connection goes on.
func TestOptionsAsterisk(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mux") })
	_, addr := startHostile(t, mux, nil)
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	resp, body := hostileRead(t, br, "OPTIONS")
	if resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != 0 || resp.Close {
		t.Errorf("OPTIONS *: %s %q, length %d, close %v", resp.Status, body, resp.ContentLength, resp.Close)
	}
	hostileExpectOpen(t, c, br)
}

// TestRequestTrailers: a chunked request's trailer fields are parsed as
// strictly as its header fields, and reach the handler in r.Trailer after
// the body, announced ones from the start; a malformed one (a NUL in a
// value, a fold) fails the body's read (here: 400 from the handler) and
// closes the connection; the Trailer field may not announce framing
// fields.
func TestRequestTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		announced := fmt.Sprint(r.Trailer)
		if _, ok := r.Header["Trailer"]; ok {
			t.Error("the Trailer field was left in the header")
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %s", announced, r.Trailer)
	})
	_, addr := startHostile(t, h, nil)
	const head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
		body      string // the answer's start
	}{
		{"announced", head + "Trailer: x-a, X-B\r\n\r\n1\r\nz\r\n0\r\nX-A: 1\r\nX-C: 3\r\n\r\n", 200, "map[X-A:[] X-B:[]] map[X-A:[1] X-B:[] X-C:[3]]"},
		{"unannounced", head + "\r\n1\r\nz\r\n0\r\nX-A: 1\r\n\r\n", 200, "map[] map[X-A:[1]]"},
		{"none", head + "\r\n1\r\nz\r\n0\r\n\r\n", 200, "map[] map[]"},
		{"NUL in a value", head + "\r\n1\r\nz\r\n0\r\nX-A: a\x00b\r\n\r\n", 400, "malformed trailer"},
		{"folded", head + "\r\n1\r\nz\r\n0\r\nX-A: a\r\n b\r\n\r\n", 400, "malformed trailer"},
		{"no colon", head + "\r\n1\r\nz\r\n0\r\nX-A\r\n\r\n", 400, "malformed trailer"},
		{"announces Content-Length", head + "Trailer: Content-Length\r\n\r\n0\r\n\r\n", 400, "Trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := hostileDial(t, addr)
			hostileSend(t, c, tc.req)
			resp, body := hostileRead(t, br, "POST")
			if resp.StatusCode != tc.status || !strings.HasPrefix(body, tc.body) && !strings.Contains(body, tc.body) {
				t.Fatalf("%s %q, want %d %q", resp.Status, body, tc.status, tc.body)
			}
			if tc.status == 200 {
				hostileExpectOpen(t, c, br)
			} else {
				hostileExpectClosed(t, br)
			}
		})
	}
}
