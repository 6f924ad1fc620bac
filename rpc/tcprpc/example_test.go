package tcprpc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// A server and a client on a loopback port, speaking JSON-RPC in frames: the
// package documentation's example.
func Example() {
	ctx := context.Background()
	s, err := rpc.NewServer() // serves the codecs imported: json here
	if err != nil {
		log.Fatal(err)
	}
	err = s.Register("add", func(a, b int) (int, error) { return a + b, nil })
	if err != nil {
		log.Fatal(err)
	}
	srv, err := tcprpc.NewServer(s)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := tcprpc.NewClient(ln.Addr().String(), json.New())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var sum int
	err = c.Call(ctx, "add", &sum, 2, 3)
	fmt.Println(sum, err)
	// Output: 5 <nil>
}

// Both ends authenticate with a shared key before any call; the server
// knows the caller by the key's ID. A client with another key fails with
// CodeUnauthenticated.
func Example_authenticated() {
	ctx := context.Background()
	key := auth.Key{ID: "reporting", Secret: []byte("a long random secret")}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		log.Fatal(err)
	}
	check, err := auth.NewServer(keys)
	if err != nil {
		log.Fatal(err)
	}
	s, err := rpc.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	err = s.Register("whoami", func(ctx context.Context) (string, error) {
		p, _ := rpc.PeerFromContext(ctx)
		return p.Identity, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := tcprpc.NewServer(s, tcprpc.WithHandshake(check.Handshake))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	for _, k := range []auth.Key{key, {ID: "reporting", Secret: []byte("a guess")}} {
		a, err := auth.NewClient(k)
		if err != nil {
			log.Fatal(err)
		}
		c, err := tcprpc.NewClient(ln.Addr().String(), json.New(), tcprpc.WithClientHandshake(a.Handshake))
		if err != nil {
			log.Fatal(err)
		}
		var who string
		err = c.Call(ctx, "whoami", &who)
		var re *rpc.Error
		switch {
		case err == nil:
			fmt.Println("hello,", who)
		case errors.As(err, &re) && re.Code == rpc.CodeUnauthenticated:
			fmt.Println("refused:", errors.Is(err, auth.ErrAuthentication))
		default:
			fmt.Println(err)
		}
		c.Close()
	}
	// Output:
	// hello, reporting
	// refused: true
}
