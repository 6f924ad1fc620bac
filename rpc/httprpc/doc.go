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
//
// # Handler contract
//
// On its own engine, Server gives a handler what net/http's server does,
// where middleware relies on it: the request's fields (Host, URL and
// RequestURI in each request-target form, Header without Host, Close,
// RemoteAddr as the peer's "ip:port", TLS on a TLS connection,
// TransferEncoding, Trailer once a chunked body is read), a request
// context that ends when the handler returns and when the server closes,
// http.LocalAddrContextKey, Flush and FlushError, WriteString, Hijack,
// ResponseController's SetReadDeadline and SetWriteDeadline, 100 Continue
// sent on the body's first read (or by WriteHeader(100)), 1xx responses
// by WriteHeader, and Content-Type sniffing, Date and Content-Length as
// net/http sets them. Where it differs:
//
//   - http.ServerContextKey holds an *http.Server, but not one that serves
//     the HTTP/1 connections: it is the one the engine hands HTTP/2 to, with
//     an empty Addr and the engine's wrapper as its Handler, and its
//     Shutdown, Close and SetKeepAlivesEnabled act on HTTP/2 connections
//     alone.
//   - The context notices a client that went away only once the handler
//     has run 50-100 ms with the request read whole; net/http notices as
//     soon as the request is read.
//   - EnableFullDuplex succeeds and changes nothing: the request body can
//     always be read after the response began, where net/http's HTTP/1
//     server discards an unread body as the response's head goes out.
//   - A 1xx response is not sent to an HTTP/1.0 client (RFC 9110 section
//     15.2); net/http sends it.
//   - Response trailers are not sent: a Trailer field goes out as an
//     ordinary field of the head, values set for the names it announces go
//     into the head if it has not gone out yet and are lost otherwise, and
//     keys with http.TrailerPrefix are dropped.
//   - The ResponseWriter has no ReadFrom, so io.Copy to it goes through
//     Write, without sendfile, and no CloseNotify (http.CloseNotifier).
//   - Hijack after the handler returned fails with an error; net/http
//     panics. A superfluous WriteHeader is ignored without a log line.
//   - A body cut off by http.MaxBytesReader does not by itself close the
//     connection: as for any body left unread, the rest is read and the
//     connection kept if it is at most 256 KiB, and the connection closed
//     otherwise.
//   - Server has no ConnState, ConnContext or BaseContext hooks (on either
//     engine).
//
// Requests over HTTP/2 are served by net/http's HTTP/2 server, so all of
// the above is net/http's there (its ResponseWriter has no Hijack, and
// sends trailers), but for http.ServerContextKey. WithEngine("net/http")
// makes everything net/http's.
package httprpc
