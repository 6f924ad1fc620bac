// Package httprpc carries polyrpc calls over HTTP: a Handler serves an
// rpc.Server, one message per POST body, in the codec named by the
// Content-Type; NewClient calls a server by URL.
//
// The package has its own HTTP/1.1 engine, on both sides, built for many
// small requests on kept-alive connections: Server serves any http.Handler
// with one goroutine per connection and no other, and the client does a
// call's I/O in the calling goroutine. HTTP/2 goes to net/http's, on both
// sides (WithHTTP2 for a client). Handler runs on net/http's server just as
// well, and Server can be one (WithEngine); a client can send through
// net/http (WithRoundTripper). Both sides read gzip, and send it where the
// peer takes it (WithCompressThreshold).
//
// Serving, at / and /RPC2 as rpcd does:
//
//	s, err := rpc.NewServer() // every codec imported, here codec/json
//	if err != nil {
//		return err
//	}
//	err = s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil })
//	if err != nil {
//		return err
//	}
//	h, err := httprpc.NewHandler(s)
//	if err != nil {
//		return err
//	}
//	mux := http.NewServeMux()
//	mux.Handle("/{$}", h)
//	mux.Handle("/RPC2", h)
//	hs, err := httprpc.NewServer(mux)
//	if err != nil {
//		return err
//	}
//	ln, err := net.Listen("tcp", "127.0.0.1:8000")
//	if err != nil {
//		return err
//	}
//	return hs.Serve(ln)
//
// Calling, in any codec with media types, here codec/json's:
//
//	c, err := httprpc.NewClient("http://127.0.0.1:8000/RPC2", json.New())
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	var sum int64
//	err = c.Call(ctx, "demo.add", &sum, 2, 3)
//
// Over TLS, with requests signed by an auth key:
//
//	c, err := httprpc.NewClient("https://rpc.example.com/RPC2", json.New(),
//		httprpc.WithTLSConfig(cfg), httprpc.WithWrapper(key.SignHTTP))
//
// A call that the server answered with an error returns an *rpc.Error, and
// so does one that the server refused for its credentials (401: code
// rpc.CodeUnauthenticated); a request refused before any codec saw it
// returns a *StatusError.
package httprpc
