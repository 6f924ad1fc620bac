package tcprpc_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// The fault tests break connections on purpose: cut mid-frame either way,
// servers restarted under their clients, peers that trickle or say nothing,
// and thousands of idle connections. They are not parallel, so that their
// memory and goroutine figures are theirs alone.

// faultEnv is a server on a loopback port whose listener is watched, with
// the demo methods and fault.hold, a call that runs until released.
type faultEnv struct {
	srv     *tcprpc.Server
	addr    string
	ln      *watchedListener
	running atomic.Int32 // fault.hold calls running
	release chan struct{}
	served  chan error // Serve's result

	log logged // what the server logged
}

func startFault(t *testing.T, opts ...tcprpc.Option) *faultEnv {
	t.Helper()
	return startFaultRPC(t, nil, opts...)
}

// startFaultRPC is startFault with options of the rpc.Server.
func startFaultRPC(t *testing.T, rpcOpts []rpc.Option, opts ...tcprpc.Option) *faultEnv {
	t.Helper()
	e := &faultEnv{release: make(chan struct{}), served: make(chan error, 1)}
	s, err := rpc.NewServer(rpcOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("fault.hold", func(ctx context.Context, tag int) (int, error) {
		e.running.Add(1)
		defer e.running.Add(-1)
		select {
		case <-e.release:
			return tag, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.ln = &watchedListener{Listener: ln}
	e.addr = ln.Addr().String()
	opts = append([]tcprpc.Option{tcprpc.WithLogger(e.log.logger())}, opts...)
	e.srv = newServer(t, s, opts...)
	go func() { e.served <- e.srv.Serve(e.ln) }()
	t.Cleanup(func() {
		e.releaseHolds()
		e.srv.Close()
		if err := <-e.served; !errors.Is(err, tcprpc.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return e
}

func (e *faultEnv) releaseHolds() {
	select {
	case <-e.release:
	default:
		close(e.release)
	}
}

// waitReported waits for an error containing want to be reported.
func (e *faultEnv) waitReported(t *testing.T, want string) {
	t.Helper()
	if !waitFor(func() bool {
		for _, r := range e.log.all() {
			if strings.Contains(r, want) {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no error containing %q reported; reported: %q", want, e.log.all())
	}
}

// waitFor polls cond for up to a minute: long enough for any loaded machine,
// short enough to fail a test rather than hang it.
func waitFor(cond func() bool) bool {
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(2 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// watchedListener counts what the server does with its connections: how
// many it accepted, the bytes it read, and how many of them it is waiting
// on, having read stallAt bytes and asking for more.
type watchedListener struct {
	net.Listener
	stallAt  atomic.Int64
	accepted atomic.Int64
	closed   atomic.Int64 // connections the server closed
	stalled  atomic.Int64
	// hook, when set, is called before each SetDeadline and
	// SetReadDeadline of a served connection.
	hook atomic.Pointer[func(c *watchedConn)]
}

func (l *watchedListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return &watchedConn{Conn: nc, l: l}, nil
}

type watchedConn struct {
	net.Conn
	l       *watchedListener
	read    atomic.Int64
	stalled atomic.Bool
	closed  atomic.Bool
	calls   atomic.Int32 // of SetDeadline and SetReadDeadline
}

func (c *watchedConn) Close() error {
	if !c.closed.Swap(true) {
		c.l.closed.Add(1)
	}
	return c.Conn.Close()
}

func (c *watchedConn) Read(p []byte) (int, error) {
	if c.read.Load() == c.l.stallAt.Load() && !c.stalled.Swap(true) {
		c.l.stalled.Add(1)
	}
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *watchedConn) SetReadDeadline(t time.Time) error {
	c.calls.Add(1)
	if f := c.l.hook.Load(); f != nil {
		(*f)(c)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *watchedConn) SetDeadline(t time.Time) error {
	c.calls.Add(1)
	if f := c.l.hook.Load(); f != nil {
		(*f)(c)
	}
	return c.Conn.SetDeadline(t)
}

// cutProxy forwards connections to a server and cuts the ones limit says
// after so many bytes in one direction: it passes that many, then closes
// both sides. A limit below zero passes everything.
type cutProxy struct {
	ln     net.Listener
	target string
	// limit gives, for the i-th connection, the bytes passed upstream
	// (client to server) and downstream before the cut.
	limit func(i int) (up, down int64)
	n     atomic.Int32
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string, limit func(i int) (up, down int64)) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, limit: limit}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve() {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		conns = append(conns, client, server)
		up, down := p.limit(int(p.n.Add(1)) - 1)
		var once sync.Once
		cut := func() {
			once.Do(func() {
				client.Close()
				server.Close()
			})
		}
		pipe := func(dst, src net.Conn, limit int64) {
			defer cut()
			if limit < 0 {
				io.Copy(dst, src)
				return
			}
			if n, _ := io.CopyN(dst, src, limit); n == limit {
				p.cuts.Add(1)
			}
		}
		p.wg.Go(func() { pipe(server, client, up) })
		p.wg.Go(func() { pipe(client, server, down) })
	}
}

// lostConnection checks that a call ended because its connection broke,
// not because the test's deadline ran out.
func lostConnection(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, rpc.ErrConnectionLost) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s: %v, want rpc.ErrConnectionLost", what, err)
	}
}

// holdCalls starts n fault.hold calls on c and waits until the server runs
// them all; their errors come on the channel.
func holdCalls(t *testing.T, ctx context.Context, e *faultEnv, c *rpc.Client, n int) <-chan error {
	t.Helper()
	base := e.running.Load()
	errc := make(chan error, n)
	for i := range n {
		go func() {
			var tag int
			err := c.Call(ctx, "fault.hold", &tag, i)
			if err == nil && tag != i {
				err = fmt.Errorf("fault.hold(%d) = %d", i, tag)
			}
			errc <- err
		}()
	}
	if !waitFor(func() bool { return e.running.Load() >= base+int32(n) }) {
		t.Fatalf("%d of %d calls running", e.running.Load()-base, n)
	}
	return errc
}

// TestPeerCutsMidFrame has raw peers close their connection in the middle
// of a frame: the server drops that connection only, and frees its place.
func TestPeerCutsMidFrame(t *testing.T) {
	// A cap of 3 connections: if cut connections kept their place, the
	// second client below would be refused.
	e := startFault(t, tcprpc.WithMaxConns(3))
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Call(ctx, "demo.add", nil, 1, 2); err != nil {
		t.Fatal(err)
	}
	req := frame.Append(nil, []byte(`{"jsonrpc":"2.0","method":"demo.echo","params":["`+strings.Repeat("x", 500)+`"],"id":1}`))
	tests := []struct {
		name string
		send []byte
	}{
		{"in the header", req[:2]},
		{"after the header", req[:4]},
		{"in the payload", req[:100]},
		{"one byte short", req[:len(req)-1]},
		{"in a long header", []byte{0xff, 0xff, 0xff, 0xff, 0, 0}},
	}
	for i, tt := range tests {
		nc, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(tt.send); err != nil {
			t.Fatal(err)
		}
		nc.Close()
		// The server notices and closes its end.
		if !waitFor(func() bool { return e.ln.closed.Load() > int64(i) }) {
			t.Fatalf("%s: %d of %d cut connections closed by the server", tt.name, e.ln.closed.Load(), i+1)
		}
		var s string
		if err := c.Call(ctx, "demo.echo", &s, tt.name); err != nil || s != tt.name {
			t.Errorf("after a peer cut %s: %q, %v", tt.name, s, err)
		}
	}
	// The cut connections freed their places: a second client gets in.
	c2 := newClient(t, e.addr, jsonCodec(t))
	defer c2.Close()
	if !waitFor(func() bool { return c2.Call(ctx, "demo.add", nil, 1, 2) == nil }) {
		t.Errorf("a new client after the cuts: %v", c2.Call(ctx, "demo.add", nil, 1, 2))
	}
	// Each cut was reported: the first at once, the others in a count (at
	// the latest when the server closes).
	e.srv.Close()
	reported := 0
	for _, r := range e.log.lines("connection") {
		if strings.Contains(r.attrs["err"], "unexpected EOF") {
			n, err := strconv.Atoi(r.attrs["count"])
			if err != nil {
				n = 1
			}
			reported += n
		}
	}
	if reported != len(tests) {
		t.Errorf("%d cuts reported, want %d: %q", reported, len(tests), e.log.all())
	}
}

// TestPeerHalfClosesMidFrame: a peer that sends a whole request, then half
// a frame, then shuts its side has left, as far as the server can tell:
// the call in flight is cancelled, and its reply, -32002, is still written
// to a peer that reads on.
func TestPeerHalfClosesMidFrame(t *testing.T) {
	e := startFault(t)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := frame.Append(nil, []byte(`{"jsonrpc":"2.0","method":"fault.hold","params":[7],"id":1}`))
	msg = append(msg, frame.Append(nil, []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[1,2],"id":2}`))[:20]...)
	if _, err := nc.Write(msg); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool { return e.running.Load() == 1 }) {
		t.Fatal("the whole request was not served")
	}
	nc.(*net.TCPConn).CloseWrite()
	e.waitReported(t, "unexpected EOF")
	e.releaseHolds()
	nc.SetReadDeadline(time.Now().Add(time.Minute))
	reply, err := frame.Read(nc, nil, 1<<20)
	if err != nil || !strings.Contains(string(reply), `"code":-32002`) || !strings.Contains(string(reply), `"id":1`) {
		t.Fatalf("reply to the whole request: %q, %v", reply, err)
	}
	if _, err := frame.Read(nc, nil, 1<<20); err != io.EOF {
		t.Errorf("after the reply: %v, want EOF", err)
	}
}

// TestConnectionCutMidFrame cuts a client's connection in the middle of a
// frame, either way, through a proxy: the calls in flight fail with
// ErrConnectionLost, the next call redials, and the server serves the
// other clients throughout.
func TestConnectionCutMidFrame(t *testing.T) {
	big := strings.Repeat("y", 16<<10)
	for _, dir := range []string{"request", "reply"} {
		t.Run(dir, func(t *testing.T) {
			e := startFault(t)
			// The first connection is cut 2000 bytes into one direction:
			// inside the big echo, since the five holds before it take
			// less and none is answered before it.
			p := startProxy(t, e.addr, func(i int) (int64, int64) {
				switch {
				case i > 0:
					return -1, -1
				case dir == "request":
					return 2000, -1
				default:
					return -1, 2000
				}
			})
			c := newClient(t, p.ln.Addr().String(), jsonCodec(t))
			defer c.Close()
			direct := newClient(t, e.addr, jsonCodec(t))
			defer direct.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			holds := holdCalls(t, ctx, e, c, 5)
			var s string
			err := c.Call(ctx, "demo.echo", &s, big)
			lostConnection(t, "the call whose "+dir+" was cut", err)
			for range 5 {
				lostConnection(t, "a call in flight", <-holds)
			}
			if p.cuts.Load() != 1 {
				t.Errorf("%d cuts", p.cuts.Load())
			}
			// Others are served still, and the client redials.
			if err := direct.Call(ctx, "demo.echo", &s, "direct"); err != nil || s != "direct" {
				t.Errorf("another client: %q, %v", s, err)
			}
			if err := c.Call(ctx, "demo.echo", &s, big); err != nil || s != big {
				t.Errorf("after the cut: %d bytes, %v", len(s), err)
			}
			if n := p.n.Load(); n != 2 {
				t.Errorf("%d connections through the proxy, want 2", n)
			}
			if dir == "request" {
				e.waitReported(t, "unexpected EOF")
			}
		})
	}
}

// TestServerRestartUnderClient stops a server abruptly while a connected
// client has calls in flight, then starts another on the same address.
func TestServerRestartUnderClient(t *testing.T) {
	e := startFault(t)
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Call(ctx, "demo.add", nil, 1, 2); err != nil {
		t.Fatal(err)
	}
	holds := holdCalls(t, ctx, e, c, 5)
	e.srv.Close() // a crash, as far as the client can tell
	for range 5 {
		lostConnection(t, "a call in flight at the crash", <-holds)
	}
	// While no server listens, calls fail at once, not at the deadline.
	if err := c.Call(ctx, "demo.add", nil, 1, 2); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a call while the server is down: %v", err)
	}

	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", e.addr, err)
	}
	s := newRPCServer(t)
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	srv2 := newServer(t, s)
	done := make(chan error, 1)
	go func() { done <- srv2.Serve(ln) }()
	defer func() {
		srv2.Close()
		<-done
	}()
	var n int64
	if err := c.Call(ctx, "demo.add", &n, 40, 2); err != nil || n != 42 {
		t.Errorf("a call after the restart: %d, %v", n, err)
	}
}

// TestSlowlorisFrames has peers send a frame too slowly: the server closes
// them at the read timeout, before the frame is complete, and serves the
// others meanwhile.
func TestSlowlorisFrames(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	e := startFault(t, tcprpc.WithReadTimeout(readTimeout), tcprpc.WithIdleTimeout(time.Hour))
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	payload := []byte(`{"jsonrpc":"2.0","method":"demo.echo","params":["` + strings.Repeat("z", 200) + `"],"id":1}`)
	msg := frame.Append(nil, payload)
	tests := []struct {
		name  string
		start int           // bytes sent at once
		every time.Duration // then one byte at a time
	}{
		{"bytes slower than the timeout", 4, 2 * readTimeout},
		// Each byte well within the timeout, the whole frame not: the
		// timeout bounds the frame, not each read.
		{"frame slower than the timeout", 4, readTimeout / 10},
		{"header trickled", 0, readTimeout / 10},
	}
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Go(func() {
			nc, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				nc.SetReadDeadline(time.Now().Add(time.Minute))
				io.Copy(io.Discard, nc)
			}()
			if _, err := nc.Write(msg[:tt.start]); err != nil {
				t.Error(err)
				return
			}
			for sent := tt.start; ; sent++ {
				select {
				case <-closed:
					return // closed before the frame was complete
				case <-time.After(tt.every):
				}
				if sent == len(msg)-1 {
					t.Errorf("%s: the whole frame went through", tt.name)
					return
				}
				if _, err := nc.Write(msg[sent : sent+1]); err != nil {
					return // closed: the write saw it first
				}
			}
		})
	}
	// Served meanwhile.
	var s string
	if err := c.Call(context.Background(), "demo.echo", &s, "meanwhile"); err != nil || s != "meanwhile" {
		t.Errorf("another client during the slowloris: %q, %v", s, err)
	}
	wg.Wait()
	e.waitReported(t, "timeout")
	// Alike failures of one source are logged once, then counted; the
	// count is logged at the latest when the server closes.
	e.srv.Close()
	first, alike := e.log.lines("connection ended"), e.log.lines("connections ended alike")
	if len(first) != 1 || len(alike) != 1 || !strings.Contains(first[0].attrs["err"], "timeout") ||
		alike[0].attrs["count"] != strconv.Itoa(len(tests)-1) || !strings.Contains(alike[0].attrs["err"], "timeout") {
		t.Errorf("logged %q, want one timeout and a count of %d more", e.log.all(), len(tests)-1)
	}
}

// silentHandshake is a handshake that waits for a frame from the peer.
func silentHandshake(ctx context.Context, nc net.Conn) (string, error) {
	if _, err := frame.Read(nc, nil, 64); err != nil {
		return "", err
	}
	return "peer", frame.Write(nc, []byte("ok"))
}

// TestSlowlorisHandshake has peers say nothing, or trickle the handshake
// frame: they are closed at the handshake timeout.
func TestSlowlorisHandshake(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := startFault(t, tcprpc.WithHandshake(silentHandshake), tcprpc.WithHandshakeTimeout(timeout))
	hello := frame.Append(nil, []byte("hello, I am slow"))
	var wg sync.WaitGroup
	for _, trickle := range []bool{false, true} {
		wg.Go(func() {
			nc, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				nc.SetReadDeadline(time.Now().Add(time.Minute))
				io.Copy(io.Discard, nc)
			}()
			for sent := 0; ; sent++ {
				select {
				case <-closed:
					return
				case <-time.After(timeout / 10):
				}
				if sent == len(hello)-1 {
					t.Errorf("trickle %v: the whole handshake went through", trickle)
					return
				}
				if trickle {
					if _, err := nc.Write(hello[sent : sent+1]); err != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	e.waitReported(t, "handshake")
	// A peer that does speak gets in.
	c := newClient(t, e.addr, jsonCodec(t), tcprpc.WithClientHandshake(func(ctx context.Context, nc net.Conn) error {
		if err := frame.Write(nc, []byte("hi")); err != nil {
			return err
		}
		_, err := frame.Read(nc, nil, 64)
		return err
	}))
	defer c.Close()
	if err := c.Call(context.Background(), "demo.add", nil, 1, 2); err != nil {
		t.Errorf("a client that completes the handshake: %v", err)
	}
}

// Idle and stalled connections are opened by a helper process (this test
// binary, running TestFaultHelperProcess), so that the file descriptors and
// memory of their client ends are not this process's.
const (
	helperEnv  = "TCPRPC_FAULT_HELPER" // mode,addr,count
	idleEnv    = "TCPRPC_IDLE_CONNS"   // overrides the idle connection count
	perConnMax = 64 << 10              // bound on memory per stalled or idle connection
)

// TestFaultHelperProcess is not a test: it opens connections for the
// others when run as their helper process. It dials count connections to
// addr, then, by mode, sends nothing ("idle") or a frame header promising
// 1 MiB and one byte of it ("frame"), prints "ready", and holds them until
// its standard input ends.
func TestFaultHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("only a helper process for the fault tests")
	}
	f := strings.Split(spec, ",")
	n, _ := strconv.Atoi(f[2])
	var conns []net.Conn
	for range n {
		nc, err := net.Dial("tcp", f[1])
		if err != nil {
			fmt.Printf("dial: %v\n", err)
			os.Exit(1)
		}
		if f[0] == "frame" {
			if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, 1<<20), '{')); err != nil {
				fmt.Printf("write: %v\n", err)
				os.Exit(1)
			}
		}
		conns = append(conns, nc)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, nc := range conns {
		nc.Close()
	}
	os.Exit(0)
}

// helperConns has a helper process open n connections in mode, and returns
// a function that closes them all.
func helperConns(t *testing.T, mode, addr string, n int) (closeAll func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d", helperEnv, mode, addr, n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	closeAll = func() {
		stdin.Close()
		cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		closeAll()
		t.Fatalf("helper process: %q, %v", line, err)
	}
	t.Cleanup(closeAll)
	return closeAll
}

// fdLimit returns the process's limit on open files, or 0 when unknown.
func fdLimit() int {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "Max open files") && len(f) >= 4 {
			n, _ := strconv.Atoi(f[3])
			return n
		}
	}
	return 0
}

// memInUse is the heap and stack memory in use after a collection.
func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// perConn measures the memory the server holds for each of n connections
// that the helper opens in mode and the server then waits on.
func perConn(t *testing.T, e *faultEnv, mode string, n int) (bytes int64, closeAll func()) {
	t.Helper()
	before := memInUse()
	stalled := e.ln.stalled.Load()
	closeAll = helperConns(t, mode, e.addr, n)
	if !waitFor(func() bool { return e.ln.stalled.Load() >= stalled+int64(n) }) {
		t.Fatalf("the server waits on %d of %d connections", e.ln.stalled.Load()-stalled, n)
	}
	return (memInUse() - before) / int64(n), closeAll
}

// TestStalledConnectionMemory bounds what a stalled connection costs the
// server: one that stopped mid-frame after promising 1 MiB, one that says
// nothing during the handshake.
func TestStalledConnectionMemory(t *testing.T) {
	const n = 200
	if lim := fdLimit(); lim != 0 && lim < n+200 {
		t.Skipf("ulimit -n is %d: too low for %d connections", lim, n)
	}
	for _, tt := range []struct {
		mode    string
		stallAt int64
		opts    []tcprpc.Option
	}{
		{"frame", 5, nil},
		{"idle", 0, []tcprpc.Option{tcprpc.WithHandshake(silentHandshake)}},
	} {
		name := map[string]string{"frame": "mid-frame", "idle": "silent in the handshake"}[tt.mode]
		t.Run(name, func(t *testing.T) {
			// Timeouts long enough that nothing is closed while measured,
			// and a budget that lets every connection read its frame (each
			// promises 1 MiB).
			e := startFaultRPC(t, []rpc.Option{rpc.WithMaxMemory(4 << 30)},
				append(tt.opts, tcprpc.WithReadTimeout(time.Hour), tcprpc.WithHandshakeTimeout(time.Hour))...)
			e.ln.stallAt.Store(tt.stallAt)
			per, _ := perConn(t, e, tt.mode, n)
			t.Logf("%d connections stalled %s: %d bytes each (heap and stacks)", n, name, per)
			if per > perConnMax {
				t.Errorf("%d bytes per stalled connection, want at most %d", per, perConnMax)
			}
		})
	}
}

// TestIdleConnections opens many idle connections, as many as the server's
// cap: those over it wait until there is room, and each idle one costs
// bounded memory. The figure is 10,000 (TCPRPC_IDLE_CONNS=10000,
// without -race, whose goroutine limit is 8128); CI runs 2000.
func TestIdleConnections(t *testing.T) {
	n := 2000
	if s := os.Getenv(idleEnv); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if lim := fdLimit(); lim != 0 && lim < n+200 {
		t.Skipf("ulimit -n is %d: too low for %d idle connections (set %s lower)", lim, n, idleEnv)
	}
	e := startFault(t, tcprpc.WithMaxConns(n), tcprpc.WithMaxConnsPerIP(n),
		tcprpc.WithIdleTimeout(time.Hour), tcprpc.WithHandshakeTimeout(time.Hour))
	per, closeAll := perConn(t, e, "idle", n)
	t.Logf("%d idle connections: %d bytes each (heap and stacks)", n, per)
	if per > perConnMax {
		t.Errorf("%d bytes per idle connection, want at most %d", per, perConnMax)
	}
	// Over the cap: they wait, and that is reported.
	over := make([]net.Conn, 3)
	for i := range over {
		over[i] = rawConn(t, e.addr)
		if err := frame.Write(over[i], []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[1,2],"id":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	e.waitReported(t, "connection limit reached")
	// Once the idle ones are gone, there is room again.
	closeAll()
	for i, nc := range over {
		nc.SetReadDeadline(time.Now().Add(time.Minute))
		if b, err := frame.Read(nc, nil, 1<<20); err != nil || !strings.Contains(string(b), `"result":3`) {
			t.Errorf("connection %d over the cap, after the idle connections closed: %q, %v", i, b, err)
		}
	}
}

// TestCallDeadlineWhileServerStopsReading: a server that stops reading a
// connection (its calls in flight at the limit, or a hung process) lets the
// socket buffers fill; calls whose deadline passes must still return, the
// one blocked writing included (the client fails the connection under it).
func TestCallDeadlineWhileServerStopsReading(t *testing.T) {
	e := startFault(t, tcprpc.WithMaxInFlight(1))
	c := newClient(t, e.addr, jsonCodec(t))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	holdCalls(t, ctx, e, c, 1) // the server's one place on this connection
	big := strings.Repeat("w", 1<<20)
	const calls = 16
	errc := make(chan error, calls)
	for range calls {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			errc <- c.Call(ctx, "demo.echo", nil, big)
		}()
	}
	// Were a call to ignore its deadline, this would hang until the test
	// binary's -timeout: no wall-clock bound here.
	for i := range calls {
		// A call blocked writing when its deadline passes fails the
		// connection, so the others may end with it before their own.
		if err := <-errc; !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, rpc.ErrConnectionLost) {
			t.Errorf("call %d: %v, want its deadline or the connection lost", i, err)
		}
	}
}
