package tcprpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// within runs f and returns its error, failing the test if f has not
// returned within a minute: f would wait forever.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s: still waiting after a minute", what)
		panic("unreachable")
	}
}

// throttle forwards connections to target, reading what clients send a
// chunk at a time: at full speed, slowly (16 KiB every 2 ms), or not at all
// once a slow stretch has passed its cap, until set to full speed again.
type throttle struct {
	ln        net.Listener
	target    string
	forwarded atomic.Int64 // client to server

	mu     sync.Mutex
	cond   *sync.Cond
	slow   bool
	capAt  int64 // while slow, bytes after which to pause
	closed bool
}

func startThrottle(t *testing.T, target string) *throttle {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &throttle{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			// A small receive buffer: what the client sends waits on its
			// side, where its writes can see it.
			client.(*net.TCPConn).SetReadBuffer(64 << 10)
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			wg.Go(func() {
				defer server.Close()
				io.Copy(client, server)
				client.Close()
			})
			wg.Go(func() {
				defer client.Close()
				p.pipe(server, client)
				server.Close()
			})
		}
	})
	t.Cleanup(func() {
		p.set(false, 0)
		p.mu.Lock()
		p.closed = true
		p.cond.Broadcast()
		p.mu.Unlock()
		ln.Close()
		wg.Wait()
	})
	return p
}

func (p *throttle) set(slow bool, capAt int64) {
	p.mu.Lock()
	p.slow, p.capAt = slow, capAt
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *throttle) pipe(dst, src net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		p.mu.Lock()
		for p.slow && p.forwarded.Load() >= p.capAt && !p.closed {
			p.cond.Wait()
		}
		slow := p.slow
		p.mu.Unlock()
		if slow {
			time.Sleep(2 * time.Millisecond)
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
			p.forwarded.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}

// watchedStream tells when each WriteMessage enters and returns, by the
// size of its message.
type watchedStream struct {
	wire.LeadStream
	entered, returned chan int
}

func (s *watchedStream) WriteMessage(ctx context.Context, msg []byte) error {
	s.entered <- len(msg)
	err := s.LeadStream.WriteMessage(ctx, msg)
	s.returned <- len(msg)
	return err
}

func (s *watchedStream) SetBusy(busy func() bool) {
	if b, ok := s.LeadStream.(wire.BusyHinter); ok {
		b.SetBusy(busy)
	}
}

// TestShortDeadlineOfTheCoalescingWriter: a call whose context ends while
// it writes the calls queued behind it, to a server that reads slowly,
// returns once its own message is out, without waiting for theirs, and
// none of them fails.
func TestShortDeadlineOfTheCoalescingWriter(t *testing.T) {
	s := newRPCServer(t)
	if err := s.Register("test.len", func(s string) (int, error) { return len(s), nil }); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, s, tcprpc.WithMaxMessageSize(64<<20))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p := startThrottle(t, ln.Addr().String())

	dial, err := tcprpc.Dialer(p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ws := &watchedStream{entered: make(chan int, 64), returned: make(chan int, 64)}
	c, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		st, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		ws.LeadStream = st.(wire.LeadStream)
		return ws, nil
	}, jsonCodec(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call := func(ctx context.Context, n int) error {
		var got int
		err := c.Call(ctx, "test.len", &got, strings.Repeat("x", n))
		if err == nil && got != n {
			err = errors.New("wrong length")
		}
		return err
	}
	if err := call(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	<-ws.entered
	<-ws.returned

	const own, other, others = 16 << 20, 4 << 20, 8
	// Slow from here, and no more than its own message and 8 MiB of the
	// others' before the writer returns: were it to wait for all of theirs,
	// it would wait forever.
	p.set(true, p.forwarded.Load()+own+8<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mine := make(chan error, 1)
	base := p.forwarded.Load()
	go func() { mine <- call(ctx, own) }()
	<-ws.entered
	for p.forwarded.Load() == base {
		time.Sleep(time.Millisecond) // until its write is under way
	}
	errs := make(chan error, others)
	for range others {
		go func() { errs <- call(context.Background(), other) }()
	}
	for range others {
		// Queued behind the write under way, each returns at once.
		if n := <-ws.returned; n >= own {
			t.Fatal("the writer's own message went out before the others were queued: nothing to test")
		}
	}
	cancel()
	if err := within(t, "the writer whose context ended", func() error { return <-mine }); !errors.Is(err, context.Canceled) {
		t.Errorf("the writer whose context ended: %v, want context.Canceled", err)
	}
	p.set(false, 0)
	for i := range others {
		if err := within(t, "the calls queued behind it", func() error { return <-errs }); err != nil {
			t.Errorf("call %d queued behind the writer: %v", i, err)
		}
	}
}

// TestCallToServerThatDoesNotRead: a call whose context ends while it
// writes to a server that reads nothing returns soon after, failing the
// connection (every call on it is stuck anyway), however long the write
// timeout.
func TestCallToServerThatDoesNotRead(t *testing.T) {
	t.Parallel()
	addr, conns := silentServer(t)
	c := newClient(t, addr, jsonCodec(t), tcprpc.WithWriteTimeout(time.Hour))
	if err := c.Notify(context.Background(), "hello"); err != nil { // dials
		t.Fatal(err)
	}
	within(t, "the connection", func() net.Conn { return <-conns })
	big := strings.Repeat("x", 16<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := within(t, "the call", func() error { return c.Call(ctx, "demo.echo", nil, big) })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write stalled") {
		t.Errorf("call: %v, want the deadline and the stalled write", err)
	}
	// The connection failed: the next call dials another.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c.Call(ctx, "demo.echo", nil, "x")
	within(t, "a second connection", func() net.Conn { return <-conns })
}

// TestClientWriteTimeout: a write that makes no progress for the write
// timeout fails the connection and its calls, even calls without a deadline.
func TestClientWriteTimeout(t *testing.T) {
	t.Parallel()
	addr, _ := silentServer(t)
	c := newClient(t, addr, jsonCodec(t), tcprpc.WithWriteTimeout(300*time.Millisecond))
	err := within(t, "the call", func() error {
		return c.Call(context.Background(), "demo.echo", nil, strings.Repeat("x", 16<<20))
	})
	if !errors.Is(err, rpc.ErrConnectionLost) || !strings.Contains(err.Error(), "write timed out") {
		t.Errorf("call: %v, want the connection lost to the write timeout", err)
	}
}
