// Command greeter is the shortest complete polyrpc service: one method over
// HTTP in JSON-RPC, with introspection so that rpcd list describes it.
package main

import (
	"context"
	"log"
	"net"

	_ "github.com/polyrpc/polyrpc/codec/json" // each imported codec registers itself
	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func main() {
	s, err := rpc.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	err = s.Register("greeter.hello", func(ctx context.Context, name string) (string, error) {
		return "Hello, " + name + "!", nil
	}, rpc.WithParamNames("name"), rpc.WithHelp("Greets name."))
	if err != nil {
		log.Fatal(err)
	}
	if err := introspect.Register(s); err != nil { // system.listMethods, rpc.discover, ...
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
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(hs.Serve(ln))
}
