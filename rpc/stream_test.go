package rpc_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// chanStream is one end of an in-memory message stream.
type chanStream struct {
	in, out   chan []byte
	done      chan struct{}
	closeOnce *sync.Once
	reading   atomic.Int32 // ReadMessage calls under way
}

func streamPair() (client, server *chanStream) {
	a, b := make(chan []byte, 64), make(chan []byte, 64)
	done, once := make(chan struct{}), &sync.Once{}
	return &chanStream{in: a, out: b, done: done, closeOnce: once}, &chanStream{in: b, out: a, done: done, closeOnce: once}
}

func (s *chanStream) WriteMessage(_ context.Context, msg []byte) error {
	select {
	case s.out <- append([]byte(nil), msg...):
		return nil
	case <-s.done:
		return io.ErrClosedPipe
	}
}

func (s *chanStream) ReadMessage(dst []byte) ([]byte, error) {
	s.reading.Add(1)
	defer s.reading.Add(-1)
	select {
	case m := <-s.in:
		return append(dst, m...), nil
	case <-s.done:
		return nil, io.EOF
	}
}

func (s *chanStream) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

// leadStream is a chanStream that the calls read themselves
// (wire.LeadStream). It panics if it is read by two goroutines at once, or
// checked while read: the client must never do either.
type leadStream struct {
	*chanStream
	interrupt chan struct{}
	reading   atomic.Bool
}

func (s *leadStream) ReadMessage(dst []byte) ([]byte, error) {
	if !s.reading.CompareAndSwap(false, true) {
		panic("two ReadMessage calls at once")
	}
	defer s.reading.Store(false)
	select {
	case m := <-s.in:
		return append(dst, m...), nil
	case <-s.done:
		return nil, io.EOF
	case <-s.interrupt:
		return dst, wire.ErrReadInterrupted
	}
}

func (s *leadStream) InterruptRead() {
	select {
	case s.interrupt <- struct{}{}:
	default:
	}
}

func (s *leadStream) CheckIdle() error {
	if s.reading.Load() {
		panic("CheckIdle during a ReadMessage")
	}
	select {
	case <-s.done:
		return io.EOF
	default:
		return nil
	}
}

// bothReaders runs test over streams read by the client's own goroutine,
// and over LeadStreams, read by the calls.
func bothReaders(t *testing.T, test func(t *testing.T, lead bool)) {
	t.Parallel()
	for _, lead := range []bool{false, true} {
		name := "reader"
		if lead {
			name = "lead"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, lead)
		})
	}
}

// serveStream answers each message in its own goroutine, as a stream
// transport does, unless the codec is unordered.
func serveStream(s *rpc.Server, st *chanStream, c rpc.Codec) {
	table := &wire.CallTable{}
	ctx := wire.WithCallTable(context.Background(), table)
	defer table.CancelAll()
	for {
		msg, err := st.ReadMessage(nil)
		if err != nil {
			return
		}
		go func() {
			if reply := s.ServeMessage(ctx, c, msg, nil); len(reply) > 0 {
				st.WriteMessage(context.Background(), reply)
			}
		}()
	}
}

type streamEnv struct {
	server *rpc.Server
	// blackholed gets a value as each call of "blackhole" starts.
	blackholed chan struct{}
	client     *rpc.Client
	dials      atomic.Int32
	mu         sync.Mutex
	servers    []*chanStream
	clients    []*chanStream
}

// newStreamEnv serves a test server over in-memory streams, which the
// client reads with a goroutine of its own, or, with lead, with the calls
// themselves.
func newStreamEnv(t *testing.T, c rpc.Codec, lead bool) *streamEnv {
	t.Helper()
	s := newTestServer(t)
	env := &streamEnv{server: s, blackholed: make(chan struct{}, 100)}
	if err := s.Register("blackhole", func(ctx context.Context) error {
		env.blackholed <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	var err error
	env.client, err = rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		env.dials.Add(1)
		cs, ss := streamPair()
		env.mu.Lock()
		env.servers = append(env.servers, ss)
		env.clients = append(env.clients, cs)
		env.mu.Unlock()
		go serveStream(s, ss, c)
		if lead {
			return &leadStream{chanStream: cs, interrupt: make(chan struct{}, 1)}, nil
		}
		return cs, nil
	}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.client.Close() })
	return env
}

func (e *streamEnv) breakAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.servers {
		s.Close()
	}
}

func TestStreamClientMultiplexes(t *testing.T) { bothReaders(t, testStreamClientMultiplexes) }

func testStreamClientMultiplexes(t *testing.T, lead bool) {
	env := newStreamEnv(t, fakeCodec{}, lead)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			var n int64
			// Later calls sleep less, so replies come back out of order.
			if err := env.client.Call(context.Background(), "sleep", nil, (100-i)/10); err != nil {
				t.Error(err)
			}
			if err := env.client.Call(context.Background(), "subtract", &n, i, 1); err != nil || n != int64(i-1) {
				t.Errorf("call %d: %d, %v", i, n, err)
			}
		})
	}
	wg.Wait()
	if d := env.dials.Load(); d != 1 {
		t.Errorf("%d dials for one client, want 1", d)
	}
	var a, b int64
	if err := env.client.Batch(context.Background(),
		&rpc.BatchCall{Method: "subtract", Params: []any{3, 1}, Result: &a},
		&rpc.BatchCall{Method: "subtract", Params: []any{9, 1}, Result: &b}); err != nil || a != 2 || b != 8 {
		t.Errorf("batch over a stream: %d %d %v", a, b, err)
	}
	if err := env.client.Notify(context.Background(), "sum", 1); err != nil {
		t.Error(err)
	}
}

func TestStreamClientContextEnds(t *testing.T) { bothReaders(t, testStreamClientContextEnds) }

func testStreamClientContextEnds(t *testing.T, lead bool) {
	env := newStreamEnv(t, fakeCodec{}, lead)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := env.client.Call(ctx, "blackhole", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered call: %v", err)
	}
	// The connection is still good for the next call.
	var n int64
	if err := env.client.Call(context.Background(), "subtract", &n, 2, 1); err != nil || n != 1 {
		t.Errorf("next call: %d %v", n, err)
	}
}

func TestStreamClientRedials(t *testing.T) { bothReaders(t, testStreamClientRedials) }

func testStreamClientRedials(t *testing.T, lead bool) {
	env := newStreamEnv(t, fakeCodec{}, lead)
	errc := make(chan error, 1)
	go func() { errc <- env.client.Call(context.Background(), "blackhole", nil) }()
	<-env.blackholed // the call is in flight: break its stream
	env.breakAll()
	// The call fails: the client sees its stream broken, or, when the
	// server's side saw it first, the server cancels the call it was
	// running and its -32002 reply arrives first.
	var e *rpc.Error
	if err := <-errc; !errors.Is(err, rpc.ErrConnectionLost) && !(errors.As(err, &e) && e.Code == rpc.CodeCanceled) {
		t.Errorf("in-flight call on a broken stream: %v", err)
	}
	var n int64
	if err := env.client.Call(context.Background(), "subtract", &n, 5, 1); err != nil || n != 4 {
		t.Errorf("call after the break: %d %v", n, err)
	}
	if d := env.dials.Load(); d != 2 {
		t.Errorf("%d dials, want 2", d)
	}
	env.client.Close()
	if err := env.client.Call(context.Background(), "subtract", &n, 5, 1); !errors.Is(err, rpc.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

// unorderedCodec is the fake codec pretending its messages carry no ids.
type unorderedCodec struct{ fakeCodec }

func (unorderedCodec) InOrder() bool { return true }

func TestStreamClientUnordered(t *testing.T) { bothReaders(t, testStreamClientUnordered) }

func testStreamClientUnordered(t *testing.T, lead bool) {
	env := newStreamEnv(t, unorderedCodec{}, lead)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			var n int64
			if err := env.client.Call(context.Background(), "subtract", &n, i, 1); err != nil || n != int64(i-1) {
				t.Errorf("call %d: %d, %v", i, n, err)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := env.client.Call(ctx, "blackhole", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered call: %v", err)
	}
	// An abandoned call poisons the stream for ordering; the client redials.
	var n int64
	if err := env.client.Call(context.Background(), "subtract", &n, 2, 1); err != nil || n != 1 {
		t.Errorf("next call: %d %v", n, err)
	}
}

// TestLeadStreamClosedWhileIdle: the peer closes a LeadStream nobody reads;
// the next call sees it before sending and dials anew.
func TestLeadStreamClosedWhileIdle(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, fakeCodec{}, true)
	for i := range 3 {
		var n int64
		if err := env.client.Call(context.Background(), "subtract", &n, 5, i); err != nil || n != int64(5-i) {
			t.Fatalf("call %d: %d %v", i, n, err)
		}
		env.breakAll()
	}
	if d := env.dials.Load(); d != 3 {
		t.Errorf("%d dials, want 3", d)
	}
}

// TestLeadStreamContextsEnd has many calls whose contexts end at random
// while they read for the others or wait: the others get their replies,
// and no two reads overlap (leadStream panics if they do).
func TestLeadStreamContextsEnd(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, fakeCodec{}, true)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 30 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration((g*7+i*13)%5)*time.Millisecond)
				var n int64
				err := env.client.Call(ctx, "sleep", nil, (g+i)%4)
				if err == nil {
					err = env.client.Call(ctx, "subtract", &n, g, i)
					if err == nil && n != int64(g-i) {
						t.Errorf("subtract(%d, %d) = %d", g, i, n)
					}
				}
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("call: %v", err)
				}
			}
		})
	}
	wg.Wait()
	var n int64
	if err := env.client.Call(context.Background(), "subtract", &n, 9, 2); err != nil || n != 7 {
		t.Fatalf("last call: %d %v", n, err)
	}
	if d := env.dials.Load(); d != 1 {
		t.Errorf("%d dials, want 1", d)
	}
}

// TestNullIDErrorFailsTheStream: an error reply without an id, with two
// calls waiting, answers one of them but not which: both fail, with the
// server's error, instead of waiting for good.
func TestNullIDErrorFailsTheStream(t *testing.T) { bothReaders(t, testNullIDErrorFailsTheStream) }

func testNullIDErrorFailsTheStream(t *testing.T, lead bool) {
	cl, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		cs, ss := streamPair()
		go func() {
			for range 2 {
				if _, err := ss.ReadMessage(nil); err != nil {
					return
				}
			}
			msg, err := fakeCodec{}.AppendResponse(nil, &wire.Response{Error: &wire.Error{Code: wire.CodeParseError, Message: "unreadable call"}})
			if err == nil {
				ss.WriteMessage(context.Background(), msg)
			}
		}()
		if lead {
			return &leadStream{chanStream: cs, interrupt: make(chan struct{}, 1)}, nil
		}
		return cs, nil
	}, fakeCodec{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	errs := make(chan error, 2)
	for i := range 2 {
		go func() { errs <- cl.Call(context.Background(), "subtract", nil, i, 1) }()
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, rpc.ErrConnectionLost) || !strings.Contains(err.Error(), "unreadable call") {
				t.Errorf("call: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call still waits for the reply that came without an id")
		}
	}
}

// TestStreamDialDoesNotHoldTheClient: a dial that hangs (no deadline on the
// call that started it) holds up neither a call with a deadline, which ends
// at its deadline, nor Close, which ends the hung dial's call too.
func TestStreamDialDoesNotHoldTheClient(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	cl, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		dials.Add(1)
		<-ctx.Done() // a peer that never answers the connect
		return nil, ctx.Err()
	}, fakeCodec{})
	if err != nil {
		t.Fatal(err)
	}
	hungCtx, stopHung := context.WithCancel(context.Background())
	defer stopHung()
	hung := make(chan error, 1)
	go func() { hung <- cl.Call(hungCtx, "subtract", nil, 1, 1) }()
	for dials.Load() == 0 {
		runtime.Gosched()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() { second <- cl.Call(ctx, "subtract", nil, 2, 1) }()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call with a deadline during a hung dial: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call with a deadline waits for another call's dial")
	}

	closed := make(chan error, 1)
	go func() { closed <- cl.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a dial under way")
	}
	if err := <-hung; !errors.Is(err, rpc.ErrClosed) {
		t.Errorf("the call whose dial hung, after Close: %v", err)
	}
	if err := cl.Call(context.Background(), "subtract", nil, 3, 1); !errors.Is(err, rpc.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
}

// TestStreamDialSharedByConcurrentCalls: calls that need a stream while one
// is being dialed wait for that dial rather than each dialing.
func TestStreamDialSharedByConcurrentCalls(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var dials atomic.Int32
	release := make(chan struct{})
	cl, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		dials.Add(1)
		<-release
		cs, ss := streamPair()
		go serveStream(s, ss, fakeCodec{})
		return cs, nil
	}, fakeCodec{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			var n int64
			if err := cl.Call(context.Background(), "subtract", &n, i, 1); err != nil || n != int64(i-1) {
				t.Errorf("call %d: %d %v", i, n, err)
			}
		})
	}
	for dials.Load() == 0 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials for calls that started together, want 1", n)
	}
}
