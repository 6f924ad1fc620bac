// Package metatest checks, for the codecs' tests, that a codec carries a
// call's metadata, deadline and cancellation end to end: an rpc.Server
// behind a real tcprpc server on loopback, and an rpc.Client over
// tcprpc's dialer, or raw frames as a stock client sends them.
package metatest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Ended is what a handler of Env saw of its context when it ended.
type Ended struct {
	Tag         string
	HadDeadline bool
	Deadline    time.Time
	Started     time.Time
	Err         error
}

// Env is a server of the methods below behind tcprpc on loopback:
//
//	meta.echo()          returns the call's metadata, and sets the reply's
//	                     "x-reply" to "pong " + the call's "x-test"
//	meta.wait(tag)       tells Started, waits for its context to end,
//	                     tells Ended, and returns the context's error
type Env struct {
	Addr    string
	Codec   rpc.Codec
	Started chan string
	Ended   chan Ended
}

// Start starts an Env for codec c.
func Start(t *testing.T, c rpc.Codec) *Env {
	t.Helper()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Codec: c, Started: make(chan string, 16), Ended: make(chan Ended, 16)}
	if err := s.Register("meta.echo", func(ctx context.Context) (map[string]string, error) {
		call, ok := rpc.CallFromContext(ctx)
		if !ok {
			return nil, errors.New("no call in the handler's context")
		}
		md := call.Metadata()
		call.SetReplyMetadata("x-reply", "pong "+md.Get("x-test"))
		out := map[string]string{}
		for k, v := range md {
			out[k] = v
		}
		return out, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("meta.wait", func(ctx context.Context, tag string) (string, error) {
		start := time.Now()
		d, ok := ctx.Deadline()
		e.Started <- tag
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			e.Ended <- Ended{Tag: tag, HadDeadline: ok, Deadline: d, Started: start, Err: errors.New("not ended after 30s")}
			return "", errors.New("not ended")
		}
		e.Ended <- Ended{Tag: tag, HadDeadline: ok, Deadline: d, Started: start, Err: ctx.Err()}
		return "", ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := tcprpc.NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.Addr = ln.Addr().String()
	return e
}

// Client returns a Go client of e over tcprpc's dialer, with opts.
func (e *Env) Client(t *testing.T, opts ...rpc.Option) *rpc.Client {
	t.Helper()
	dial, err := tcprpc.Dialer(e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewStreamClient(dial, e.Codec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// WaitEnded returns what the handler of tag saw when it ended, or fails t
// after 10 seconds.
func (e *Env) WaitEnded(t *testing.T, tag string) Ended {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case x := <-e.Ended:
			if x.Tag == tag {
				return x
			}
		case <-timeout:
			t.Fatalf("the handler of %q did not end within 10s", tag)
		}
	}
}

// WaitStarted waits until the handler of tag started, or fails t after 10
// seconds.
func (e *Env) WaitStarted(t *testing.T, tag string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case x := <-e.Started:
			if x == tag {
				return
			}
		case <-timeout:
			t.Fatalf("the handler of %q did not start within 10s", tag)
		}
	}
}

// Run runs every check on codec c, which has ids and room for metadata.
func Run(t *testing.T, c rpc.Codec) {
	t.Run("entries", func(t *testing.T) { t.Parallel(); Entries(t, c) })
	t.Run("interceptor metadata", func(t *testing.T) { t.Parallel(); InterceptorMetadata(t, c) })
	t.Run("deadline", func(t *testing.T) { t.Parallel(); Deadline(t, c) })
	t.Run("abandoned", func(t *testing.T) { t.Parallel(); Abandoned(t, c) })
	t.Run("raw frames", func(t *testing.T) { t.Parallel(); RawFrames(t, c, false) })
	if _, ok := c.(wire.Delimiter); ok {
		t.Run("raw unframed", func(t *testing.T) { t.Parallel(); RawFrames(t, c, true) })
	}
}

// Entries: a codec encodes a call's metadata from wire.Call.Entries, over
// wire.Call.Meta, to the same bytes as from Meta alone holding it all, and
// decodes a request's into wire.Request.Entries.
func Entries(t *testing.T, c rpc.Codec) {
	if e, ok := c.(wire.EntriesEncoder); !ok || !e.EncodesEntries() {
		t.Fatalf("%s does not encode wire.Call.Entries", c.Name())
	}
	all := metadata.MD{metadata.TimeoutKey: "1500", "x-a": "1", "x-b": "", "x-c": "3", "x-d": "4", "x-e": "5",
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	for _, notification := range []bool{false, true} {
		call := wire.Call{Method: "m", ID: wire.ID{Seq: 9}, Notification: notification, Args: []any{int64(1)}, Meta: all}
		want, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatal(err)
		}
		// All in Entries, in an order of their own; then split, Entries
		// standing over stale values in Meta.
		var e wire.Entries
		for _, k := range []string{"x-e", "traceparent", "x-a", "x-d", metadata.TimeoutKey, "x-c", "x-b"} {
			e.Add(k, all[k])
		}
		var split wire.Entries
		split.Add("x-c", "3")
		split.Add("traceparent", all["traceparent"])
		base := metadata.MD{"traceparent": "stale", "x-c": "stale"}
		for k, v := range all {
			if _, over := split.Get(k); !over {
				base[k] = v
			}
		}
		for what, cl := range map[string]wire.Call{
			"entries": {Method: "m", ID: wire.ID{Seq: 9}, Notification: notification, Args: []any{int64(1)}, Entries: &e},
			"split":   {Method: "m", ID: wire.ID{Seq: 9}, Notification: notification, Args: []any{int64(1)}, Meta: base, Entries: &split},
		} {
			got, err := c.AppendCall(nil, &cl)
			if err != nil || string(got) != string(want) {
				t.Errorf("%s: % x, %v\nwant % x", what, got, err, want)
			}
		}
		var req wire.Request
		if err := c.DecodeRequest(want, &req); err != nil || req.Meta != nil || req.Entries.Len() != len(all) {
			t.Fatalf("decoded: %+v, %v", req, err)
		}
		for k, v := range all {
			if got, ok := req.Entries.Get(k); !ok || got != v {
				t.Errorf("decoded %s: %q, want %q", k, got, v)
			}
		}
	}
}

// InterceptorMetadata: metadata set by a client interceptor arrives in the
// handler, and the reply's metadata comes back to the interceptor.
func InterceptorMetadata(t *testing.T, c rpc.Codec) {
	e := Start(t, c)
	var mu sync.Mutex
	var reply metadata.MD
	client := e.Client(t, rpc.WithInterceptors(func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		call.SetMetadata("x-test", "hello")
		call.SetMetadata("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		call.SetMetadata("x-over", "interceptor")
		for _, k := range []string{"x-1", "x-2", "x-3", "x-4"} {
			call.SetMetadata(k, k)
		}
		res, err := next(ctx, call)
		mu.Lock()
		reply = call.ReplyMetadata()
		mu.Unlock()
		return res, err
	}))
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.New("x-from-context", "ctx", "x-over", "context"))
	var got map[string]string
	if err := client.Call(ctx, "meta.echo", &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"x-test": "hello", "x-from-context": "ctx", "x-over": "interceptor",
		"x-1": "x-1", "x-2": "x-2", "x-3": "x-3", "x-4": "x-4",
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	if len(got) != len(want) {
		t.Errorf("the handler got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the handler got %v, want %v", got, want)
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if reply.Get("x-reply") != "pong hello" || len(reply) != 1 {
		t.Errorf("reply metadata %v, want x-reply: pong hello", reply)
	}

	// Without metadata: none arrives, and the reply carries none back,
	// since the call asked for none.
	plain := e.Client(t)
	got = nil
	var rmd metadata.MD
	plain2 := e.Client(t, rpc.WithInterceptors(func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		res, err := next(ctx, call)
		rmd = call.ReplyMetadata()
		return res, err
	}))
	if err := plain.Call(context.Background(), "meta.echo", &got); err != nil || len(got) != 0 {
		t.Errorf("without metadata the handler got %v, %v", got, err)
	}
	if err := plain2.Call(context.Background(), "meta.echo", &got); err != nil || len(got) != 0 || len(rmd) != 0 {
		t.Errorf("without metadata: handler got %v, reply metadata %v, %v", got, rmd, err)
	}
}

// Deadline: a call with a 100 ms deadline to a handler that waits for its
// context: the handler sees a deadline about 100 ms away and ends, and the
// client gets context.DeadlineExceeded.
func Deadline(t *testing.T, c rpc.Codec) {
	e := Start(t, c)
	client := e.Client(t)
	if err := client.Call(context.Background(), "meta.echo", nil); err != nil {
		t.Fatal(err) // dialed before the clock starts
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	clientDeadline, _ := ctx.Deadline()
	err := client.Call(ctx, "meta.wait", nil, "deadline")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the client got %v, want context.DeadlineExceeded", err)
	}
	if took > 5*time.Second {
		t.Errorf("the call took %v", took)
	}
	x := e.WaitEnded(t, "deadline")
	if !x.HadDeadline {
		t.Fatal("the handler's context had no deadline")
	}
	// The server has no call timeout of its own: the deadline is the
	// client's, the milliseconds left when the call was sent, counted from
	// when the server read it.
	if left := x.Deadline.Sub(x.Started); left > 100*time.Millisecond {
		t.Errorf("the handler's deadline was %v after it started, want at most 100ms", left)
	}
	if x.Deadline.Before(start) || x.Deadline.After(clientDeadline.Add(time.Second)) {
		t.Errorf("the handler's deadline %v is not about the client's, %v", x.Deadline, clientDeadline)
	}
	// Its own deadline ends it; the client's $/cancelRequest, sent when
	// the client's deadline passed at about the same time, may come first.
	if !errors.Is(x.Err, context.DeadlineExceeded) && !errors.Is(x.Err, context.Canceled) {
		t.Errorf("the handler's context ended with %v", x.Err)
	}
}

// Abandoned: a call whose client cancels its context has its handler's
// context cancelled, through $/cancelRequest on the connection, which
// stays open and usable.
func Abandoned(t *testing.T, c rpc.Codec) {
	e := Start(t, c)
	client := e.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- client.Call(ctx, "meta.wait", nil, "abandoned") }()
	e.WaitStarted(t, "abandoned")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("the client got %v, want context.Canceled", err)
	}
	x := e.WaitEnded(t, "abandoned")
	if x.HadDeadline || !errors.Is(x.Err, context.Canceled) {
		t.Errorf("the handler's context: deadline %v, ended with %v; want no deadline, cancelled", x.HadDeadline, x.Err)
	}
	var got map[string]string
	if err := client.Call(context.Background(), "meta.echo", &got); err != nil {
		t.Errorf("a call after: %v", err)
	}
}

// rawConn is a connection that speaks to the server as a stock client:
// messages the codec encodes, in frames or, for a self-delimiting codec,
// unframed.
type rawConn struct {
	t        *testing.T
	c        rpc.Codec
	nc       net.Conn
	br       *bufio.Reader
	unframed bool
}

func (r *rawConn) send(call *wire.Call) {
	r.t.Helper()
	msg, err := r.c.AppendCall(nil, call)
	if err != nil {
		r.t.Fatal(err)
	}
	if !r.unframed {
		msg = frame.Append(nil, msg)
	}
	if _, err := r.nc.Write(msg); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) recv() *wire.Reply {
	r.t.Helper()
	var msg []byte
	var err error
	if r.unframed {
		msg, err = r.c.(wire.Delimiter).ReadMessage(r.br, nil, 1<<20)
	} else {
		msg, err = frame.Read(r.br, nil, 1<<20)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var rep wire.Reply
	if err := r.c.DecodeReply(msg, &rep); err != nil {
		r.t.Fatalf("reply % x: %v", msg, err)
	}
	return &rep
}

// RawFrames speaks as a stock client would: a call whose metadata holds
// polyrpc-timeout-ms 100 is answered CodeDeadline with no metadata (the
// handler set none), and calls cancelled by a $/cancelRequest notification,
// its params named or positional, are answered CodeCanceled; a
// $/cancelRequest for an unknown id does nothing.
func RawFrames(t *testing.T, c rpc.Codec, unframed bool) {
	e := Start(t, c)
	nc, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	r := &rawConn{t: t, c: c, nc: nc, br: bufio.NewReader(nc), unframed: unframed}

	r.send(&wire.Call{Method: "meta.wait", ID: wire.ID{Seq: 7}, Args: []any{"raw-deadline"},
		Meta: metadata.MD{metadata.TimeoutKey: "100"}})
	rep := r.recv()
	if rep.ID.Seq != 7 || rep.Error == nil || rep.Error.Code != wire.CodeDeadline || rep.Meta != nil {
		t.Errorf("reply %+v (error %v), want id 7 and code %d without metadata", rep, rep.Error, wire.CodeDeadline)
	}
	if x := e.WaitEnded(t, "raw-deadline"); !x.HadDeadline || !errors.Is(x.Err, context.DeadlineExceeded) {
		t.Errorf("the handler: deadline %v, ended with %v", x.HadDeadline, x.Err)
	}

	for i, cancel := range []*wire.Call{
		{Method: wire.CancelMethod, Notification: true, Named: map[string]any{"id": 8}},
		{Method: wire.CancelMethod, Notification: true, Args: []any{map[string]any{"id": 9}}},
	} {
		seq := uint64(8 + i)
		tag := "raw-cancel-" + string(rune('a'+i))
		r.send(&wire.Call{Method: "meta.wait", ID: wire.ID{Seq: seq}, Args: []any{tag}})
		e.WaitStarted(t, tag)
		// One for a call that is not there first: nothing happens.
		r.send(&wire.Call{Method: wire.CancelMethod, Notification: true, Named: map[string]any{"id": 1000}})
		r.send(cancel)
		rep := r.recv()
		if rep.ID.Seq != seq || rep.Error == nil || rep.Error.Code != wire.CodeCanceled {
			t.Errorf("reply %+v (error %v), want id %d and code %d", rep, rep.Error, seq, wire.CodeCanceled)
		}
		if x := e.WaitEnded(t, tag); !errors.Is(x.Err, context.Canceled) {
			t.Errorf("the handler ended with %v", x.Err)
		}
	}

	// Metadata asked for: the reply carries the handler's back.
	r.send(&wire.Call{Method: "meta.echo", ID: wire.ID{Seq: 11}, Args: []any{}, Meta: metadata.MD{"x-test": "raw"}})
	rep = r.recv()
	var got map[string]string
	if rep.Error != nil || rep.Result.Decode(&got) != nil || got["x-test"] != "raw" || rep.Meta.Get("x-reply") != "pong raw" {
		t.Errorf("reply %+v (error %v), result %v; want x-test raw, reply metadata x-reply: pong raw", rep, rep.Error, got)
	}
	// Not asked for: none, though the handler set some.
	r.send(&wire.Call{Method: "meta.echo", ID: wire.ID{Seq: 12}, Args: []any{}})
	if rep = r.recv(); rep.Error != nil || rep.Meta != nil {
		t.Errorf("reply %+v (error %v), want no metadata", rep, rep.Error)
	}
}
