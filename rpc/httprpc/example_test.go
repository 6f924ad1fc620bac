package httprpc_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func Example() {
	// The server: its methods, the codecs they are served in, the
	// handler, and the HTTP server on a port of its own.
	s, err := rpc.NewServer(rpc.WithCodecs(json.New()))
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil }); err != nil {
		log.Fatal(err)
	}
	h, err := httprpc.NewHandler(s)
	if err != nil {
		log.Fatal(err)
	}
	hs, err := httprpc.NewServer(h)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()

	// The client.
	c, err := httprpc.NewClient("http://"+ln.Addr().String()+"/RPC2", json.New())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var sum int64
	if err := c.Call(context.Background(), "demo.add", &sum, 2, 3); err != nil {
		log.Fatal(err)
	}
	fmt.Println(sum)

	err = c.Call(context.Background(), "demo.sub", &sum, 2, 3)
	fmt.Println(err)
	// Output:
	// 5
	// rpc: method not found: demo.sub (code -32601)
}
