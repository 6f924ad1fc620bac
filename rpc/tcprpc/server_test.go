package tcprpc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// newRPCServer returns an rpc.Server with the registered codecs.
func newRPCServer(t testing.TB) *rpc.Server {
	t.Helper()
	s, err := rpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newServer(t testing.TB, s *rpc.Server, opts ...tcprpc.Option) *tcprpc.Server {
	t.Helper()
	srv, err := tcprpc.NewServer(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// newClient returns a client of addr, closed at the end of the test.
func newClient(t testing.TB, addr string, c rpc.Codec, opts ...tcprpc.Option) *rpc.Client {
	t.Helper()
	cl, err := tcprpc.NewClient(addr, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// logged records what a server logs, for tests that look at the errors it
// met.
type logged struct {
	mu      sync.Mutex
	errs    []string
	records []logRecord
}

// logRecord is a record logged: its message and attributes as text.
type logRecord struct {
	msg   string
	attrs map[string]string
}

// lines returns the records whose message contains msg.
func (l *logged) lines(msg string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.records {
		if strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

// logger returns a logger that records the "err" of each record in l.
func (l *logged) logger() *slog.Logger { return slog.New(&logHandler{l}) }

func (l *logged) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

type logHandler struct{ l *logged }

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *logHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logHandler) WithGroup(string) slog.Handler            { return h }
func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			msg = a.Value.String()
		}
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.errs = append(h.l.errs, msg)
	h.l.records = append(h.l.records, rec)
	h.l.mu.Unlock()
	return nil
}

func jsonCodec(t testing.TB) rpc.Codec {
	c, ok := rpc.LookupCodec("json")
	if !ok {
		t.Fatal("no json codec")
	}
	return c
}

type env struct {
	srv     *tcprpc.Server
	addr    string
	running atomic.Int32 // calls of "hold" running now
	peak    atomic.Int32
	// Each call of "test.block" says it runs on entered, and returns once
	// release is closed.
	entered chan struct{}
	release chan struct{}
}

// start serves the demo methods plus test methods on a loopback port.
func start(t *testing.T, network string, opts ...tcprpc.Option) *env {
	t.Helper()
	s := newRPCServer(t)
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	e := &env{entered: make(chan struct{}, 100), release: make(chan struct{})}
	if err := s.Register("test.block", func(ctx context.Context) error {
		e.entered <- struct{}{}
		select {
		case <-e.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("test.whoami", func(ctx context.Context) (string, error) {
		p, _ := rpc.PeerFromContext(ctx)
		return p.Transport + ":" + p.Identity, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("test.hold", func(ms int) error {
		n := e.running.Add(1)
		defer e.running.Add(-1)
		for {
			p := e.peak.Load()
			if n <= p || e.peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "rpc.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = newServer(t, s, opts...)
	e.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	t.Cleanup(func() {
		e.srv.Close()
		if err := <-done; !errors.Is(err, tcprpc.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return e
}

func TestCallsOverTCPAndUnix(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			e := start(t, network)
			c := newClient(t, e.addr, jsonCodec(t), tcprpc.WithNetwork(network))
			defer c.Close()
			ctx := context.Background()
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Go(func() {
					for j := range 20 {
						var n int64
						if err := c.Call(ctx, "demo.add", &n, i, j); err != nil || n != int64(i+j) {
							t.Errorf("add(%d, %d) = %d, %v", i, j, n, err)
							return
						}
					}
				})
			}
			wg.Wait()
			var who string
			if err := c.Call(ctx, "test.whoami", &who); err != nil || who != network+":" {
				t.Errorf("whoami = %q, %v", who, err)
			}
			err := c.Call(ctx, "demo.divide", nil, 1, 0)
			var re *rpc.Error
			if !errors.As(err, &re) || re.Code != demo.CodeDivisionByZero {
				t.Errorf("fault over %s: %v", network, err)
			}
			if err := c.Notify(ctx, "notify_hello", 1); err != nil {
				t.Error(err)
			}
			var a, b int64
			if err := c.Batch(ctx,
				&rpc.BatchCall{Method: "demo.add", Params: []any{1, 1}, Result: &a},
				&rpc.BatchCall{Method: "demo.add", Params: []any{2, 2}, Result: &b}); err != nil || a != 2 || b != 4 {
				t.Errorf("batch: %d %d %v", a, b, err)
			}
		})
	}
}

// rawConn dials the server and speaks frames by hand.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// closedByServer reports whether the server closed nc (reading gives EOF or
// a reset) within the test's time.
func closedByServer(nc net.Conn) bool {
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.ReadAll(nc)
	return err == nil || !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestBadFramesCloseTheConnectionOnly(t *testing.T) {
	t.Parallel()
	var log logged
	e := start(t, "tcp", tcprpc.WithMaxMessageSize(1<<10), tcprpc.WithReadTimeout(100*time.Millisecond),
		tcprpc.WithLogger(log.logger()))
	tests := []struct {
		name string
		send []byte
		want string
	}{
		{"declared length over the limit", binary.BigEndian.AppendUint32(nil, 1<<30), "too large"},
		{"long header over the limit", []byte{0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0}, "too large"},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xf0}, "malformed"},
		{"unknown codec", frame.Append(nil, []byte("hello")), "no known codec"},
		{"truncated then stalled", append(binary.BigEndian.AppendUint32(nil, 100), "{"...), "timeout"},
		{"a TLS client", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, "the client speaks TLS"},
		{"an HTTP client", []byte("POST /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n"), "the client speaks HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := rawConn(t, e.addr)
			if _, err := nc.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if !closedByServer(nc) {
				t.Error("the server kept the connection")
			}
		})
	}
	// Everyone else is still served.
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	var n int64
	if err := c.Call(context.Background(), "demo.add", &n, 1, 2); err != nil || n != 3 {
		t.Errorf("after bad frames: %d %v", n, err)
	}
	reported := log.all()
	for _, tt := range tests {
		found := false
		for _, r := range reported {
			found = found || strings.Contains(r, tt.want)
		}
		if !found {
			t.Errorf("no error reported containing %q in %q", tt.want, reported)
		}
	}
}

// TestMaxConns is finding 2 of issue 13 on TCP: at the limit the server
// stops accepting (the new connections wait in the listen backlog) instead
// of accepting and closing them at once, and says so once per burst.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	var log logged
	e := start(t, "tcp", tcprpc.WithMaxConns(2), tcprpc.WithLogger(log.logger()))
	call := []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[1,1],"id":1}`)
	c1, c2 := rawConn(t, e.addr), rawConn(t, e.addr)
	// Make sure both are being served before the others arrive.
	for _, nc := range []net.Conn{c1, c2} {
		if err := frame.Write(nc, call); err != nil {
			t.Fatal(err)
		}
		if _, err := frame.Read(nc, nil, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	// A burst over the limit: each waits, its call sent.
	over := make([]net.Conn, 3)
	for i := range over {
		over[i] = rawConn(t, e.addr)
		if err := frame.Write(over[i], call); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(func() bool { return len(log.lines("connection limit reached")) > 0 }) {
		t.Fatalf("the limit reached was not logged: %q", log.all())
	}
	// Once for the burst, not once per connection waiting.
	if n := len(log.lines("connection limit reached")); n != 1 {
		t.Errorf("the limit reached was logged %d times for one burst", n)
	}
	// Each place freed serves one more of them, in turn.
	c1.Close()
	c2.Close()
	for i, nc := range over {
		nc.SetReadDeadline(time.Now().Add(time.Minute))
		if b, err := frame.Read(nc, nil, 1<<20); err != nil || !strings.Contains(string(b), `"result":2`) {
			t.Fatalf("connection %d over the limit, once a place was free: %q, %v", i, b, err)
		}
		nc.Close()
	}
}

func TestBackpressure(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp", tcprpc.WithMaxInFlight(3))
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := c.Call(context.Background(), "test.hold", nil, 10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := e.peak.Load(); p > 3 || p < 1 {
		t.Errorf("peak of %d calls at once on one connection, limit 3", p)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp", tcprpc.WithIdleTimeout(50*time.Millisecond))
	c := newClient(t, e.addr, jsonCodec(t))
	call := make(chan error, 1)
	go func() { call <- c.Call(context.Background(), "test.block", nil) }()
	<-e.entered
	// A connection that made a call after that call began, then went
	// silent, is closed for its silence, so the idle timeout of the
	// call's connection passed too; but a call in flight keeps its
	// connection.
	idle := rawConn(t, e.addr)
	if err := frame.Write(idle, []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[1,1],"id":1}`)); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(idle) {
		t.Error("an idle connection was kept")
	}
	close(e.release)
	if err := <-call; err != nil {
		t.Errorf("a call longer than the idle timeout: %v", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp")
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	const calls = 50
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			if err := c.Call(context.Background(), "test.hold", nil, 200); err != nil {
				t.Errorf("in-flight call: %v", err)
			}
		})
	}
	// Shut down once every call is running.
	if !waitFor(func() bool { return e.running.Load() == calls }) {
		t.Fatalf("%d of %d calls running", e.running.Load(), calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Error("a new connection was accepted after Shutdown")
	}
}

func TestHandshakeIdentity(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp", tcprpc.WithHandshake(func(ctx context.Context, nc net.Conn) (string, error) {
		b, err := frame.Read(nc, nil, 64)
		if err != nil {
			return "", err
		}
		if string(b) != "let me in" {
			return "", errors.New("wrong word")
		}
		return "alice", frame.Write(nc, []byte("ok"))
	}), tcprpc.WithHandshakeTimeout(200*time.Millisecond))
	hs := func(word string) tcprpc.Option {
		return tcprpc.WithClientHandshake(func(ctx context.Context, nc net.Conn) error {
			if err := frame.Write(nc, []byte(word)); err != nil {
				return err
			}
			_, err := frame.Read(nc, nil, 64)
			return err
		})
	}
	c := newClient(t, e.addr, jsonCodec(t), hs("let me in"))
	defer c.Close()
	var who string
	if err := c.Call(context.Background(), "test.whoami", &who); err != nil || who != "tcp:alice" {
		t.Errorf("whoami = %q, %v", who, err)
	}
	bad := newClient(t, e.addr, jsonCodec(t), hs("open sesame"))
	defer bad.Close()
	if err := bad.Call(context.Background(), "test.whoami", &who); err == nil {
		t.Error("a failed handshake was let through")
	}
	// A peer that never speaks is cut off at the handshake timeout.
	if !closedByServer(rawConn(t, e.addr)) {
		t.Error("a silent peer was kept")
	}
}

func TestClientRedialsAfterServerRestart(t *testing.T) {
	t.Parallel()
	s := newRPCServer(t)
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := newServer(t, s)
	go srv.Serve(ln)
	c := newClient(t, addr, jsonCodec(t))
	defer c.Close()
	entered := make(chan struct{})
	if err := s.Register("test.block", func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	inflight := make(chan error, 1)
	go func() { inflight <- c.Call(context.Background(), "test.block", nil) }()
	<-entered
	srv.Close()
	if err := <-inflight; err == nil {
		t.Error("a call in flight on a closed server succeeded")
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2 := newServer(t, s)
	go srv2.Serve(ln2)
	defer srv2.Close()
	var n int64
	if err := c.Call(context.Background(), "demo.add", &n, 2, 2); err != nil || n != 4 {
		t.Errorf("call after restart: %d %v", n, err)
	}
}

// TestPythonFrames has CPython's multiprocessing.connection.Client send
// JSON-RPC requests as frames, with no authentication.
func TestPythonFrames(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp")
	host, port, _ := net.SplitHostPort(e.addr)
	const script = `
import json, sys
from multiprocessing.connection import Client
c = Client((sys.argv[1], int(sys.argv[2])))
c.send_bytes(json.dumps({"jsonrpc": "2.0", "method": "examples.getStateName", "params": [41], "id": 1}).encode())
r = json.loads(c.recv_bytes())
assert r == {"jsonrpc": "2.0", "result": "South Dakota", "id": 1}, r
# Pipelined: three calls out, three replies back in any order.
for i in range(3):
    c.send_bytes(json.dumps({"jsonrpc": "2.0", "method": "demo.add", "params": [i, 2**62], "id": i}).encode())
got = sorted((r["id"], r["result"]) for r in (json.loads(c.recv_bytes()) for _ in range(3)))
assert got == [(i, i + 2**62) for i in range(3)], got
c.send_bytes(b'{"jsonrpc": "2.0", "method": "demo.divide", "params": [1, 0], "id": 9}')
r = json.loads(c.recv_bytes())
assert r["error"]["code"] == 1001, r
c.close()
print("ok")
`
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			if out := py.Run(t, time.Minute, script, host, port); strings.TrimSpace(out) != "ok" {
				t.Errorf("python printed %q", out)
			}
		})
	}
}
