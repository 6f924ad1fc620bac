package rpc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// gate registers "gate" on env's server: each call reports its arrival and
// waits until release is closed.
func gate(t *testing.T, env *streamEnv) (arrived *atomic.Int32, release chan struct{}) {
	t.Helper()
	arrived, release = new(atomic.Int32), make(chan struct{})
	if err := env.server.Register("gate", func() error {
		arrived.Add(1)
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return arrived, release
}

// maxInOrderStreams is the most streams a client opens when its codec's
// replies carry no ids.
const maxInOrderStreams = 64

// waitFor waits until cond holds, failing the test after a long while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
	}
}

// TestUnorderedCallsUseSeveralStreams: with a codec whose replies carry no
// ids, concurrent calls run at once on streams of their own, up to
// MaxUnorderedStreams, and later calls reuse them.
func TestUnorderedCallsUseSeveralStreams(t *testing.T) {
	bothReaders(t, testUnorderedCallsUseSeveralStreams)
}

func testUnorderedCallsUseSeveralStreams(t *testing.T, lead bool) {
	env := newStreamEnv(t, unorderedCodec{}, lead)
	arrived, release := gate(t, env)
	const extra = 6
	var wg sync.WaitGroup
	for range maxInOrderStreams + extra {
		wg.Go(func() {
			if err := env.client.Call(context.Background(), "gate", nil); err != nil {
				t.Error(err)
			}
		})
	}
	// Had the calls gone one at a time, only one would arrive.
	waitFor(t, "a call on every stream", func() bool { return arrived.Load() == maxInOrderStreams })
	close(release)
	wg.Wait()
	if n := arrived.Load(); n != maxInOrderStreams+extra {
		t.Errorf("%d calls arrived, want %d", n, maxInOrderStreams+extra)
	}
	// The extra calls waited for streams instead of dialing more.
	if d := env.dials.Load(); d != maxInOrderStreams {
		t.Errorf("%d dials, want %d", d, maxInOrderStreams)
	}
	for i := range 20 {
		var n int64
		if err := env.client.Call(context.Background(), "subtract", &n, i, 1); err != nil || n != int64(i-1) {
			t.Fatalf("call %d: %d, %v", i, n, err)
		}
	}
	if d := env.dials.Load(); d != maxInOrderStreams {
		t.Errorf("%d dials after sequential calls, want %d: streams not reused", d, maxInOrderStreams)
	}
}

// TestUnorderedStreamClosedWhileIdle: the peer closes the idle streams;
// the next call goes on a new one, seen closed before sending on a
// LeadStream, or after a write that failed on a plain Stream.
func TestUnorderedStreamClosedWhileIdle(t *testing.T) {
	bothReaders(t, testUnorderedStreamClosedWhileIdle)
}

func testUnorderedStreamClosedWhileIdle(t *testing.T, lead bool) {
	// In a bubble, synctest.Wait returns once the client's own reader of a
	// plain stream has seen the close and handed on its error.
	synctest.Test(t, func(t *testing.T) {
		env := newStreamEnv(t, unorderedCodec{}, lead)
		for i := range 3 {
			var n int64
			if err := env.client.Call(context.Background(), "subtract", &n, 5, i); err != nil || n != int64(5-i) {
				t.Fatalf("call %d: %d %v", i, n, err)
			}
			env.breakAll()
			synctest.Wait()
		}
		if d := env.dials.Load(); d != 3 {
			t.Errorf("%d dials, want 3", d)
		}
	})
}

// TestUnorderedClientClosed: Close fails the calls in flight and the calls
// after with ErrClosed.
func TestUnorderedClientClosed(t *testing.T) { bothReaders(t, testUnorderedClientClosed) }

func testUnorderedClientClosed(t *testing.T, lead bool) {
	env := newStreamEnv(t, unorderedCodec{}, lead)
	arrived, release := gate(t, env)
	defer close(release)
	var n int64
	if err := env.client.Call(context.Background(), "subtract", &n, 5, 1); err != nil {
		t.Fatal(err) // leaves an idle stream
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- env.client.Call(context.Background(), "gate", nil) }()
	}
	waitFor(t, "both calls", func() bool { return arrived.Load() == 2 })
	env.client.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, rpc.ErrClosed) {
			t.Errorf("call in flight: %v, want ErrClosed", err)
		}
	}
	if err := env.client.Call(context.Background(), "subtract", &n, 5, 1); !errors.Is(err, rpc.ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	for i, s := range env.servers {
		select {
		case <-s.done:
		default:
			t.Errorf("stream %d left open", i)
		}
	}
}

// TestUnorderedAbandonedCall: a call whose context ends closes its stream,
// whose late reply could be taken for another call's; the calls on other
// streams go on.
func TestUnorderedAbandonedCall(t *testing.T) { bothReaders(t, testUnorderedAbandonedCall) }

func testUnorderedAbandonedCall(t *testing.T, lead bool) {
	env := newStreamEnv(t, unorderedCodec{}, lead)
	arrived, release := gate(t, env)
	other := make(chan error, 1)
	go func() { other <- env.client.Call(context.Background(), "gate", nil) }()
	waitFor(t, "the other call", func() bool { return arrived.Load() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.client.Call(ctx, "gate", nil) }()
	waitFor(t, "the call", func() bool { return arrived.Load() == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned call: %v", err)
	}
	close(release)
	if err := <-other; err != nil {
		t.Errorf("the call on the other stream: %v", err)
	}
	var n int64
	if err := env.client.Call(context.Background(), "subtract", &n, 5, 1); err != nil || n != 4 {
		t.Errorf("next call: %d %v", n, err)
	}
	if d := env.dials.Load(); d != 2 {
		t.Errorf("%d dials, want 2 (the abandoned call's stream closed, the other reused)", d)
	}
}
