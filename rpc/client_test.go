package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

func newTestClient(t *testing.T, opts ...rpc.Option) *rpc.Client {
	t.Helper()
	c, err := rpc.NewClient(rpc.InProcess(newTestServer(t, opts...)), fakeCodec{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNewClientRefusesWhatCannotWork: a nil codec or transport, or an
// option for servers only, is an error at construction, not a panic or a
// hang at the first call.
func TestNewClientRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	if c, err := rpc.NewClient(rpc.InProcess(s), nil); err == nil || c != nil {
		t.Errorf("nil codec: %v, %v", c, err)
	}
	if _, err := rpc.NewClient(nil, fakeCodec{}); err == nil {
		t.Error("nil transport accepted")
	}
	if _, err := rpc.NewStreamClient(nil, fakeCodec{}); err == nil {
		t.Error("nil dialer accepted")
	}
	for _, opt := range []rpc.Option{rpc.WithMaxBatch(3), rpc.WithCallTimeout(time.Second), rpc.WithCodecs(fakeCodec{})} {
		if _, err := rpc.NewClient(rpc.InProcess(s), fakeCodec{}, opt); err == nil || !strings.Contains(err.Error(), "server option") {
			t.Errorf("server option given to a client: %v", err)
		}
	}
}

// TestClientInterceptors: a client's interceptors see each call's method,
// params and codec, its result or error, in order, and may refuse a call
// before it is sent.
func TestClientInterceptors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	record := func(name string) rpc.Interceptor {
		return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
			var first int64
			if call.Params != nil && call.Params.Len() > 0 {
				if err := call.Params.DecodeAt(0, &first); err != nil {
					return nil, err
				}
			}
			res, err := next(ctx, call)
			out := fmt.Sprintf("%s %s(%d) codec=%s notif=%v", name, call.Method, first, call.Codec, call.Notification)
			if p, ok := res.(*int64); ok {
				out += fmt.Sprintf(" = %d", *p)
			}
			if err != nil {
				out += " err=" + rpc.AsError(err).Code.String()
			}
			mu.Lock()
			seen = append(seen, out)
			mu.Unlock()
			return res, err
		}
	}
	refuse := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		if call.Method == "secret" {
			return nil, errors.New("not from here")
		}
		return next(ctx, call)
	}
	s := newTestServer(t)
	c, err := rpc.NewClient(rpc.InProcess(s), fakeCodec{},
		rpc.WithInterceptors(record("outer"), record("inner")), rpc.WithInterceptors(refuse))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var n int64
	if err := c.Call(ctx, "subtract", &n, 42, 23); err != nil || n != 19 {
		t.Fatalf("Call = %d, %v", n, err)
	}
	if err := c.Call(ctx, "nope", nil, 1); !errors.Is(err, rpc.ErrMethodNotFound) {
		t.Errorf("nope: %v", err)
	}
	if err := c.Notify(ctx, "sum", 5); err != nil {
		t.Errorf("Notify: %v", err)
	}
	if err := c.Call(ctx, "secret", nil); err == nil || err.Error() != "not from here" {
		t.Errorf("refused call: %v", err)
	}
	want := []string{
		"inner subtract(42) codec=fake notif=false = 19", "outer subtract(42) codec=fake notif=false = 19",
		"inner nope(1) codec=fake notif=false err=method not found", "outer nope(1) codec=fake notif=false err=method not found",
		"inner sum(5) codec=fake notif=true", "outer sum(5) codec=fake notif=true",
		"inner secret(0) codec=fake notif=false err=application error", "outer secret(0) codec=fake notif=false err=application error",
	}
	if !slices.Equal(seen, want) {
		t.Errorf("interceptors saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

func TestClientCall(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	ctx := context.Background()
	var n int64
	if err := c.Call(ctx, "subtract", &n, 42, 23); err != nil || n != 19 {
		t.Errorf("Call = %d, %v", n, err)
	}
	if err := c.CallNamed(ctx, "subtract", &n, map[string]any{"minuend": 10, "subtrahend": 4}); err != nil || n != 6 {
		t.Errorf("CallNamed map = %d, %v", n, err)
	}
	if err := c.CallNamed(ctx, "norm1", &n, point{X: 2, Y: -2}); err != nil || n != 4 {
		t.Errorf("CallNamed struct = %d, %v", n, err)
	}
	var f float64
	if err := c.Call(ctx, "sum", &f); err != nil || f != 0 {
		t.Errorf("Call without params = %v, %v", f, err)
	}
	var s string
	if err := c.Call(ctx, "whoami", &s); err != nil || s != "whoami/fake/inproc" {
		t.Errorf("whoami = %q, %v", s, err)
	}
	if err := c.Call(ctx, "subtract", nil, 1, 1); err != nil {
		t.Errorf("discarded result: %v", err)
	}
	if err := c.Notify(ctx, "sum", 1, 2); err != nil {
		t.Errorf("Notify: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, rpc.WithCallTimeout(20*time.Millisecond))
	ctx := context.Background()

	err := c.Call(ctx, "fail", nil, 1234, "no luck")
	var e *rpc.Error
	if !errors.As(err, &e) || e.Code != 1234 || e.Message != "no luck" {
		t.Fatalf("fail: %v", err)
	}
	if d, ok := e.Data.(map[string]any); !ok || d["why"] != "no luck" {
		t.Errorf("data = %#v", e.Data)
	}
	if err := c.Call(ctx, "nope", nil); !errors.Is(err, rpc.ErrMethodNotFound) {
		t.Errorf("nope: %v", err)
	}
	if err := c.Call(ctx, "subtract", nil, "x", 1); !errors.Is(err, rpc.ErrInvalidParams) {
		t.Errorf("bad params: %v", err)
	}
	if err := c.Call(ctx, "sleep", nil, 1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("server deadline: %v", err)
	}
	// A result of the wrong type is a client-side decoding error.
	var s string
	if err := c.Call(ctx, "subtract", &s, 2, 1); err == nil || errors.As(err, &e) {
		t.Errorf("decoding int into string: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Call(canceled, "subtract", nil, 1, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
}

func TestClientBatch(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	var a, b int64
	calls := []*rpc.BatchCall{
		{Method: "subtract", Params: []any{10, 3}, Result: &a},
		{Method: "sum", Params: []any{1}, Notification: true},
		{Method: "nope"},
		{Method: "subtract", Named: map[string]any{"minuend": 1, "subtrahend": 2}, Result: &b},
	}
	if err := c.Batch(context.Background(), calls...); err != nil {
		t.Fatal(err)
	}
	if a != 7 || b != -1 || calls[0].Err != nil || calls[3].Err != nil || calls[1].Err != nil {
		t.Errorf("a=%d b=%d errs=%v %v %v", a, b, calls[0].Err, calls[1].Err, calls[3].Err)
	}
	if !errors.Is(calls[2].Err, rpc.ErrMethodNotFound) {
		t.Errorf("nope: %v", calls[2].Err)
	}
	// All notifications: no reply expected.
	if err := c.Batch(context.Background(), &rpc.BatchCall{Method: "sum", Notification: true}); err != nil {
		t.Error(err)
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	e := &rpc.Error{Code: rpc.CodeDeadlineExceeded, Message: "late"}
	if !errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled) {
		t.Error("deadline code does not match context.DeadlineExceeded alone")
	}
	if !errors.Is(e, &rpc.Error{Code: rpc.CodeDeadlineExceeded}) || errors.Is(e, rpc.ErrInternal) {
		t.Error("code matching")
	}
	tests := []struct {
		in   error
		want rpc.Code
	}{
		{errors.New("x"), rpc.CodeApplication},
		{context.DeadlineExceeded, rpc.CodeDeadlineExceeded},
		{context.Canceled, rpc.CodeCanceled},
		{errors.Join(errors.New("wrap"), &rpc.Error{Code: 7}), 7},
	}
	for _, tt := range tests {
		if got := rpc.AsError(tt.in); got.Code != tt.want {
			t.Errorf("AsError(%v).Code = %d, want %d", tt.in, got.Code, tt.want)
		}
	}
	if rpc.AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	if rpc.CodeInvalidParams.String() != "invalid params" || rpc.Code(5).String() != "5" {
		t.Error("Code.String")
	}
}
