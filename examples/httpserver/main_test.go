package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func TestExampleServer(t *testing.T) {
	s, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(httprpc.NewHandler(s))
	defer hs.Close()
	codec, _ := rpc.LookupCodec("json")
	c := httprpc.NewClient(hs.URL, codec)
	defer c.Close()
	ctx := context.Background()

	var greeting string
	if err := c.CallNamed(ctx, "greeter.hello", &greeting, map[string]string{"name": "Ada"}); err != nil || greeting != "Hello, Ada!" {
		t.Errorf("greeter.hello = %q, %v", greeting, err)
	}
	if err := c.Call(ctx, "greeter.hello", nil, ""); rpc.AsError(err).Code != rpc.CodeApplication {
		t.Errorf("empty name: %v", err)
	}
	var n int64
	for range 3 {
		if err := c.Call(ctx, "counter.add", &n, 2); err != nil {
			t.Fatal(err)
		}
	}
	if n != 6 {
		t.Errorf("counter = %d", n)
	}
}
