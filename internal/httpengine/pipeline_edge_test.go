package httpengine

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Edge cases: each test forces one interleaving of the pipelining RoundTripper
// (or of RoundTripper) with wrapped connections and channels. A guard of
// seconds only catches a hang; no test depends on timing to pass.

const rvGuard = 20 * time.Second

// rvPipeRT returns a pipelining RoundTripper with one connection per host and
// no stall limit, closed at the test's end.
func rvPipeRT(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *RoundTripper {
	rt := &RoundTripper{Pipeline: 4, PipelineConns: 1, PipelineStall: -1, DialContext: dial}
	t.Cleanup(rt.CloseIdleConnections)
	return rt
}

type rvResult struct {
	body     string
	err      error
	panicked any
}

// rvRoundTrip sends req and reads the response's body; a panic in RoundTrip
// comes back as panicked.
func rvRoundTrip(rt http.RoundTripper, req *http.Request) (res rvResult) {
	defer func() {
		if p := recover(); p != nil {
			res.panicked = p
		}
	}()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		res.err = err
		return res
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.body, res.err = string(b), err
	return res
}

func rvGo(rt http.RoundTripper, req *http.Request) <-chan rvResult {
	ch := make(chan rvResult, 1)
	go func() { ch <- rvRoundTrip(rt, req) }()
	return ch
}

// rvWait waits for a result; false if it hangs.
func rvWait(ch <-chan rvResult) (rvResult, bool) {
	select {
	case r := <-ch:
		return r, true
	case <-time.After(rvGuard):
		return rvResult{}, false
	}
}

func rvWaitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(rvGuard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func rvRequest(t *testing.T, ctx context.Context, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func rvPath(r *rtRawRequest) string {
	f := strings.Fields(r.line)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// rvPipeConns returns the pipelining connections of rt.
func rvPipeConns(rt *RoundTripper) []*pipeConn {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var pcs []*pipeConn
	for _, set := range rt.pipes {
		pcs = append(pcs, set.conns...)
	}
	return pcs
}

// rvWaitWriters waits until the one pipelining connection of rt has n
// requests writing or waiting to.
func rvWaitWriters(t *testing.T, rt *RoundTripper, n int32) {
	t.Helper()
	deadline := time.Now().Add(rvGuard)
	for {
		if pcs := rvPipeConns(rt); len(pcs) == 1 && pcs[0].writers.Load() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d writers", n)
		}
		time.Sleep(time.Millisecond)
	}
}

func rvOnce(t *testing.T, f func()) func() {
	var once sync.Once
	g := func() { once.Do(f) }
	t.Cleanup(g)
	return g
}

// TestPipelineHugeContentLength: a pipelined response whose
// Content-Length is far over MaxPipelinedBody must fail its request. readNext
// passes the declared length to readAll as a size hint, which allocates it
// up front: a length of 10^18 panics (makeslice: cap out of range) in the
// caller's goroutine, or in readLoop's, which crashes the process; a length
// of a few GB allocates them before the limit is checked.
func TestPipelineHugeContentLength(t *testing.T) {
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n"+strings.Repeat("x", 4096))
		}
	})
	rt := rvPipeRT(t, nil)
	rt.MaxPipelinedBody = 1 << 10
	res, ok := rvWait(rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, "http://"+s.addr+"/", strings.NewReader("call"))))
	switch {
	case !ok:
		t.Fatal("the call hangs")
	case res.panicked != nil:
		t.Fatalf("RoundTrip panicked: %v", res.panicked)
	case res.err == nil:
		t.Fatalf("got a body of %d bytes, want an error: over MaxPipelinedBody", len(res.body))
	}
}

// TestPipelineServedPostNotResent: the server reads a POST and closes
// the connection without answering (it crashed, say): it may have served
// the call, so the POST must fail, not go again. failRead takes an EOF before
// any byte of the response for errUnanswered, and pipelined resends every
// errUnanswered request that has GetBody, idempotent or not, on a fresh
// connection as well as a reused one: the server serves it twice. (The
// existing TestPipelineConnectionLost passes only because the retry fails
// too: its server gets each request twice.)
func TestPipelineServedPostNotResent(t *testing.T) {
	var conns, served atomic.Int32
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		first := conns.Add(1) == 1
		for {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			served.Add(1)
			if first {
				return // took the call, went away without an answer
			}
			io.WriteString(c, rtOK)
		}
	})
	rt := rvPipeRT(t, nil)
	res := rvRoundTrip(rt, rvRequest(t, context.Background(), http.MethodPost, "http://"+s.addr+"/", strings.NewReader("call")))
	if n := served.Load(); n != 1 || res.err == nil {
		t.Errorf("a POST whose connection closed unanswered: served %d times, result %q, %v; want served once and an error", n, res.body, res.err)
	}
}

// rvGatedReadConn holds its first Read, once it has want bytes, until gate
// is closed.
type rvGatedReadConn struct {
	net.Conn
	once sync.Once
	want int
	got  chan struct{}
	gate chan struct{}
}

func (c *rvGatedReadConn) Read(p []byte) (int, error) {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		return c.Conn.Read(p)
	}
	n := 0
	var err error
	for n < c.want && err == nil {
		var m int
		m, err = c.Conn.Read(p[n:])
		n += m
	}
	close(c.got)
	<-c.gate
	return n, err
}

type rvErrReader struct{}

func (rvErrReader) Read([]byte) (int, error) { return 0, errors.New("the body's reader broke") }

// TestPipelineFailDuringRead: A reads its own response (readOwn), whose
// bytes have come; meanwhile B, pipelined behind it, fails to write (its
// body's reader fails), and pc.fail empties the queue. A's read then
// succeeds, and answered does pc.queue[0] = nil on the empty queue: index
// out of range. readLoop has the same flaw (and deliver writes c.resp and
// c.err before its CAS, racing with the waiter that fail already woke): any
// fail (a write error, CloseIdleConnections, ended under noIdle) that comes
// while a response is being read can crash the process.
func TestPipelineFailDuringRead(t *testing.T) {
	const respA = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := rtReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, respA)
		rtReadRequest(br) // B, broken off
	})
	gc := &rvGatedReadConn{want: len(respA), got: make(chan struct{}), gate: make(chan struct{})}
	release := rvOnce(t, func() { close(gc.gate) })
	var dialed atomic.Bool
	rt := rvPipeRT(t, func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, s.addr)
		if err != nil || dialed.Swap(true) {
			return nc, err
		}
		gc.Conn = nc
		return gc, nil
	})
	a := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, "http://"+s.addr+"/a", strings.NewReader("a")))
	rvWaitFor(t, gc.got, "A's response to come")

	b := rvRoundTrip(rt, rvRequest(t, context.Background(), http.MethodPost, "http://"+s.addr+"/b", io.NopCloser(rvErrReader{})))
	if b.err == nil || b.panicked != nil {
		t.Fatalf("B, whose body broke: %q, %v, panic %v; want an error", b.body, b.err, b.panicked)
	}
	release()
	res, ok := rvWait(a)
	switch {
	case !ok:
		t.Fatal("A hangs")
	case res.panicked != nil:
		t.Fatalf("A's RoundTrip panicked: %v", res.panicked)
	case res.err == nil && res.body != "A":
		t.Fatalf("A got %q, want its own answer or an error", res.body)
	}
}

// rvZeros is an endless body of zeros that calls onRead at its first Read.
type rvZeros struct {
	once   sync.Once
	onRead func()
}

func (z *rvZeros) Read(p []byte) (int, error) {
	z.once.Do(z.onRead)
	clear(p)
	return len(p), nil
}

// TestPipelineWriteBoundedByContext: a server that does not read (busy
// with an earlier call, say) makes a pipelined request's write block. Its
// context ending must stop the round trip, as it does without pipelining:
// B, waiting for its turn to write behind A, returns when its context ends,
// and then A, blocked writing, when its own does.
func TestPipelineWriteBoundedByContext(t *testing.T) {
	stop := make(chan struct{})
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) { <-stop }) // reads nothing
	rvOnce(t, func() { close(stop) })
	rt := rvPipeRT(t, nil)
	u := "http://" + s.addr + "/"

	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	writing := make(chan struct{})
	reqA := rvRequest(t, ctxA, http.MethodPost, u, &rvZeros{onRead: func() {
		close(writing)
	}})
	reqA.ContentLength = 1 << 30
	a := rvGo(rt, reqA)
	rvWaitFor(t, writing, "A to write")

	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	b := rvGo(rt, rvRequest(t, ctxB, http.MethodPost, u, strings.NewReader("b")))
	rvWaitWriters(t, rt, 2) // B waits to write behind A
	cancelB()
	if res, ok := rvWait(b); !ok {
		t.Errorf("B, whose context ended while it waited to write, hangs")
	} else if !errors.Is(res.err, context.Canceled) {
		t.Errorf("B: %v, want context.Canceled", res.err)
	}
	cancelA()
	if res, ok := rvWait(a); !ok {
		t.Errorf("A, whose context ended while it wrote, hangs")
	} else if !errors.Is(res.err, context.Canceled) {
		t.Errorf("A: %v, want context.Canceled", res.err)
	}
}

// rvBlockingBody blocks its first Read until release is closed, then reads
// data.
type rvBlockingBody struct {
	entered, release chan struct{}
	data             string
	done             bool
	err              error // returned instead of data, if set
}

func (b *rvBlockingBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.done = true
	close(b.entered)
	<-b.release
	if b.err != nil {
		return 0, b.err
	}
	return copy(p, b.data), io.EOF
}

// TestPipelineRequestLeftInBuffer: C is written while D waits to write,
// so C's bytes stay in the buffer for D to flush; but D's body is slow to
// read (a stream, an io.Pipe), and D holds the buffer while it reads it: C
// is never sent, and waits for its answer as long as D's body takes (for
// ever here, with no context).
func TestPipelineRequestLeftInBuffer(t *testing.T) {
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"+string(r.body))
		}
	})
	rt := rvPipeRT(t, nil)
	u := "http://" + s.addr + "/"

	cBody := &rvBlockingBody{entered: make(chan struct{}), release: make(chan struct{}), data: "c"}
	reqC := rvRequest(t, context.Background(), http.MethodPost, u, cBody)
	reqC.ContentLength = 1
	c := rvGo(rt, reqC)
	rvWaitFor(t, cBody.entered, "C to write its body")

	dBody := &rvBlockingBody{entered: make(chan struct{}), release: make(chan struct{}), err: errors.New("stream ended")}
	releaseD := rvOnce(t, func() { close(dBody.release) })
	reqD := rvRequest(t, context.Background(), http.MethodPost, u, dBody)
	reqD.ContentLength = 1
	d := rvGo(rt, reqD)
	rvWaitWriters(t, rt, 2) // D waits to write behind C
	close(cBody.release)

	res, ok := rvWait(c)
	if !ok {
		t.Errorf("C hangs while D's body is slow: its request is still in the write buffer")
	} else if res.err != nil || res.body != "c" {
		t.Errorf("C: %q, %v; want %q", res.body, res.err, "c")
	}
	releaseD()
	if _, ok := rvWait(d); !ok {
		t.Errorf("D hangs once its body failed")
	}
}

// rvCloseGate holds the first Close of any of its connections until gate is
// closed, and tells which connection it was.
type rvCloseGate struct {
	mu    sync.Mutex
	used  bool
	first chan string
	gate  chan struct{}
}

type rvGatedCloseConn struct {
	net.Conn
	name string
	g    *rvCloseGate
}

func (c *rvGatedCloseConn) Close() error {
	c.g.mu.Lock()
	first := !c.g.used
	c.g.used = true
	c.g.mu.Unlock()
	if first {
		c.g.first <- c.name
		<-c.g.gate
	}
	return c.Conn.Close()
}

// TestPipelineCloseIdleRace: CloseIdleConnections picks the idle
// pipelining connections under the mutex, then fails them one by one
// without it. Between, a request takes one of them (still idle, still in its
// set) and is sent on it; closeIdlePipes then closes it under the request
// and fails it with errUnanswered, though the server has it: the POST is
// either sent again on a new connection (served twice) or, when its retry
// lands on the same dying connection (see RetryOnSameDeadConn), fails with
// "closed before this request was sent or read". Here the first Close
// (another host's connection) is held to open the window; ended's noIdle
// path (inflight reaches 0, unlock, fail) has the same one.
func TestPipelineCloseIdleRace(t *testing.T) {
	var rCount atomic.Int32
	gotR := make(chan struct{}, 4)
	answerR := make(chan struct{})
	openR := rvOnce(t, func() { close(answerR) })
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			if rvPath(r) == "/r" {
				rCount.Add(1)
				gotR <- struct{}{}
				<-answerR
			}
			if _, err := io.WriteString(c, rtOK); err != nil {
				return
			}
		}
	})
	g := &rvCloseGate{first: make(chan string, 1), gate: make(chan struct{})}
	openGate := rvOnce(t, func() { close(g.gate) })
	rt := &RoundTripper{Pipeline: 4, PipelineConns: 1, PipelineStall: -1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, s.addr)
			if err != nil {
				return nil, err
			}
			return &rvGatedCloseConn{Conn: nc, name: addr, g: g}, nil
		}}
	for _, host := range []string{"a.test", "b.test"} {
		if res := rvRoundTrip(rt, rvRequest(t, context.Background(), http.MethodGet, "http://"+host+"/", nil)); res.err != nil {
			t.Fatal(res.err)
		}
	}
	cicDone := make(chan struct{})
	go func() {
		rt.CloseIdleConnections()
		close(cicDone)
	}()
	var first string
	select {
	case first = <-g.first:
	case <-time.After(rvGuard):
		t.Fatal("CloseIdleConnections closed nothing")
	}
	other := "a.test"
	if strings.HasPrefix(first, "a.test") {
		other = "b.test"
	}
	// CloseIdleConnections has picked other's idle connection, and not
	// failed it yet.
	r := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, "http://"+other+"/r", strings.NewReader("call")))
	select {
	case <-gotR:
	case <-time.After(rvGuard):
		t.Fatal("the server did not get the POST")
	}
	openGate()
	rvWaitFor(t, cicDone, "CloseIdleConnections")
	openR()
	res, ok := rvWait(r)
	if !ok {
		t.Fatal("the POST hangs")
	}
	if n := rCount.Load(); n != 1 || res.err != nil || res.body != "ok" {
		t.Errorf("the POST reached the server %d times, result %q, %v; want it sent once and answered", n, res.body, res.err)
	}
}

// TestPipelineRetryOnSameDeadConn: fail sets pc.err, closes the
// connection, and only then drops it from its set. A request that comes
// meanwhile picks the dying connection, send refuses it (errUnanswered: not
// sent, may go again), and its one retry picks the same connection again:
// it fails without ever being sent, instead of going on another connection.
// The window is the connection's Close, held open here.
func TestPipelineRetryOnSameDeadConn(t *testing.T) {
	var conns atomic.Int32
	gotA := make(chan struct{})
	dropA := make(chan struct{})
	rvOnce(t, func() {
		select {
		case <-dropA:
		default:
			close(dropA)
		}
	})
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if conns.Add(1) == 1 {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			close(gotA)
			<-dropA // closes without an answer
			return
		}
		rtServeOK(c, br)
	})
	g := &rvCloseGate{first: make(chan string, 1), gate: make(chan struct{})}
	openGate := rvOnce(t, func() { close(g.gate) })
	var dialed atomic.Int32
	rt := rvPipeRT(t, func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, s.addr)
		if err != nil || dialed.Add(1) != 1 {
			return nc, err
		}
		return &rvGatedCloseConn{Conn: nc, name: "first", g: g}, nil
	})
	u := "http://" + s.addr
	a := rvGo(rt, rvRequest(t, context.Background(), http.MethodGet, u+"/a", nil))
	rvWaitFor(t, gotA, "the server to get A")
	close(dropA) // A's reader sees EOF and fails the connection, whose Close is held
	select {
	case <-g.first:
	case <-time.After(rvGuard):
		t.Fatal("the connection was not closed")
	}
	c, ok := rvWait(rvGo(rt, rvRequest(t, context.Background(), http.MethodGet, u+"/c", nil)))
	openGate()
	if !ok {
		t.Fatal("C hangs")
	}
	if c.err != nil || c.body != "ok" {
		t.Errorf("C, sent while a connection was failing: %q, %v; want it sent on another connection", c.body, c.err)
	}
	if res, ok := rvWait(a); ok && res.err != nil {
		t.Logf("A: %v", res.err)
	}
}

// TestPipelineAbandonedConnLeak: a server that never answers; A reads
// its own response, B waits behind it; both contexts end, so both calls are
// over. Yet their connection, with a reading goroutine, stays open for good:
// inflight is still 2, so CloseIdleConnections (rpc Transport.Close) skips
// it, and it is closed only if the server answers or closes some day. (With
// PipelineStall, each such connection stalls and another is dialed: under
// a hung server the connections and goroutines grow without bound.)
func TestPipelineAbandonedConnLeak(t *testing.T) {
	got := make(chan struct{}, 4)
	peerClosed := make(chan struct{})
	var once sync.Once
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := rtReadRequest(br); err != nil {
				once.Do(func() { close(peerClosed) })
				return
			}
			got <- struct{}{}
		}
	})
	rt := rvPipeRT(t, nil)
	u := "http://" + s.addr + "/"
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	a := rvGo(rt, rvRequest(t, ctxA, http.MethodPost, u, strings.NewReader("a")))
	rvWaitFor(t, got, "A")
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	b := rvGo(rt, rvRequest(t, ctxB, http.MethodPost, u, strings.NewReader("b")))
	rvWaitFor(t, got, "B")
	cancelB()
	if res, ok := rvWait(b); !ok || !errors.Is(res.err, context.Canceled) {
		t.Fatalf("B: %v, %v", ok, res.err)
	}
	cancelA()
	if res, ok := rvWait(a); !ok || !errors.Is(res.err, context.Canceled) {
		t.Fatalf("A: %v, %v", ok, res.err)
	}
	rt.CloseIdleConnections() // no call is in flight any more
	select {
	case <-peerClosed:
	case <-time.After(rvGuard):
		t.Errorf("the connection of two abandoned calls is still open after CloseIdleConnections")
	}
}

// TestRoundTripperCloseIdleProxyRace: CloseIdleConnections reads
// t.proxied without synchronization, while the first proxied RoundTrip
// writes it inside proxyOnce: a data race (run with -race).
func TestRoundTripperCloseIdleProxyRace(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer proxy.Close()
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		rt := &RoundTripper{Proxy: http.ProxyURL(pu)}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		})
		wg.Go(func() {
			<-start
			rt.CloseIdleConnections()
		})
		close(start)
		wg.Wait()
		rt.CloseIdleConnections()
	}
}

// rvReadSignalConn closes got when a Read first returns bytes.
type rvReadSignalConn struct {
	net.Conn
	once sync.Once
	got  chan struct{}
}

func (c *rvReadSignalConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() { close(c.got) })
	}
	return n, err
}

// TestPipelineHandOffMidHead (regression): A's context ends while it
// reads its own response's head, cut off inside a field line, with B
// pipelined behind it: A returns, the reading goroutine takes the head up
// where headReader left it, drops A's response, and B gets its own. (The
// existing TestPipelineInterruptedRead cuts off inside the body.)
func TestPipelineHandOffMidHead(t *testing.T) {
	gotA := make(chan struct{})
	haveBoth := make(chan struct{})
	goOn := make(chan struct{})
	rvOnce(t, func() {
		select {
		case <-goOn:
		default:
			close(goOn)
		}
	})
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for i := range 2 {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			if i == 0 {
				close(gotA)
			}
		}
		close(haveBoth)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
		<-goOn
		io.WriteString(c, "ngth: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
		rtServeOK(c, br)
	})
	sc := &rvReadSignalConn{got: make(chan struct{})}
	rt := rvPipeRT(t, func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, s.addr)
		if err != nil {
			return nil, err
		}
		sc.Conn = nc
		return sc, nil
	})
	u := "http://" + s.addr + "/"
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	a := rvGo(rt, rvRequest(t, ctxA, http.MethodPost, u, strings.NewReader("a")))
	// B goes once A is on the wire: B waits behind it.
	rvWaitFor(t, gotA, "the server to read A")
	b := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u, strings.NewReader("b")))
	rvWaitFor(t, haveBoth, "the server to read both requests")
	rvWaitFor(t, sc.got, "A's reader to get the first bytes")
	cancelA()
	if res, ok := rvWait(a); !ok || !errors.Is(res.err, context.Canceled) {
		t.Fatalf("A: %v, %v; want context.Canceled", ok, res.err)
	}
	close(goOn)
	if res, ok := rvWait(b); !ok || res.err != nil || res.body != "second" {
		t.Fatalf("B: %v, %q, %v; want %q", ok, res.body, res.err, "second")
	}
	if res := rvRoundTrip(rt, rvRequest(t, context.Background(), http.MethodGet, u, nil)); res.err != nil || res.body != "ok" {
		t.Fatalf("a later call: %q, %v", res.body, res.err)
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want the one kept", n)
	}
}

// TestPipelineBodylessResponses (regression): responses without a
// body (to HEAD with a Content-Length, 204 and 304 with framing fields),
// interim 1xx ones and a chunked one with a trailer, all pipelined on one
// connection and answered in one write: each request gets its own.
func TestPipelineBodylessResponses(t *testing.T) {
	answers := map[string]string{
		"/head":    "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
		"/204":     "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
		"/304":     "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
		"/1xx":     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n/1xx",
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n/chunked\r\n0\r\nX-Trailer: 1\r\n\r\n",
	}
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		var out strings.Builder
		for range len(answers) {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			out.WriteString(answers[rvPath(r)])
		}
		io.WriteString(c, out.String())
		rtServeOK(c, br)
	})
	rt := rvPipeRT(t, nil)
	rt.Pipeline = 8
	want := map[string]struct {
		code int
		cl   int64
		body string
	}{
		"/head":    {200, 50, ""},
		"/204":     {204, 0, ""},
		"/304":     {304, 0, ""},
		"/1xx":     {200, 4, "/1xx"},
		"/chunked": {200, -1, "/chunked"},
	}
	var wg sync.WaitGroup
	for p, w := range want {
		wg.Go(func() {
			method := http.MethodGet
			if p == "/head" {
				method = http.MethodHead
			}
			resp, err := rt.RoundTrip(rvRequest(t, context.Background(), method, "http://"+s.addr+p, nil))
			if err != nil {
				t.Errorf("%s: %v", p, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != w.code || resp.ContentLength != w.cl || string(b) != w.body {
				t.Errorf("%s: %d, length %d, %q; want %d, %d, %q", p, resp.StatusCode, resp.ContentLength, b, w.code, w.cl, w.body)
			}
		})
	}
	wg.Wait()
	if res := rvRoundTrip(rt, rvRequest(t, context.Background(), http.MethodGet, "http://"+s.addr+"/", nil)); res.err != nil || res.body != "ok" {
		t.Fatalf("a later call: %q, %v", res.body, res.err)
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}
