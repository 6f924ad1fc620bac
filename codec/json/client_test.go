package json_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func newClient(t testing.TB) (*rpc.Client, *notes) {
	t.Helper()
	s, c, n := newServer(t)
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}
	return cl, n
}

func TestClientCall(t *testing.T) {
	t.Parallel()
	cl, _ := newClient(t)
	ctx := context.Background()
	type named struct {
		Minuend    int64 `json:"minuend"`
		Subtrahend int64 `json:"subtrahend"`
	}
	tests := []struct {
		name   string
		call   func(result any) error
		result any // a pointer to the zero value of the result type
		want   any
	}{
		{"positional", func(r any) error { return cl.Call(ctx, "subtract", r, 42, 23) }, new(int64), int64(19)},
		{"variadic", func(r any) error { return cl.Call(ctx, "sum", r, 1, 2, 4) }, new(int), 7},
		{"no params", func(r any) error { return cl.Call(ctx, "sum", r) }, new(int64), int64(0)},
		{"named map", func(r any) error {
			return cl.CallNamed(ctx, "subtract", r, map[string]any{"subtrahend": 23, "minuend": 42})
		}, new(int64), int64(19)},
		{"named struct", func(r any) error {
			return cl.CallNamed(ctx, "subtract", r, named{Minuend: 42, Subtrahend: 23})
		}, new(int64), int64(19)},
		{"named pointer to struct", func(r any) error {
			return cl.CallNamed(ctx, "point", r, &Point{X: 3, Y: 4, Label: "p"})
		}, new(string), "p:3,4"},
		{"struct positional", func(r any) error { return cl.Call(ctx, "point", r, Point{X: 1, Label: "a"}) }, new(string), "a:1,0"},
		{"string", func(r any) error { return cl.Call(ctx, "greet", r, "wörld <&>") }, new(string), "hello, wörld <&>"},
		{"2^53+1 through any", func(r any) error { return cl.Call(ctx, "echo", r, int64(1<<53+1)) }, new(any), int64(1<<53 + 1)},
		{"min int64 through any", func(r any) error { return cl.Call(ctx, "echo", r, int64(math.MinInt64)) }, new(any), int64(math.MinInt64)},
		{"max int64 into int64", func(r any) error { return cl.Call(ctx, "echo", r, int64(math.MaxInt64)) }, new(int64), int64(math.MaxInt64)},
		{"max uint64 through any", func(r any) error { return cl.Call(ctx, "echo", r, uint64(math.MaxUint64)) }, new(any), uint64(math.MaxUint64)},
		{"float through any", func(r any) error { return cl.Call(ctx, "echo", r, 0.1) }, new(any), 0.1},
		{"nested any", func(r any) error {
			return cl.Call(ctx, "echo", r, map[string]any{"a": []any{int64(1<<53 + 1), "x", nil, true}})
		}, new(map[string]any), map[string]any{"a": []any{int64(1<<53 + 1), "x", nil, true}}},
		{"any inside a struct", func(r any) error {
			return cl.Call(ctx, "echo", r, map[string]any{"v": int64(1<<62 + 1), "list": []any{int64(-1 << 62)}})
		}, new(struct {
			V    any   `json:"v"`
			List []any `json:"list"`
		}), struct {
			V    any   `json:"v"`
			List []any `json:"list"`
		}{V: int64(1<<62 + 1), List: []any{int64(-1 << 62)}}},
		{"any in a map of slices", func(r any) error {
			return cl.Call(ctx, "echo", r, map[string]any{"k": []any{int64(1<<53 + 1)}})
		}, new(map[string][]any), map[string][]any{"k": {int64(1<<53 + 1)}}},
		{"result discarded", func(r any) error { return cl.Call(ctx, "sum", nil, 1) }, new(any), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.call(tt.result); err != nil {
				t.Fatal(err)
			}
			if got := reflect.ValueOf(tt.result).Elem().Interface(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	cl, _ := newClient(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want *rpc.Error // nil: a client-side error, not an *rpc.Error
	}{
		{"application error with data", func() error { return cl.Call(ctx, "fail", nil) },
			&rpc.Error{Code: 42, Message: "boom", Data: map[string]any{"big": int64(math.MaxInt64), "why": "because"}}},
		{"plain error", func() error { return cl.Call(ctx, "plainfail", nil) },
			&rpc.Error{Code: rpc.CodeApplication, Message: "plain failure"}},
		{"method not found", func() error { return cl.Call(ctx, "nope", nil) },
			&rpc.Error{Code: rpc.CodeMethodNotFound, Message: "method not found: nope"}},
		{"invalid params", func() error { return cl.Call(ctx, "subtract", nil, "x", 1) },
			&rpc.Error{Code: rpc.CodeInvalidParams}},
		{"NaN result", func() error { return cl.Call(ctx, "nan", nil) }, &rpc.Error{Code: rpc.CodeInternal}},
		{"NaN param", func() error { return cl.Call(ctx, "echo", nil, math.NaN()) }, nil},
		{"named params not an object", func() error { return cl.CallNamed(ctx, "echo", nil, []int{1}) }, nil},
		{"result of the wrong type", func() error { var s string; return cl.Call(ctx, "sum", &s, 1) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			var e *rpc.Error
			if !errors.As(err, &e) {
				if tt.want != nil {
					t.Fatalf("error %v is not an *rpc.Error", err)
				}
				return
			}
			if tt.want == nil {
				t.Fatalf("client-side failure reported as a server error: %v", err)
			}
			if e.Code != tt.want.Code || tt.want.Message != "" && e.Message != tt.want.Message ||
				!reflect.DeepEqual(e.Data, tt.want.Data) {
				t.Errorf("error %#v, want %#v", e, tt.want)
			}
			if !errors.Is(err, &rpc.Error{Code: tt.want.Code}) {
				t.Errorf("errors.Is does not match code %d", tt.want.Code)
			}
		})
	}
}

func TestClientNotify(t *testing.T) {
	t.Parallel()
	cl, n := newClient(t)
	if err := cl.Notify(context.Background(), "ping"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Notify(context.Background(), "notify_hello", 7); err != nil {
		t.Fatal(err)
	}
	if got, want := n.list(), []string{"ping", "notify_hello"}; !slices.Equal(got, want) {
		t.Errorf("server ran %v, want %v", got, want)
	}
}

func TestClientBatch(t *testing.T) {
	t.Parallel()
	cl, n := newClient(t)
	var sum, diff int64
	var data []any
	calls := []*rpc.BatchCall{
		{Method: "sum", Params: []any{1, 2, 4}, Result: &sum},
		{Method: "notify_hello", Params: []any{7}, Notification: true},
		{Method: "subtract", Named: map[string]int{"minuend": 42, "subtrahend": 23}, Result: &diff},
		{Method: "nope"},
		{Method: "get_data", Result: &data},
		{Method: "fail"},
	}
	if err := cl.Batch(context.Background(), calls...); err != nil {
		t.Fatal(err)
	}
	if sum != 7 || diff != 19 || !reflect.DeepEqual(data, []any{"hello", int64(5)}) {
		t.Errorf("results %d, %d, %#v", sum, diff, data)
	}
	for i, want := range []rpc.Code{0, 0, 0, rpc.CodeMethodNotFound, 0, 42} {
		var e *rpc.Error
		switch {
		case want == 0 && calls[i].Err != nil:
			t.Errorf("call %d: %v", i, calls[i].Err)
		case want != 0 && (!errors.As(calls[i].Err, &e) || e.Code != want):
			t.Errorf("call %d: error %v, want code %d", i, calls[i].Err, want)
		}
	}
	if got := n.list(); !slices.Equal(got, []string{"notify_hello"}) {
		t.Errorf("notifications %v", got)
	}

	// A batch of notifications only gets no reply and needs none.
	if err := cl.Batch(context.Background(),
		&rpc.BatchCall{Method: "ping", Notification: true},
		&rpc.BatchCall{Method: "ping", Notification: true}); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeReply(t *testing.T) {
	t.Parallel()
	c := json.New()
	tests := []struct {
		name    string
		msg     string
		seq     uint64
		raw     string
		result  any // decoded into any; nil when an error is wanted
		err     *wire.Error
		invalid bool // DecodeReply fails
	}{
		{name: "result", msg: `{"jsonrpc":"2.0","result":19,"id":1}`, seq: 1, raw: "1", result: int64(19)},
		{name: "null result", msg: `{"jsonrpc":"2.0","result":null,"id":3}`, seq: 3, raw: "3", result: nil},
		{name: "big id", msg: `{"jsonrpc":"2.0","result":1,"id":18446744073709551615}`, seq: math.MaxUint64, raw: "18446744073709551615", result: int64(1)},
		{name: "string id", msg: `{"jsonrpc":"2.0","result":1,"id":"7"}`, raw: `"7"`, result: int64(1)},
		{name: "null id", msg: `{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"},"id":null}`,
			err: &wire.Error{Code: wire.CodeParseError, Message: "parse error"}},
		{name: "error with data", msg: `{"jsonrpc":"2.0","error":{"code":-32000,"message":"m","data":{"n":9007199254740993,"l":[1.5,"x"]}},"id":2}`,
			seq: 2, raw: "2", err: &wire.Error{Code: -32000, Message: "m", Data: map[string]any{"n": int64(9007199254740993), "l": []any{1.5, "x"}}}},
		{name: "1.0 result", msg: `{"result":[1,"a"],"error":null,"id":5}`, seq: 5, raw: "5", result: []any{int64(1), "a"}},
		{name: "1.0 error", msg: `{"result":null,"error":{"code":-32601,"message":"nope"},"id":5}`, seq: 5, raw: "5",
			err: &wire.Error{Code: -32601, Message: "nope"}},
		{name: "1.0 string error", msg: `{"result":null,"error":"it broke","id":5}`, seq: 5, raw: "5",
			err: &wire.Error{Code: wire.CodeServerError, Message: "it broke", Data: "it broke"}},
		{name: "1.0 error without code", msg: `{"result":null,"error":{"name":"JSONRPCError","message":"bad"},"id":5}`, seq: 5, raw: "5",
			err: &wire.Error{Code: wire.CodeServerError, Message: "bad", Data: map[string]any{"name": "JSONRPCError", "message": "bad"}}},
		{name: "neither", msg: `{"jsonrpc":"2.0","id":1}`, invalid: true},
		{name: "not an object", msg: `[1]`, invalid: true},
		{name: "malformed", msg: `{"jsonrpc":"2.0","result":1,"id":1`, invalid: true},
		{name: "trailing garbage", msg: `{"jsonrpc":"2.0","result":1,"id":1} 2`, invalid: true},
		{name: "wrong version", msg: `{"jsonrpc":"3.0","result":1,"id":1}`, invalid: true},
		{name: "too deep", msg: `{"jsonrpc":"2.0","result":` + nested(200) + `,"id":1}`, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r wire.Reply
			err := c.DecodeReply([]byte(tt.msg), &r)
			if tt.invalid {
				var e *wire.Error
				if err == nil || errors.As(err, &e) {
					t.Fatalf("DecodeReply = %v, want a plain error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ID.Seq != tt.seq || string(r.ID.Raw) != tt.raw {
				t.Errorf("id %d %q, want %d %q", r.ID.Seq, r.ID.Raw, tt.seq, tt.raw)
			}
			if tt.err != nil {
				if r.Result != nil || !reflect.DeepEqual(r.Error, tt.err) {
					t.Errorf("error %#v, want %#v", r.Error, tt.err)
				}
				return
			}
			if r.Error != nil || r.Result == nil {
				t.Fatalf("error %v, result %v", r.Error, r.Result)
			}
			var got any
			if err := r.Result.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.result) {
				t.Errorf("result %#v, want %#v", got, tt.result)
			}
		})
	}
}

func nested(n int) string {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, '[')
	}
	for range n {
		b = append(b, ']')
	}
	return string(b)
}
