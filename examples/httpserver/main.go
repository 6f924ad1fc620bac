// Command httpserver is the shortest complete polyrpc service: a function and
// a service served over HTTP in JSON-RPC, with introspection, so that
// `rpcd list -v http://127.0.0.1:8080/` describes it.
//
//	go run ./examples/httpserver -addr 127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"sync"

	_ "github.com/polyrpc/polyrpc/codec/json" // registers JSON-RPC; import more codecs to serve them too
	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// Counter is a service: the methods named with rpc.Export become
// counter.<method>; Close does not.
type Counter struct {
	mu sync.Mutex
	n  int64
}

// Add adds delta and returns the new total.
func (c *Counter) Add(delta int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += delta
	return c.n, nil
}

// Reset sets the total to zero.
func (c *Counter) Reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = 0
	return nil
}

// Close is for the program that owns the counter, not for its callers.
func (c *Counter) Close() error { return nil }

func newServer() (*rpc.Server, error) {
	s, err := rpc.NewServer()
	if err != nil {
		return nil, err
	}
	err = s.Register("greeter.hello", func(ctx context.Context, name string) (string, error) {
		if name == "" {
			return "", errors.New("name is empty") // an application error, code -32500
		}
		return "Hello, " + name + "!", nil
	}, rpc.WithParamNames("name"), rpc.WithHelp("Greets name."))
	if err != nil {
		return nil, err
	}
	err = s.RegisterService("counter", &Counter{},
		rpc.Export("Add", rpc.WithParamNames("delta"), rpc.WithHelp("Adds delta to the counter and returns the new count.")),
		rpc.Export("Reset", rpc.WithHelp("Sets the counter to zero.")))
	if err != nil {
		return nil, err
	}
	return s, introspect.Register(s) // system.listMethods, rpc.discover, ...
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	s, err := newServer()
	if err != nil {
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on http://%s/", ln.Addr())
	log.Fatal(hs.Serve(ln))
}
