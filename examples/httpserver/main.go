// Command httpserver is the shortest complete polyrpc service: two methods
// served over HTTP in every registered codec.
//
//	go run ./examples/httpserver -addr 127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"sync"

	_ "github.com/polyrpc/polyrpc/codec/json" // registers JSON-RPC
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// Counter is a service: each exported method becomes counter.<method>.
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

func newServer() (*rpc.Server, error) {
	s := rpc.NewServer()
	err := s.Register("greeter.hello", func(ctx context.Context, name string) (string, error) {
		if name == "" {
			return "", errors.New("name is empty") // an application error, code -32500
		}
		return "Hello, " + name + "!", nil
	}, rpc.WithParamNames("name"), rpc.WithHelp("Greets name."))
	if err != nil {
		return nil, err
	}
	return s, s.RegisterService("counter", &Counter{})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	s, err := newServer()
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", httprpc.NewHandler(s))
	log.Printf("serving on http://%s/", *addr)
	log.Fatal(httprpc.NewServer(*addr, mux).ListenAndServe())
}
