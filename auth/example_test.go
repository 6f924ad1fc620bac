package auth_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc"
)

// Both ends of a connection authenticate each other; the server learns the
// client's identity.
func ExampleServer_Handshake() {
	key := auth.Key{ID: "reporting", Secret: []byte("a long random secret")}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	server, err := auth.NewServer(keys)
	if err != nil {
		panic(err)
	}
	client, err := auth.NewClient(key)
	if err != nil {
		panic(err)
	}

	serverEnd, clientEnd := net.Pipe()
	defer serverEnd.Close()
	go func() {
		defer clientEnd.Close()
		if err := client.Handshake(context.Background(), clientEnd); err != nil {
			fmt.Println("client:", err)
		}
	}()
	identity, err := server.Handshake(context.Background(), serverEnd)
	fmt.Println(identity, err)
	// Output: reporting <nil>
}

// A handler behind NewHTTPHandler sees the caller's key ID; the client's
// transport, wrapped by Key.SignHTTP, answers the server's challenge.
func ExampleNewHTTPHandler() {
	key := auth.Key{ID: "reporting", Secret: []byte("a long random secret")}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := rpc.PeerFromContext(r.Context())
		fmt.Fprintf(w, "hello, %s", p.Identity)
	})
	h, err := auth.NewHTTPHandler(hello, keys)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	c := &http.Client{Transport: key.SignHTTP(nil)}
	resp, err := c.Post(srv.URL+"/RPC2", "application/json", strings.NewReader(`{"jsonrpc":"2.0"}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, reporting
}
