package httprpc_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// pipeListener is a net.Listener of in-memory connections, for tests in a
// synctest bubble, where time is fake and sockets cannot be used.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client's end of a new connection.
func (l *pipeListener) dial() net.Conn {
	c, s := net.Pipe()
	l.conns <- s
	return c
}

// closeInBubble closes hs, whose Serve returns its error on done, and lets
// the server's goroutines see it before the synctest bubble ends: the
// watcher of a server's connections looks at them every 50 ms.
func closeInBubble(t *testing.T, hs *httprpc.Server, done <-chan error) {
	t.Helper()
	hs.Close()
	if err := <-done; err != http.ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
	time.Sleep(time.Second)
}

// noContent answers every request with 204 No Content.
var noContent = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
})

type pipeAddr struct{}

// engines are the HTTP engines of a Server (WithEngine): its tests run on
// each, and say where net/http's differs.
var engines = []string{"polyrpc", "net/http"}

// on returns opts with the option that picks engine.
func on(engine string, opts ...httprpc.Option) []httprpc.Option {
	return append(opts[:len(opts):len(opts)], httprpc.WithEngine(engine))
}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestServerReadTimeout: a request must be read within WithReadTimeout, its
// head too, even when that is shorter than the head's own 10 s.
func TestServerReadTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    []httprpc.Option
		request string
		want    time.Duration
	}{
		{"head, default", nil, "POST / HTTP/1.1\r\nHost: x\r\n", 10 * time.Second},
		{"head", []httprpc.Option{httprpc.WithReadTimeout(50 * time.Millisecond)}, "POST / HTTP/1.1\r\nHost: x\r\n", 50 * time.Millisecond},
		{"body, default", nil, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 60 * time.Second},
		{"body", []httprpc.Option{httprpc.WithReadTimeout(30 * time.Second)}, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 30 * time.Second},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body) })
					hs, err := httprpc.NewServer(h, on(engine, tt.opts...)...)
					if err != nil {
						t.Fatal(err)
					}
					ln := newPipeListener()
					done := make(chan error, 1)
					go func() { done <- hs.Serve(ln) }()
					c := ln.dial()
					start := time.Now()
					if _, err := io.WriteString(c, tt.request); err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, c) // until the server closes
					if got := time.Since(start); got != tt.want {
						t.Errorf("closed after %v, want %v", got, tt.want)
					}
					c.Close()
					closeInBubble(t, hs, done)
				})
			})
		}
	}
}

// TestServerIdleTimeout: a kept-alive connection whose request succeeded
// waits WithIdleTimeout for its next request.
func TestServerIdleTimeout(t *testing.T) {
	for _, tt := range []struct {
		opts []httprpc.Option
		want time.Duration
	}{
		{nil, 120 * time.Second},
		{[]httprpc.Option{httprpc.WithIdleTimeout(time.Second)}, time.Second},
	} {
		for _, engine := range engines {
			t.Run(engine, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					hs, err := httprpc.NewServer(noContent, on(engine, tt.opts...)...)
					if err != nil {
						t.Fatal(err)
					}
					ln := newPipeListener()
					done := make(chan error, 1)
					go func() { done <- hs.Serve(ln) }()
					c := ln.dial()
					defer closeInBubble(t, hs, done)
					defer c.Close()
					if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
						t.Fatal(err)
					}
					br := bufio.NewReader(c)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					start := time.Now()
					if _, err := br.ReadByte(); err != io.EOF {
						t.Errorf("idle connection: %v, want EOF", err)
					}
					if got := time.Since(start); got != tt.want {
						t.Errorf("closed after %v idle, want %v", got, tt.want)
					}
				})
			})
		}
	}
}

// TestServerLogsPanics: a handler's panic goes to WithLogger at Error level.
func TestServerLogsPanics(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testServerLogsPanics(t, engine) })
	}
}

func testServerLogsPanics(t *testing.T, engine string) {
	rec := &recordHandler{}
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	url := serve(t, h, on(engine, httprpc.WithLogger(slog.New(rec)))...)
	resp, err := http.Get(url)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a panicking handler answered")
	}
	levels, panics := rec.attrs("panic")
	if len(panics) != 1 || panics[0] != "boom" || levels[0] != slog.LevelError {
		t.Errorf("logged %v at %v, want boom at ERROR", panics, levels)
	}
}

// TestServerShutdown: Shutdown lets a call in flight finish, and Serve
// returns http.ErrServerClosed.
func TestServerShutdown(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testServerShutdown(t, engine) })
	}
}

func testServerShutdown(t *testing.T, engine string) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	hs, err := httprpc.NewServer(h, httprpc.WithEngine(engine))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	close(release)
	if b := <-got; b != "done" {
		t.Errorf("the call in flight got %q", b)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
