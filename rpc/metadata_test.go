package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// metaServer is a test server with methods that show what a handler sees
// of its call's metadata and deadline.
func metaServer(t *testing.T, opts ...rpc.Option) *rpc.Server {
	s := newTestServer(t, opts...)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("meta.get", func(ctx context.Context, key string) (string, error) {
		call, _ := rpc.CallFromContext(ctx)
		call.SetReplyMetadata("X-Echo", call.Metadata().Get(key))
		return call.Metadata().Get(key), nil
	}))
	must(s.Register("meta.deadline", func(ctx context.Context) (int64, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return -1, nil
		}
		return int64(time.Until(d) / time.Millisecond), nil
	}))
	return s
}

// clientsOf returns a client of s over each kind of transport: one that
// carries metadata beside the message (in process, as HTTP does), and one
// that carries it inside (a stream).
func clientsOf(t *testing.T, s *rpc.Server, opts ...rpc.Option) map[string]*rpc.Client {
	t.Helper()
	inproc, err := rpc.NewClient(rpc.InProcess(s), fakeCodec{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		cs, ss := streamPair()
		go serveStream(s, ss, fakeCodec{})
		return cs, nil
	}, fakeCodec{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inproc.Close(); stream.Close() })
	return map[string]*rpc.Client{"beside": inproc, "inside": stream}
}

func TestMetadataTravels(t *testing.T) {
	t.Parallel()
	s := metaServer(t)
	var replied sync.Map
	record := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		call.SetMetadata("traceparent", "00-abc-def-01")
		res, err := next(ctx, call)
		replied.Store(call.Codec+call.Method, call.ReplyMetadata().Get("x-echo"))
		return res, err
	}
	for name, c := range clientsOf(t, s, rpc.WithInterceptors(record)) {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.NewOutgoingContext(context.Background(), metadata.New("Tenant", "acme"))
			var got string
			if err := c.Call(ctx, "meta.get", &got, "tenant"); err != nil || got != "acme" {
				t.Errorf("tenant: %q, %v", got, err)
			}
			if v, _ := replied.Load("fakemeta.get"); v != "acme" {
				t.Errorf("reply metadata seen by the client's interceptor: %v", v)
			}
			if err := c.Call(ctx, "meta.get", &got, "traceparent"); err != nil || got != "00-abc-def-01" {
				t.Errorf("set by an interceptor: %q, %v", got, err)
			}
			// Without metadata, nothing.
			if err := c.Call(context.Background(), "meta.get", &got, "tenant"); err != nil || got != "" {
				t.Errorf("no metadata: %q, %v", got, err)
			}
		})
	}
}

func TestMetadataBounds(t *testing.T) {
	t.Parallel()
	s := metaServer(t)
	for name, c := range clientsOf(t, s) {
		t.Run(name, func(t *testing.T) {
			for what, md := range map[string]metadata.MD{
				"bad key":        {"Bad Key": "x"},
				"HTTP's own key": {"content-type": "x"},
				"long value":     {"k": strings.Repeat("x", metadata.MaxValueLen+1)},
				"control":        {"k": "a\x00b"},
			} {
				// The client refuses to send it...
				ctx := metadata.NewOutgoingContext(context.Background(), md)
				if err := c.Call(ctx, "meta.get", nil, "k"); err == nil || !strings.Contains(err.Error(), "metadata") {
					t.Errorf("%s: %v, want a metadata error", what, err)
				}
				_ = name
			}
			// ...and a server refuses it from a client that sends it anyway.
			for what, md := range map[string]string{
				"bad key":    `{"Bad Key":"x"}`,
				"too many":   manyEntries(metadata.MaxEntries + 1),
				"long value": `{"k":"` + strings.Repeat("x", metadata.MaxValueLen+1) + `"}`,
			} {
				out := s.ServeMessage(context.Background(), fakeCodec{}, []byte(`{"m":"meta.get","id":1,"p":["k"],"md":`+md+`}`), nil)
				if !strings.Contains(string(out), "-32600") {
					t.Errorf("server, %s: %.200s, want invalid request", what, out)
				}
			}
		})
	}
}

func TestDeadlineTravels(t *testing.T) {
	t.Parallel()
	s := metaServer(t, rpc.WithCallTimeout(time.Hour))
	for name, c := range clientsOf(t, s) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var left int64
			if err := c.Call(ctx, "meta.deadline", &left); err != nil || left <= 0 || left > 30000 {
				t.Errorf("handler's time left of a 30s call: %dms, %v", left, err)
			}
			// Without a deadline, the server's call timeout applies.
			if err := c.Call(context.Background(), "meta.deadline", &left); err != nil || left <= 30000 || left > 3600000 {
				t.Errorf("handler's time left under the server's hour: %dms, %v", left, err)
			}
		})
	}
	// A deadline past by the time the call is served: -32001.
	s2 := newTestServer(t)
	out := s2.ServeMessage(context.Background(), fakeCodec{}, []byte(`{"m":"sleep","id":1,"p":[10000],"md":{"polyrpc-timeout-ms":"0"}}`), nil)
	if !strings.Contains(string(out), "-32001") {
		t.Errorf("a call with no time left: %s", out)
	}
	for _, bogus := range []string{"-1", "soon", "1.5", "99999999999999999999"} {
		out := s2.ServeMessage(context.Background(), fakeCodec{}, []byte(`{"m":"sum","id":1,"md":{"polyrpc-timeout-ms":"`+bogus+`"}}`), nil)
		if !strings.Contains(string(out), "-32600") {
			t.Errorf("timeout %q: %s, want invalid request", bogus, out)
		}
	}
}

// TestCancellationTravels: a client's call whose context ends makes the
// server's handler see its context end, through a $/cancelRequest on the
// same stream.
func TestCancellationTravels(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	if err := s.Register("wait", func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	c := clientsOf(t, s)["inside"]
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "wait", nil) }()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("call: %v", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler's context ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end")
	}
	// The connection goes on serving.
	var n int64
	if err := c.Call(context.Background(), "subtract", &n, 3, 1); err != nil || n != 2 {
		t.Errorf("after a cancellation: %d, %v", n, err)
	}
	// A cancellation of an id not in flight does nothing.
	table := &wire.CallTable{}
	out := s.ServeMessage(wire.WithCallTable(context.Background(), table), fakeCodec{}, []byte(`{"m":"$/cancelRequest","p":{"id":12345}}`), nil)
	if len(out) != 0 {
		t.Errorf("a cancellation got a reply: %s", out)
	}
}

func manyEntries(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	return b.String() + "}"
}
