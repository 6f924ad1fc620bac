package httprpc

import (
	"net/http"
	"time"
)

// Defaults of the http.Server that NewServer returns.
const (
	// DefaultReadHeaderTimeout bounds the wait for a request's headers, the
	// classic slow-client attack on a server.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxHeaderBytes limits a request's headers; RPC requests carry
	// few.
	DefaultMaxHeaderBytes = 64 << 10
)

// NewServer returns an *http.Server that serves h on addr with the timeouts
// above, which the zero http.Server lacks. WriteTimeout stays zero on
// purpose: it runs from the end of the request headers to the end of the
// response, so it would cut off any call that runs longer. Bound calls with
// rpc.WithCallTimeout instead, which ends the call's context and still
// sends its error reply. The caller may change any field before serving.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
	}
}
