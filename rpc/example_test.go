package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
)

// A server and a client that talk JSON-RPC in process: rpc.InProcess stands
// in for a transport, the codec is the real one.
func Example() {
	s, err := rpc.NewServer()
	if err != nil {
		panic(err)
	}
	err = s.Register("demo.divide", func(a, b float64) (float64, error) {
		if b == 0 {
			return 0, &rpc.Error{Code: 1001, Message: "division by zero"}
		}
		return a / b, nil
	}, rpc.WithParamNames("dividend", "divisor"))
	if err != nil {
		panic(err)
	}

	c, err := rpc.NewClient(rpc.InProcess(s), json.New())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	var q float64
	if err := c.Call(ctx, "demo.divide", &q, 7, 2); err != nil {
		panic(err)
	}
	fmt.Println(q)
	if err := c.CallNamed(ctx, "demo.divide", &q, map[string]any{"dividend": 1, "divisor": 4}); err != nil {
		panic(err)
	}
	fmt.Println(q)

	var e *rpc.Error
	if err := c.Call(ctx, "demo.divide", &q, 1, 0); errors.As(err, &e) {
		fmt.Println(e.Code, e.Message)
	}
	// Output:
	// 3.5
	// 0.25
	// 1001 division by zero
}

type counter struct{ n int64 }

func (c *counter) Add(delta int64) (int64, error) { c.n += delta; return c.n, nil }
func (c *counter) Close() error                   { return nil }

// RegisterService exports the methods named with rpc.Export, and no other:
// Close stays the program's.
func ExampleServer_RegisterService() {
	s, err := rpc.NewServer()
	if err != nil {
		panic(err)
	}
	err = s.RegisterService("counter", &counter{},
		rpc.Export("Add", rpc.WithParamNames("delta"), rpc.WithHelp("Adds delta and returns the count.")))
	if err != nil {
		panic(err)
	}
	for _, m := range s.Methods() {
		fmt.Printf("%s(%s %v) %v: %s\n", m.Name, m.Params[0].Name, m.Params[0].Type, m.Result, m.Help)
	}
	// Output:
	// counter.add(delta int64) int64: Adds delta and returns the count.
}

// Interceptors run around every call, on a server around the handler and on
// a client around the exchange: here one that refuses a method and one that
// times the calls.
func ExampleInterceptor() {
	refuse := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		if call.Method == "admin.reset" {
			return nil, &rpc.Error{Code: rpc.CodeUnauthenticated, Message: "not for you"}
		}
		return next(ctx, call)
	}
	timed := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		start := time.Now()
		res, err := next(ctx, call)
		_ = time.Since(start) // a metrics interceptor records it by method and code
		fmt.Printf("client: %s in %s: %v\n", call.Method, call.Codec, rpc.AsError(err))
		return res, err
	}
	s, err := rpc.NewServer(rpc.WithInterceptors(refuse))
	if err != nil {
		panic(err)
	}
	if err := s.Register("admin.reset", func() error { return nil }); err != nil {
		panic(err)
	}
	c, err := rpc.NewClient(rpc.InProcess(s), json.New(), rpc.WithInterceptors(timed))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.Call(context.Background(), "admin.reset", nil)
	// Output:
	// client: admin.reset in json: rpc: not for you (code -32003)
}
