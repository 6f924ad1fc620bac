// Package httprpc carries polyrpc calls over HTTP: a Handler serves an
// rpc.Server, one message per POST body, in the codec named by the
// Content-Type; a Transport is the client's side.
//
// The package has its own HTTP/1.1 server and client, built for many small
// requests on kept-alive connections: Server serves any http.Handler with
// one goroutine per connection and no other, and RoundTripper, an
// http.RoundTripper, does a request's I/O in the calling goroutine. Handler
// runs on net/http's server just as well, and Transport can send through any
// http.Client or http.RoundTripper (WithHTTPClient, WithRoundTripper).
//
// Serving, at / and /RPC2 as rpcd does:
//
//	s := rpc.NewServer() // every imported codec, e.g. codec/json
//	s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil })
//	h := httprpc.NewHandler(s)
//	mux := http.NewServeMux()
//	mux.Handle("/{$}", h)
//	mux.Handle("/RPC2", h)
//	err := httprpc.NewServer("127.0.0.1:8000", mux).ListenAndServe()
//
// Calling, in any codec with media types (here codec/json's):
//
//	c := httprpc.NewClient("http://127.0.0.1:8000/RPC2", json.New())
//	defer c.Close()
//	var sum int64
//	err := c.Call(ctx, "demo.add", &sum, 2, 3)
//
// A call that the server answered with an error returns an *rpc.Error; a
// request refused before any codec saw it returns a *StatusError.
package httprpc
