package tcprpc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// The leak tests check that servers and clients leave no goroutine behind.
// Like the fault tests they are not parallel: the goroutine count is the
// whole process's.

// goroutines returns the number of goroutines once the count has settled
// for a moment, so that goroutines of earlier tests that are on their way
// out are not counted.
func goroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		time.Sleep(5 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// checkGoroutines waits until at most base goroutines are left, not
// counting the server's parked workers, which are shared by its connections
// and bounded: it reports them if there are more than the server keeps
// (8 per processor), and a dump of every goroutine if the others do not
// come down to base within two minutes.
func checkGoroutines(t *testing.T, base int, when string) {
	t.Helper()
	var n, parked int
	for start := time.Now(); time.Since(start) < 2*time.Minute; time.Sleep(5 * time.Millisecond) {
		n, parked = countGoroutines()
		if n-parked <= base {
			if max := min(8*runtime.GOMAXPROCS(0), 256); parked > max {
				t.Errorf("%s: %d parked workers, more than %d", when, parked, max)
			}
			return
		}
	}
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Errorf("%s: %d goroutines (%d parked workers), %d before:\n%s", when, n, parked, base, buf)
}

// countGoroutines counts all goroutines, and those of them that are
// workers of a tcprpc.Server parked for the next call.
func countGoroutines() (n, parked int) {
	buf := make([]byte, 1<<20)
	for {
		k := runtime.Stack(buf, true)
		if k < len(buf) {
			buf = buf[:k]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		n++
		if strings.Contains(g, "[select") && strings.Contains(g, "tcprpc.(*Server).work(") {
			parked++
		}
	}
	return n, parked
}

// leakCodecs are the codecs the leak tests' clients speak: one with ids,
// two with ids in binary, and XML-RPC, whose calls go one at a time.
var leakCodecs = []string{"json", "msgpack", "proto", "xml"}

func lookupCodec(t *testing.T, name string) rpc.Codec {
	t.Helper()
	c, ok := rpc.LookupCodec(name)
	if !ok {
		t.Fatalf("codec %s not registered", name)
	}
	return c
}

// busyServer gives e clients of every codec with calls in flight (holds,
// one per XML-RPC client, perClient for the others), idle connections and
// a connection stalled mid-frame. It returns the clients and the holds'
// errors.
func busyServer(t *testing.T, ctx context.Context, e *faultEnv, clients, perClient int) ([]*rpc.Client, []<-chan error) {
	t.Helper()
	var cs []*rpc.Client
	var holds []<-chan error
	for i := range clients {
		name := leakCodecs[i%len(leakCodecs)]
		c := newClient(t, e.addr, lookupCodec(t, name))
		cs = append(cs, c)
		var n int64
		if err := c.Call(ctx, "demo.add", &n, i, 1); err != nil || n != int64(i+1) {
			t.Fatalf("%s client: add = %d, %v", name, n, err)
		}
		k := perClient
		if name == "xml" {
			k = 1
		}
		holds = append(holds, holdCalls(t, ctx, e, c, k))
	}
	for range 5 {
		rawConn(t, e.addr) // idle
	}
	stalled := rawConn(t, e.addr)
	if _, err := stalled.Write(append(binary.BigEndian.AppendUint32(nil, 1000), '{')); err != nil {
		t.Fatal(err)
	}
	return cs, holds
}

// TestNoLeakAfterClientsClose closes clients, idle ones and ones with calls
// in flight, while the server goes on: the client goroutines end, and so
// do the server's for those connections once their calls finished.
func TestNoLeakAfterClientsClose(t *testing.T) {
	e := startFault(t)
	base := goroutines()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var cs []*rpc.Client
	for i := range 20 {
		c := newClient(t, e.addr, lookupCodec(t, leakCodecs[i%len(leakCodecs)]))
		cs = append(cs, c)
		var wg sync.WaitGroup
		for j := range 5 {
			wg.Go(func() {
				var n int64
				if err := c.Call(ctx, "demo.add", &n, i, j); err != nil || n != int64(i+j) {
					t.Errorf("add(%d, %d) = %d, %v", i, j, n, err)
				}
			})
		}
		wg.Wait()
	}
	for _, c := range cs {
		c.Close()
	}
	checkGoroutines(t, base, "idle clients closed")

	// Clients closed with calls in flight: the calls fail at once with
	// ErrClosed; the server runs them to their end.
	cs, holds := busyServer(t, ctx, e, 8, 4)
	for _, c := range cs {
		c.Close()
	}
	for _, h := range holds {
		for range cap(h) {
			if err := <-h; !errors.Is(err, rpc.ErrClosed) {
				t.Errorf("a call in flight when its client closed: %v, want rpc.ErrClosed", err)
			}
		}
	}
	e.releaseHolds()
	// The raw connections stay open until the test's cleanup.
	checkGoroutines(t, base+6, "busy clients closed (6 raw connections still open)")
}

// TestNoLeakAfterShutdown shuts down a server with many connections and
// calls in flight: the calls complete, Shutdown returns nil, and no
// goroutine is left once the clients close.
func TestNoLeakAfterShutdown(t *testing.T) {
	base := goroutines()
	e := startFault(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, holds := busyServer(t, ctx, e, 16, 4)

	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(ctx) }()
	waitRefused(t, e.addr)
	e.releaseHolds()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, h := range holds {
		for range cap(h) {
			if err := <-h; err != nil {
				t.Errorf("a call in flight at Shutdown: %v", err)
			}
		}
	}
	if err := <-e.served; !errors.Is(err, tcprpc.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	e.served <- tcprpc.ErrServerClosed // for the cleanup
	for _, c := range cs {
		c.Close()
	}
	checkGoroutines(t, base, "after Shutdown")
}

// TestNoLeakAfterClose closes a server abruptly with calls in flight: they
// fail with ErrConnectionLost and nothing is left.
func TestNoLeakAfterClose(t *testing.T) {
	base := goroutines()
	e := startFault(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, holds := busyServer(t, ctx, e, 16, 4)
	e.srv.Close()
	for _, h := range holds {
		for range cap(h) {
			lostConnection(t, "a call in flight at Close", <-h)
		}
	}
	if err := <-e.served; !errors.Is(err, tcprpc.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	e.served <- tcprpc.ErrServerClosed
	for _, c := range cs {
		c.Close()
	}
	checkGoroutines(t, base, "after Close")
}

// waitRefused waits until addr refuses new connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	if !waitFor(func() bool {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		nc.Close()
		return false
	}) {
		t.Fatal("new connections are still accepted")
	}
}

// TestShutdownWith100SlowCalls is the graceful shutdown: 100 slow
// calls in flight over ten connections, then Shutdown. Every call
// completes with its result, new connections are refused meanwhile,
// Shutdown returns nil before its deadline, and no goroutine is left.
func TestShutdownWith100SlowCalls(t *testing.T) {
	base := goroutines()
	e := startFault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cs []*rpc.Client
	var holds []<-chan error
	for range 10 {
		c := newClient(t, e.addr, jsonCodec(t))
		cs = append(cs, c)
		holds = append(holds, holdCalls(t, ctx, e, c, 10))
	}
	if n := e.running.Load(); n != 100 {
		t.Fatalf("%d calls running, want 100", n)
	}
	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(ctx) }()
	waitRefused(t, e.addr)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with 100 calls running", err)
	default:
	}
	if n := e.running.Load(); n != 100 {
		t.Errorf("%d calls running after Shutdown began, want 100", n)
	}
	e.releaseHolds() // the slow calls end
	for _, h := range holds {
		for range cap(h) {
			if err := <-h; err != nil {
				t.Errorf("a call in flight at Shutdown: %v", err)
			}
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if err := <-e.served; !errors.Is(err, tcprpc.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	e.served <- tcprpc.ErrServerClosed
	// The clients learn their connections are gone, and redial in vain.
	for _, c := range cs {
		if err := c.Call(ctx, "demo.add", nil, 1, 2); err == nil {
			t.Error("a call after Shutdown succeeded")
		}
		c.Close()
	}
	checkGoroutines(t, base, "after Shutdown")
}

// TestShutdownRacesNewConnection: a connection accepted just before
// Shutdown, whose serving goroutine sets its first deadline only after
// Shutdown set its own, must not hold Shutdown until the idle timeout (or
// the handshake timeout). The hook reproduces that interleaving.
func TestShutdownRacesNewConnection(t *testing.T) {
	for _, handshake := range []bool{false, true} {
		t.Run(fmt.Sprintf("handshake=%v", handshake), func(t *testing.T) {
			base := goroutines()
			opts := []tcprpc.Option{tcprpc.WithIdleTimeout(time.Hour)}
			if handshake {
				opts = append(opts, tcprpc.WithHandshake(silentHandshake), tcprpc.WithHandshakeTimeout(time.Hour))
			}
			e := startFault(t, opts...)
			first, shutdownSet, proceed := make(chan struct{}), make(chan struct{}), make(chan struct{})
			hook := func(c *watchedConn) {
				switch c.calls.Load() {
				case 1: // the serving goroutine's first deadline
					close(first)
					<-proceed
				case 2: // Shutdown's
					close(shutdownSet)
				}
			}
			e.ln.hook.Store(&hook)
			nc := rawConn(t, e.addr) // says nothing
			<-first
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- e.srv.Shutdown(ctx) }()
			<-shutdownSet
			close(proceed)
			if err := <-shut; err != nil {
				t.Errorf("Shutdown = %v, want nil: a silent connection accepted just before it held it", err)
			}
			<-e.served
			e.served <- tcprpc.ErrServerClosed
			nc.Close()
			checkGoroutines(t, base, "after Shutdown")
		})
	}
}
