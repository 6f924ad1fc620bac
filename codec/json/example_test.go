package json_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
)

// A server answers JSON-RPC messages handed to it by a transport.
func Example() {
	c := json.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("add", func(a, b int64) (int64, error) { return a + b, nil })

	reply := s.ServeMessage(context.Background(), c,
		[]byte(`{"jsonrpc":"2.0","method":"add","params":[9007199254740993,1],"id":"a"}`), nil)
	fmt.Println(string(reply))
	// Output: {"jsonrpc":"2.0","result":9007199254740994,"id":"a"}
}

// A client calls a server through any transport; here, in-process.
func Example_client() {
	c := json.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("div", func(a, b int64) (int64, error) {
		if b == 0 {
			return 0, &rpc.Error{Code: 1, Message: "division by zero", Data: map[string]any{"a": a}}
		}
		return a / b, nil
	}, rpc.WithParamNames("a", "b"))
	client, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	var q int64
	err = client.CallNamed(ctx, "div", &q, map[string]int64{"a": 7, "b": 2})
	fmt.Println(q, err)

	err = client.Call(ctx, "div", &q, 7, 0)
	var e *rpc.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Message, e.Data)
	}
	// Output:
	// 3 <nil>
	// 1 division by zero map[a:7]
}

// A request without "jsonrpc":"2.0" is JSON-RPC 1.0 and gets a 1.0 response.
func Example_jsonRPC10() {
	c := json.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("echo", func(v any) (any, error) { return v, nil })

	reply := s.ServeMessage(context.Background(), c, []byte(`{"method":"echo","params":["hi"],"id":1}`), nil)
	fmt.Println(string(reply))
	// Output: {"result":"hi","error":null,"id":1}
}
