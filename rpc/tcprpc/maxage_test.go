package tcprpc_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/netutil"
)

// ageRecorder records the connections of a netutil.MaxAge listener that
// the server accepts, and when the server closes each.
type ageRecorder struct {
	net.Listener
	mu     sync.Mutex
	conns  []*agedConn
	closed chan *agedConn
}

func (l *ageRecorder) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &agedConn{Conn: nc, l: l, expires: nc.(interface{ ExpiresAt() time.Time }).ExpiresAt()}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c, nil
}

func (l *ageRecorder) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *ageRecorder) conn(i int) *agedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[i]
}

// waitClosed returns the next connection the server closes, failing the
// test if none closes within 10 s.
func (l *ageRecorder) waitClosed(t *testing.T) *agedConn {
	t.Helper()
	select {
	case c := <-l.closed:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection closed within 10 s")
		return nil
	}
}

// agedConn wraps the MaxAge connection as other wrappers do, with a
// NetConn method: the server must look through it.
type agedConn struct {
	net.Conn
	l        *ageRecorder
	expires  time.Time
	once     sync.Once
	closedAt time.Time
}

func (c *agedConn) NetConn() net.Conn { return c.Conn }

func (c *agedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.closedAt = time.Now()
		c.l.closed <- c
	})
	return err
}

// startAged serves e's methods on a MaxAge listener of maxAge.
func startAged(t *testing.T, maxAge time.Duration) (*env, *ageRecorder) {
	t.Helper()
	e := start(t, "tcp")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &ageRecorder{Listener: netutil.MaxAge(ln, maxAge), closed: make(chan *agedConn, 10)}
	go e.srv.Serve(rec)
	e.addr = ln.Addr().String()
	return e, rec
}

// TestMaxAgeClosesAfterTheCallInFlight: a connection that expires while a
// call runs is closed once the reply is written, not before: the call
// succeeds, and the client's next call goes over a new connection.
func TestMaxAgeClosesAfterTheCallInFlight(t *testing.T) {
	t.Parallel()
	e, rec := startAged(t, 300*time.Millisecond)
	c := newClient(t, e.addr, jsonCodec(t))
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- c.Call(ctx, "test.block", nil) }()
	<-e.entered
	first := rec.conn(0)
	time.Sleep(time.Until(first.expires)) // the call runs past the expiry
	select {
	case got := <-rec.closed:
		t.Fatalf("connection %p closed while its call ran", got)
	default:
	}
	close(e.release)
	if err := <-done; err != nil {
		t.Fatalf("call across the expiry: %v", err)
	}
	if got := rec.waitClosed(t); got != first {
		t.Fatalf("closed %p, want the expired %p", got, first)
	}
	var sum int
	if err := c.Call(ctx, "demo.add", &sum, 2, 3); err != nil || sum != 5 {
		t.Fatalf("next call: %v, %d", err, sum)
	}
	if n := rec.accepted(); n != 2 {
		t.Fatalf("%d connections accepted, want 2: the next call redials", n)
	}
}

// TestMaxAgeClosesAnIdleConnectionAtItsExpiry: an idle connection closes
// at its expiry, not before, and the client's next call dials again.
func TestMaxAgeClosesAnIdleConnectionAtItsExpiry(t *testing.T) {
	t.Parallel()
	e, rec := startAged(t, 200*time.Millisecond)
	c := newClient(t, e.addr, jsonCodec(t))
	ctx := context.Background()
	var sum int
	if err := c.Call(ctx, "demo.add", &sum, 1, 2); err != nil {
		t.Fatal(err)
	}
	got := rec.waitClosed(t)
	if got != rec.conn(0) || got.closedAt.Before(got.expires) {
		t.Fatalf("closed at %v, expires at %v", got.closedAt, got.expires)
	}
	for i := range 3 {
		if err := c.Call(ctx, "demo.add", &sum, i, 2); err != nil || sum != i+2 {
			t.Fatalf("call %d after the close: %v", i, err)
		}
	}
	if n := rec.accepted(); n != 2 {
		t.Fatalf("%d connections accepted, want 2", n)
	}
}

// TestMaxAgeWaitsForEveryCall: with calls still in flight, an expired
// connection stays open; it closes when the last of them is answered.
func TestMaxAgeWaitsForEveryCall(t *testing.T) {
	t.Parallel()
	e, rec := startAged(t, 300*time.Millisecond)
	c := newClient(t, e.addr, jsonCodec(t))
	ctx := context.Background()
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- c.Call(ctx, "test.block", nil) }()
	}
	<-e.entered
	<-e.entered
	time.Sleep(time.Until(rec.conn(0).expires))
	// A call that arrives on the expired connection is served too.
	var sum int
	if err := c.Call(ctx, "demo.add", &sum, 2, 2); err != nil || sum != 4 {
		t.Fatalf("call on the expired connection with calls in flight: %v", err)
	}
	if rec.accepted() != 1 {
		t.Fatalf("%d connections accepted", rec.accepted())
	}
	close(e.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	rec.waitClosed(t)
	if err := c.Call(ctx, "demo.add", &sum, 2, 3); err != nil || sum != 5 {
		t.Fatalf("next call: %v", err)
	}
	if n := rec.accepted(); n != 2 {
		t.Fatalf("%d connections accepted, want 2", n)
	}
}
