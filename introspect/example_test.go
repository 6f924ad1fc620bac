package introspect_test

import (
	"context"
	"fmt"

	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
)

func Example() {
	s, err := rpc.NewServer()
	if err != nil {
		panic(err)
	}
	add := func(a, b int64) (int64, error) { return a + b, nil }
	if err := s.Register("demo.add", add, rpc.WithHelp("Adds two integers.")); err != nil {
		panic(err)
	}
	if err := introspect.Register(s); err != nil {
		panic(err)
	}

	// Any codec serves the methods; Invoke calls them without one.
	ctx := context.Background()
	names, _ := s.Invoke(ctx, "system.listMethods")
	fmt.Println(names)
	// Output:
	// [demo.add rpc.discover system.getCapabilities system.listMethods system.methodHelp system.methodSignature system.multicall]
}
