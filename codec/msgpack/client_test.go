package msgpack_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func TestClientErrors(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		method string
		params []any
		want   *rpc.Error
	}{
		{"fail", nil, &rpc.Error{Code: 42, Message: "boom", Data: map[string]any{"big": int64(math.MaxInt64), "why": "because"}}},
		{"plainfail", nil, &rpc.Error{Code: rpc.CodeApplication, Message: "plain failure"}},
		{"nope", nil, &rpc.Error{Code: rpc.CodeMethodNotFound, Message: "method not found: nope"}},
		{"subtract", []any{1}, &rpc.Error{Code: rpc.CodeInvalidParams, Message: "invalid params: subtract wants 2 params, got 1"}},
	}
	for _, tt := range tests {
		err := cl.Call(ctx, tt.method, nil, tt.params...)
		var e *rpc.Error
		if !errors.As(err, &e) || !reflect.DeepEqual(e, tt.want) {
			t.Errorf("%s: %#v, want %#v", tt.method, err, tt.want)
		}
	}

	var r int64
	if err := cl.CallNamed(ctx, "subtract", &r, map[string]int{"minuend": 10, "subtrahend": 3}); err != nil || r != 7 {
		t.Errorf("named call: %d, %v", r, err)
	}
	var p Point
	if err := cl.CallNamed(ctx, "point", &p, Point{X: 1, Y: 2}); err != nil || p != (Point{X: 2, Y: 4}) {
		t.Errorf("named struct call: %+v, %v", p, err)
	}
	var pong string
	if err := cl.CallNamed(ctx, "ping", &pong, map[string]any(nil)); err != nil || pong != "pong" {
		t.Errorf("named call with a nil map: %q, %v", pong, err)
	}
}

// TestDecodeForeignReplies decodes replies as other msgpack-rpc servers
// write them.
func TestDecodeForeignReplies(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	tests := []struct {
		name  string
		reply any
		seq   uint64
		raw   []byte
		err   *wire.Error
		res   any
	}{
		{"result", []any{1, 7, nil, "ok"}, 7, []byte{7}, nil, "ok"},
		{"nil result", []any{1, 7, nil, nil}, 7, []byte{7}, nil, nil},
		{"uint64 max msgid", []any{1, uint64(math.MaxUint64), nil, 1}, math.MaxUint64,
			hexb("cf ff ff ff ff ff ff ff ff"), nil, int64(1)},
		{"negative msgid", []any{1, -1, nil, 1}, 0, []byte{0xff}, nil, int64(1)},
		{"nil msgid", []any{1, nil, "bad", nil}, 0, nil, &wire.Error{Code: wire.CodeServerError, Message: "bad"}, nil},
		{"string error", []any{1, 2, "no such method", nil}, 2, []byte{2},
			&wire.Error{Code: wire.CodeServerError, Message: "no such method"}, nil},
		{"bin error", []any{1, 2, []byte("raw error"), nil}, 2, []byte{2},
			&wire.Error{Code: wire.CodeServerError, Message: "raw error"}, nil},
		{"array error", []any{1, 2, []any{1, "x"}, nil}, 2, []byte{2},
			&wire.Error{Code: wire.CodeServerError, Message: "server error: [1 x]", Data: []any{int64(1), "x"}}, nil},
		{"error map without a code", []any{1, 2, map[string]any{"message": "m", "code": "x"}, nil}, 2, []byte{2},
			&wire.Error{Code: wire.CodeServerError, Message: "m", Data: map[string]any{"message": "m", "code": "x"}}, nil},
		{"error map with a huge code", []any{1, 2, map[string]any{"code": int64(1) << 40}, nil}, 2, []byte{2},
			&wire.Error{Code: wire.CodeServerError, Message: "server error: map[code:1099511627776]", Data: map[string]any{"code": int64(1) << 40}}, nil},
		{"error map without data", []any{1, 2, map[string]any{"code": 3, "message": "m"}, nil}, 2, []byte{2},
			&wire.Error{Code: 3, Message: "m"}, nil},
		{"error with integer keys", []any{1, 2, map[int]string{1: "x"}, nil}, 2, []byte{2},
			&wire.Error{Code: wire.CodeServerError, Message: "server error that cannot be decoded: msgpack: map key is an integer; only string keys are supported"}, nil},
		{"error and result both set", []any{1, 2, "e", "r"}, 2, []byte{2}, &wire.Error{Code: wire.CodeServerError, Message: "e"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r wire.Reply
			if err := c.DecodeReply(pack(t, tt.reply), &r); err != nil {
				t.Fatal(err)
			}
			if r.ID.Seq != tt.seq || !bytes.Equal(r.ID.Raw, tt.raw) || (r.ID.Raw == nil) != (tt.raw == nil) {
				t.Errorf("id %+v, want seq %d raw % x", r.ID, tt.seq, tt.raw)
			}
			if !reflect.DeepEqual(r.Error, tt.err) {
				t.Errorf("error %#v, want %#v", r.Error, tt.err)
			}
			if tt.err != nil {
				if r.Result != nil {
					t.Error("result beside an error")
				}
				return
			}
			var res any
			if err := r.Result.Decode(&res); err != nil || !reflect.DeepEqual(res, tt.res) {
				t.Errorf("result %#v, %v; want %#v", res, err, tt.res)
			}
		})
	}
}

func TestDecodeBadReplies(t *testing.T) {
	t.Parallel()
	c := msgpack.New(msgpack.WithMaxDepth(8))
	for _, msg := range []string{
		"",
		"c1",
		"94 01 01 c0",                            // truncated
		"94 01 01 c0 01 02",                      // trailing
		"93 01 01 c0",                            // three elements
		"94 00 01 c0 01",                         // a request
		"94 a1 31 01 c0 01",                      // type not an integer
		"81 a4 63 6f 64 65 01",                   // a map
		"94 01 01 c0 91 91 91 91 91 91 91 91 c0", // too deep
	} {
		var r wire.Reply
		err := c.DecodeReply(hexb(msg), &r)
		var e *wire.Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("%s: %v, want a plain error", msg, err)
		}
	}
}

// TestAppendCall checks the requests a client writes.
func TestAppendCall(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	tests := []struct {
		name string
		call wire.Call
		want any
	}{
		{"positional", wire.Call{Method: "m", ID: wire.ID{Seq: 1}, Args: []any{1, "a"}}, []any{0, 1, "m", []any{1, "a"}}},
		{"no params", wire.Call{Method: "m", ID: wire.ID{Seq: 300}}, []any{0, 300, "m", []any{}}},
		{"seq uint64 max", wire.Call{Method: "m", ID: wire.ID{Seq: math.MaxUint64}, Args: []any{}},
			[]any{0, uint64(math.MaxUint64), "m", []any{}}},
		{"notification", wire.Call{Method: "n", Notification: true, ID: wire.ID{Seq: 9}, Args: []any{true}}, []any{2, "n", []any{true}}},
		{"named map", wire.Call{Method: "m", ID: wire.ID{Seq: 1}, Named: map[string]int{"b": 2, "a": 1}},
			[]any{0, 1, "m", map[string]any{"a": 1, "b": 2}}},
		{"named struct", wire.Call{Method: "m", ID: wire.ID{Seq: 1}, Named: Point{X: 1, Y: 2}}, []any{0, 1, "m", Point{X: 1, Y: 2}}},
		{"named nil map", wire.Call{Method: "m", ID: wire.ID{Seq: 1}, Named: map[string]int(nil)}, []any{0, 1, "m", map[string]any{}}},
		{"named nil pointer", wire.Call{Method: "m", ID: wire.ID{Seq: 1}, Named: (*Point)(nil)}, []any{0, 1, "m", map[string]any{}}},
	}
	for _, tt := range tests {
		got, err := c.AppendCall([]byte("prefix"), &tt.call)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if want := append([]byte("prefix"), pack(t, tt.want)...); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", tt.name, got, want)
		}
	}

	for _, call := range []wire.Call{
		{Method: "m", Named: []int{1}},
		{Method: "m", Named: 5},
		{Method: "m", Args: []any{make(chan int)}},
		{Method: "m", Args: []any{map[int]string{1: "a"}}},
		{Method: "m", Args: []any{nested(msgpack.DefaultMaxDepth - 1)}},
	} {
		got, err := c.AppendCall([]byte("prefix"), &call)
		if err == nil || string(got) != "prefix" {
			t.Errorf("%+v: % x, %v; want an error and dst unchanged", call, got, err)
		}
	}
}

// TestCyclicResult checks that a value that refers to itself is refused
// rather than encoded forever.
func TestCyclicResult(t *testing.T) {
	t.Parallel()
	type node struct {
		Next *node `json:"next"`
	}
	n := &node{}
	n.Next = n
	var loop any
	loop = &loop
	m := map[string]any{}
	m["m"] = m
	c := msgpack.New()
	for _, v := range []any{n, loop, m} {
		if got, err := c.AppendResponse(nil, &wire.Response{Result: v}); err == nil || len(got) != 0 {
			t.Errorf("%T: % x, %v", v, got, err)
		}
	}
}
