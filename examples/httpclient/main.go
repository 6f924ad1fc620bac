// Command httpclient calls rpcd's demo methods over HTTP with polyrpc's Go
// client. Start rpcd first (go run ./cmd/rpcd), then:
//
//	go run ./examples/httpclient -url http://127.0.0.1:8000/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8000/", "rpcd's URL")
	flag.Parse()
	c, err := httprpc.NewClient(*url, json.New())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var state string
	if err := c.Call(ctx, "examples.getStateName", &state, 41); err != nil {
		log.Fatal(err)
	}
	fmt.Println("state 41:", state)

	var diff int64
	if err := c.CallNamed(ctx, "subtract", &diff, map[string]int{"minuend": 42, "subtrahend": 23}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("42 - 23 =", diff)

	// Faults arrive as *rpc.Error with the server's code and message.
	err = c.Call(ctx, "demo.divide", nil, 1, 0)
	var e *rpc.Error
	if errors.As(err, &e) {
		fmt.Printf("demo.divide(1, 0): fault %d: %s\n", e.Code, e.Message)
	}

	// A batch goes out as one message.
	var a, b int64
	if err := c.Batch(ctx,
		&rpc.BatchCall{Method: "demo.add", Params: []any{1, 2}, Result: &a},
		&rpc.BatchCall{Method: "demo.add", Params: []any{3, 4}, Result: &b},
	); err != nil {
		log.Fatal(err)
	}
	fmt.Println("batch:", a, b)
}
