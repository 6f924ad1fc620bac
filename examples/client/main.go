// Command client is the shortest polyrpc client: it calls rpcd's demo
// methods (go run ./cmd/rpcd) over HTTP in JSON-RPC.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func main() {
	// or tcprpc.NewClient("127.0.0.1:9000", json.New())
	c, err := httprpc.NewClient("http://127.0.0.1:8000/", json.New())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	var sum int64
	if err := c.Call(ctx, "demo.add", &sum, 2, 3); err != nil {
		log.Fatal(err)
	}
	fmt.Println(sum) // 5

	var e *rpc.Error
	if err := c.Call(ctx, "demo.divide", nil, 1, 0); errors.As(err, &e) {
		fmt.Println(e.Code, e.Message) // 1001 division by zero
	}
}
