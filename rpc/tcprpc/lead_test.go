package tcprpc_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// TestDeadlineWhileReading: a lone call reads the connection itself; when
// its context ends, the read is interrupted and the call returns the
// context's error, and the connection stays usable for the next calls (the
// late reply is dropped).
func TestDeadlineWhileReading(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp")
	cl := newClient(t, e.addr, jsonCodec(t))
	defer cl.Close()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := cl.Call(ctx, "test.hold", nil, 300)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: %v, want the deadline's error", i, err)
		}
		var sum int
		if err := cl.Call(context.Background(), "demo.add", &sum, i, 1); err != nil || sum != i+1 {
			t.Fatalf("call after the abandoned one: %d, %v", sum, err)
		}
	}
}

// TestInterruptedInsideAFrame: a call's context ends when half of a reply
// frame has arrived; the next call's read goes on with the rest of that
// frame, drops it (its call is gone), and gets its own reply.
func TestInterruptedInsideAFrame(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dials atomic.Int32
	conns := make(chan net.Conn, 2)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			conns <- nc
		}
	}()
	cl := newClient(t, ln.Addr().String(), jsonCodec(t))

	first := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { first <- cl.Call(ctx, "a", nil) }()
	server := <-conns
	defer server.Close()
	req1, err := frame.Read(server, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	reply1 := frame.Append(nil, []byte(`{"jsonrpc":"2.0","result":"late","id":1}`))
	half := len(reply1) / 2
	if _, err := server.Write(reply1[:half]); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first call: %v (request %s)", err, req1)
	}

	second := make(chan error, 1)
	var got string
	go func() { second <- cl.Call(context.Background(), "b", &got) }()
	req2, err := frame.Read(server, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write(reply1[half:]); err != nil {
		t.Fatal(err)
	}
	if err := frame.Write(server, []byte(`{"jsonrpc":"2.0","result":"mine","id":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil || got != "mine" {
		t.Fatalf("second call (%s): %q, %v", req2, got, err)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials: the stream was given up", n)
	}
}

// TestReadingPassesBetweenCalls has many goroutines share a client, with
// contexts that end at random while their calls wait or read for the
// others: every call that returns nil has its own result, the others the
// context's error, and none hangs.
func TestReadingPassesBetweenCalls(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp")
	cl := newClient(t, e.addr, jsonCodec(t))
	defer cl.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for g := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 40 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3000))*time.Microsecond)
				var sum int
				var err error
				if r.IntN(4) == 0 {
					err = cl.Call(ctx, "test.hold", nil, r.IntN(3))
				} else if err = cl.Call(ctx, "demo.add", &sum, g, i); err == nil && sum != g+i {
					err = fmt.Errorf("add(%d, %d) = %d", g, i, sum)
				}
				cancel()
				kind := "ok"
				if err != nil {
					kind = "deadline"
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
					}
				}
				mu.Lock()
				counts[kind]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("calls: %v", counts)
	// The client is still in step.
	var sum int
	if err := cl.Call(context.Background(), "demo.add", &sum, 40, 2); err != nil || sum != 42 {
		t.Fatalf("last call: %d, %v", sum, err)
	}
}

// TestIdleConnectionClosedByServer: the server closes a connection nobody
// reads (a graceful shutdown, then a new server on the same port); the next
// call sees that before sending, and redials instead of failing.
func TestIdleConnectionClosedByServer(t *testing.T) {
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
	cl := newClient(t, addr, jsonCodec(t))
	defer cl.Close()
	var sum int
	if err := cl.Call(context.Background(), "demo.add", &sum, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2 := newServer(t, s)
	go srv2.Serve(ln2)
	defer srv2.Close()
	for i := range 3 {
		if err := cl.Call(context.Background(), "demo.add", &sum, i, 2); err != nil || sum != i+2 {
			t.Fatalf("call %d after the restart: %d, %v", i, sum, err)
		}
	}
}

// TestManyCallersOneClient runs thousands of calls from many goroutines on
// one client, with no deadline of their own: a call whose reply arrived
// while it was still writing (its write carried the others' calls) must
// take it, not start reading for a reply that came already. Such a call
// would read until the generous context below ends.
func TestManyCallersOneClient(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp")
	for _, codec := range []string{"json", "msgpack"} {
		c, ok := rpc.LookupCodec(codec)
		if !ok {
			continue
		}
		cl := newClient(t, e.addr, c)
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for i := range 500 {
					var sum int
					if err := cl.Call(ctx, "demo.add", &sum, g, i); err != nil || sum != g+i {
						t.Errorf("%s: add(%d, %d) = %d, %v", codec, g, i, sum, err)
						return
					}
				}
			})
		}
		wg.Wait()
		cl.Close()
	}
}
