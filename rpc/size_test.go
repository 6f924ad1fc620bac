package rpc_test

import (
	"context"
	stdjson "encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
)

// sizeLog records what an interceptor learns of a call's sizes.
type sizeLog struct {
	mu      sync.Mutex
	req     map[string]int   // method → RequestSize
	replies map[string][]int // method → sizes told to OnReply, per function
	after   map[string]int   // method → ReplySize once next returned
}

func newSizeLog() *sizeLog {
	return &sizeLog{req: map[string]int{}, replies: map[string][]int{}, after: map[string]int{}}
}

// interceptor notes RequestSize before next (server) or after (client),
// and registers two OnReply functions, whose order it checks.
func (l *sizeLog) interceptor(client bool) rpc.Interceptor {
	return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		m := call.Method
		if !client {
			l.mu.Lock()
			l.req[m] = call.RequestSize()
			l.mu.Unlock()
		}
		first := false
		call.OnReply(func(n int) {
			l.mu.Lock()
			defer l.mu.Unlock()
			first = true
			l.replies[m] = append(l.replies[m], n)
		})
		call.OnReply(func(n int) {
			l.mu.Lock()
			defer l.mu.Unlock()
			if !first {
				l.replies[m] = append(l.replies[m], -1) // out of order
			}
			l.replies[m] = append(l.replies[m], n)
		})
		res, err := next(ctx, call)
		l.mu.Lock()
		if client {
			l.req[m] = call.RequestSize()
		}
		l.after[m] = call.ReplySize()
		l.mu.Unlock()
		return res, err
	}
}

// TestServerSizes: a server's interceptor knows the request's size before
// the call, and is told the reply's once it is encoded, for a call alone
// and for each call of a batch; a notification and a call made with Invoke
// have no reply to tell.
func TestServerSizes(t *testing.T) {
	t.Parallel()
	l := newSizeLog()
	s := newTestServer(t, rpc.WithInterceptors(l.interceptor(false)))
	ctx := context.Background()

	msg := request(1, "subtract", "[5,3]")
	reply := s.ServeMessage(ctx, fakeCodec{}, msg, []byte("prefix"))
	if got, want := l.req["subtract"], len(msg); got != want {
		t.Errorf("RequestSize = %d, want %d", got, want)
	}
	if got, want := l.replies["subtract"], []int{len(reply) - 6, len(reply) - 6}; !slices.Equal(got, want) {
		t.Errorf("OnReply told %v, want %v (the reply without what dst held)", got, want)
	}
	if l.after["subtract"] != 0 {
		t.Errorf("ReplySize = %d as next returned on a server, want 0: the reply is encoded later", l.after["subtract"])
	}

	// An error reply has its size told too.
	msg = request(2, "fail", `[7,"no"]`)
	reply = s.ServeMessage(ctx, fakeCodec{}, msg, nil)
	if got := l.replies["fail"]; !slices.Equal(got, []int{len(reply), len(reply)}) {
		t.Errorf("OnReply for an error told %v, want the reply's %d", got, len(reply))
	}

	// A notification has none.
	note := []byte(`{"m":"echo","p":[1]}`)
	if out := s.ServeMessage(ctx, fakeCodec{}, note, nil); len(out) != 0 {
		t.Fatalf("a notification was answered: %s", out)
	}
	if l.req["echo"] != len(note) || l.replies["echo"] != nil {
		t.Errorf("notification: RequestSize %d (want %d), OnReply told %v (want nothing)", l.req["echo"], len(note), l.replies["echo"])
	}

	// In a batch, each call counts its own part of the message and of the
	// reply.
	items := [][]byte{request(3, "join", `["-","a","b"]`), request(4, "sum", "[1,2,3,4]")}
	batch := fakeCodec{}.AppendBatch(nil, items)
	reply = s.ServeMessage(ctx, fakeCodec{}, batch, nil)
	var parts []stdjson.RawMessage
	if err := stdjson.Unmarshal(reply, &parts); err != nil || len(parts) != 2 {
		t.Fatalf("batch reply %s: %v", reply, err)
	}
	for i, m := range []string{"join", "sum"} {
		if got, want := l.req[m], len(items[i]); got != want {
			t.Errorf("%s in a batch: RequestSize = %d, want its item's %d", m, got, want)
		}
		if got := l.replies[m]; !slices.Equal(got, []int{len(parts[i]), len(parts[i])}) {
			t.Errorf("%s in a batch: OnReply told %v, want its reply's %d", m, got, len(parts[i]))
		}
	}

	// Invoke: no message either way.
	if _, err := s.Invoke(ctx, "norm1", map[string]any{"x": 1, "y": 2}); err != nil {
		t.Fatal(err)
	}
	if l.req["norm1"] != 0 || l.replies["norm1"] != nil {
		t.Errorf("Invoke: RequestSize %d, OnReply told %v; want 0 and nothing", l.req["norm1"], l.replies["norm1"])
	}
}

// sizeTransport records the sizes of what it carries.
type sizeTransport struct {
	rpc.Transport
	mu         sync.Mutex
	sent, recv int
}

func (t *sizeTransport) Exchange(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	reply, err := t.Transport.Exchange(ctx, c, msg, oneway)
	t.mu.Lock()
	t.sent, t.recv = len(msg), len(reply)
	t.mu.Unlock()
	return reply, err
}

// TestClientSizes: a client's interceptor learns the sizes of the call
// sent and of the reply received once next returned, and OnReply is told
// the reply's before.
func TestClientSizes(t *testing.T) {
	t.Parallel()
	l := newSizeLog()
	tr := &sizeTransport{Transport: rpc.InProcess(newTestServer(t))}
	c, err := rpc.NewClient(tr, fakeCodec{}, rpc.WithInterceptors(l.interceptor(true)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var n int64
	if err := c.Call(ctx, "subtract", &n, 9, 4); err != nil || n != 5 {
		t.Fatalf("subtract = %d, %v", n, err)
	}
	if l.req["subtract"] != tr.sent || tr.sent == 0 {
		t.Errorf("RequestSize = %d, want the %d bytes sent", l.req["subtract"], tr.sent)
	}
	if l.after["subtract"] != tr.recv || !slices.Equal(l.replies["subtract"], []int{tr.recv, tr.recv}) {
		t.Errorf("ReplySize = %d, OnReply told %v; want the %d bytes received", l.after["subtract"], l.replies["subtract"], tr.recv)
	}

	// An error reply is a reply.
	if err := c.Call(ctx, "fail", nil, 3, "x"); err == nil {
		t.Fatal("fail succeeded")
	}
	if l.after["fail"] != tr.recv || tr.recv == 0 {
		t.Errorf("ReplySize of an error reply = %d, want %d", l.after["fail"], tr.recv)
	}

	if err := c.Notify(ctx, "echo", 1); err != nil {
		t.Fatal(err)
	}
	if l.req["echo"] != tr.sent || l.after["echo"] != 0 || l.replies["echo"] != nil {
		t.Errorf("notification: RequestSize %d (sent %d), ReplySize %d, OnReply told %v; want no reply", l.req["echo"], tr.sent, l.after["echo"], l.replies["echo"])
	}
}
