package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func TestExampleServer(t *testing.T) {
	s, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	h, err := httprpc.NewHandler(s)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	defer hs.Close()
	c, err := httprpc.NewClient(hs.URL, json.New())
	if err != nil {
		t.Fatal(err)
	}
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
	if err := c.Call(ctx, "counter.close", nil); !errors.Is(err, rpc.ErrMethodNotFound) {
		t.Errorf("counter.close, not exported: %v", err)
	}
	var names []string
	if err := c.Call(ctx, "system.listMethods", &names); err != nil || !slices.Contains(names, "counter.add") {
		t.Errorf("system.listMethods = %v, %v", names, err)
	}
}
