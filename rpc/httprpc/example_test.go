package httprpc_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func Example() {
	// The server: methods, the codecs they are served in, and the handler
	// mounted where XML-RPC and JSON-RPC clients look for it.
	s := rpc.NewServer(rpc.WithCodecs(lineCodec{}))
	s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil })
	h := httprpc.NewHandler(s)
	mux := http.NewServeMux()
	mux.Handle("/{$}", h)
	mux.Handle("/RPC2", h)
	ts := httptest.NewServer(mux) // httprpc.NewServer(addr, mux) in production
	defer ts.Close()

	// The client.
	c := httprpc.NewClient(ts.URL+"/RPC2", lineCodec{})
	defer c.Close()
	var sum int64
	if err := c.Call(context.Background(), "demo.add", &sum, 2, 3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum)

	err := c.Call(context.Background(), "demo.sub", &sum, 2, 3)
	fmt.Println(err)
	// Output:
	// 5
	// rpc: method not found: demo.sub (code -32601)
}
