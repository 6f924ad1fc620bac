// Package httpengine is polyrpc's own HTTP/1.1 engine: a Server for any
// http.Handler and a RoundTripper, both built for many small requests on
// kept-alive connections. Package httprpc configures them through its
// options; they are not part of the public API, so that their many knobs can
// change with the measurements that justify them.
//
// The Server reads a request, runs its handler and writes the response in
// one goroutine per connection, from buffers kept for the connection's life;
// the RoundTripper does a request's I/O in the calling goroutine, and can
// pipeline requests. Both read messages strictly (RFC 9112).
package httpengine
