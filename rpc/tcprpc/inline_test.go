package tcprpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// relayServer serves "wait", which returns once "signal" has run (or fails
// after a generous time), and "echo".
func relayServer(t *testing.T) (addr string, entered <-chan struct{}) {
	t.Helper()
	s := newRPCServer(t)
	signal := make(chan struct{})
	in := make(chan struct{}, 1)
	var once sync.Once
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("wait", func() (string, error) {
		in <- struct{}{}
		select {
		case <-signal:
			return "released", nil
		case <-time.After(20 * time.Second):
			return "", errors.New("never released: the call behind this one was not read")
		}
	}))
	must(s.Register("signal", func() (string, error) {
		once.Do(func() { close(signal) })
		return "signalled", nil
	}))
	must(s.Register("echo", func(n int) (int, error) { return n, nil }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, s)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), in
}

// TestCallWaitingForALaterCall sends, on one connection, a call that waits
// for a second call sent after it. The first is served by the reading
// goroutine itself (nothing else is buffered); the watcher must give the
// reading to another goroutine so that the second is read and served.
func TestCallWaitingForALaterCall(t *testing.T) {
	t.Parallel()
	addr, entered := relayServer(t)
	nc := rawConn(t, addr)
	w := frame.NewWriter(nc)
	if err := w.WriteFrame(context.Background(), []byte(`{"jsonrpc":"2.0","method":"wait","id":1}`)); err != nil {
		t.Fatal(err)
	}
	<-entered // the first call runs: nothing else was sent yet
	if err := w.WriteFrame(context.Background(), []byte(`{"jsonrpc":"2.0","method":"signal","id":2}`)); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []string
	for range 2 {
		msg, err := frame.Read(nc, nil, 1<<20)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(msg))
	}
	slices.Sort(got) // the replies race each other
	want := []string{
		`{"jsonrpc":"2.0","result":"released","id":1}`,
		`{"jsonrpc":"2.0","result":"signalled","id":2}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replies %q, want %q", got, want)
	}
	// The connection goes on serving, in any order of arrival.
	for i := range 50 {
		if err := w.WriteFrame(context.Background(), fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"echo","params":[%d],"id":%d}`, i, i+10)); err != nil {
			t.Fatal(err)
		}
		msg, err := frame.Read(nc, nil, 1<<20)
		if want := fmt.Sprintf(`{"jsonrpc":"2.0","result":%d,"id":%d}`, i, i+10); err != nil || string(msg) != want {
			t.Fatalf("echo %d: %s, %v; want %s", i, msg, err, want)
		}
	}
}

// TestSlowAndFastCallsShareAConnection mixes calls that outlast the
// watcher's tick with quick ones on one multiplexed client, so that readers
// are taken over while other calls come and go: every reply reaches its own
// call.
func TestSlowAndFastCallsShareAConnection(t *testing.T) {
	t.Parallel()
	e := start(t, "tcp")
	cl := newClient(t, e.addr, jsonCodec(t))
	defer cl.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if (g+i)%5 == 0 {
					if err := cl.Call(ctx, "test.hold", nil, 3); err != nil {
						errs <- err
					}
					continue
				}
				var sum int
				if err := cl.Call(ctx, "demo.add", &sum, g, i); err != nil || sum != g+i {
					errs <- fmt.Errorf("add(%d, %d) = %d, %v", g, i, sum, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPipelinedBurst sends many calls in one write: the reader serves them
// from its buffer and holds their replies back until the buffer is empty;
// every reply arrives.
func TestPipelinedBurst(t *testing.T) {
	t.Parallel()
	addr, _ := relayServer(t)
	nc := rawConn(t, addr)
	const n = 300
	var burst []byte
	for i := range n {
		burst = frame.Append(burst, fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"echo","params":[%d],"id":%d}`, i, i))
	}
	if _, err := nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	seen := make([]bool, n)
	for range n {
		msg, err := frame.Read(nc, nil, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var i, id int
		if _, err := fmt.Sscanf(string(msg), `{"jsonrpc":"2.0","result":%d,"id":%d}`, &i, &id); err != nil || i != id || seen[id] {
			t.Fatalf("reply %s (%v)", msg, err)
		}
		seen[id] = true
	}
}
