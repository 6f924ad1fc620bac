package msgpack_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/tcprpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// TestUnframedStream speaks to the stream transport as a stock msgpack-rpc
// client does: requests written back to back with no framing, replies read
// the same way and matched by msgid.
func TestUnframedStream(t *testing.T) {
	t.Parallel()
	s, c, notes := newServer(t)
	srv, err := tcprpc.NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(server)
	}()
	defer func() {
		client.Close()
		<-done
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))

	requests := [][]byte{
		pack(t, []any{0, 1, "subtract", []any{42, 23}}),
		pack(t, []any{2, "update", []any{1, 2}}),
		pack(t, []any{0, 2, "greet", []any{"stream"}}),
		pack(t, []any{0, 3, "nope", []any{}}),
		pack(t, []any{0, 4, "echo", []any{map[string]any{"big": uint64(1 << 63)}}}),
	}
	go func() {
		for _, r := range requests {
			if _, err := client.Write(r); err != nil {
				return
			}
		}
	}()
	want := map[uint64]func(r *wire.Reply) bool{
		1: func(r *wire.Reply) bool { var v int64; return r.Error == nil && r.Result.Decode(&v) == nil && v == 19 },
		2: func(r *wire.Reply) bool {
			var v string
			return r.Error == nil && r.Result.Decode(&v) == nil && v == "hello, stream"
		},
		3: func(r *wire.Reply) bool { return r.Error != nil && r.Error.Code == wire.CodeMethodNotFound },
		4: func(r *wire.Reply) bool {
			var v map[string]uint64
			return r.Error == nil && r.Result.Decode(&v) == nil && v["big"] == 1<<63
		},
	}
	br := bufio.NewReader(client)
	for range want {
		msg, err := c.ReadMessage(br, nil, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var r wire.Reply
		if err := c.DecodeReply(msg, &r); err != nil {
			t.Fatal(err)
		}
		check, ok := want[r.ID.Seq]
		if !ok || !check(&r) {
			t.Errorf("reply % x unexpected", msg)
		}
		delete(want, r.ID.Seq)
	}
	// Calls on a connection run concurrently: the notification may still
	// be running.
	// Wait for it without a clock: if it never runs, the test binary's
	// -timeout ends the wait.
	for len(notes.list()) == 0 {
		time.Sleep(time.Millisecond)
	}
	if got := notes.list(); len(got) != 1 {
		t.Errorf("notifications %q, want one", got)
	}
}
