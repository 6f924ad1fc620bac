package httprpc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// Server is an HTTP server built for RPC traffic: many small requests on
// kept-alive connections. It serves any http.Handler, so a Handler,
// authentication middleware and an http.ServeMux run on it unchanged, with
// one goroutine per connection and no other: the connection's goroutine
// reads a request, runs the handler and writes the response from buffers
// kept for the connection's life, and responses to pipelined requests go
// out together in one write.
//
// A request's context ends when the server closes, and when the client goes
// away while a handler that has run a while (50-100 ms) waits with the
// request read whole. Requests are read strictly (RFC 9112): a malformed
// request line or field, a head over 64 KiB, a body with both Content-Length
// and Transfer-Encoding or with conflicting lengths each get a 4xx answer and
// the connection is closed.
//
// No client can hold it alone: a connection must complete its TLS handshake
// and send a request's head within 10 s of its accept (see WithReadTimeout),
// and waits the idle timeout only once a request on it succeeded; each
// write of a response is bounded (WithWriteTimeout); at WithMaxConns the
// server stops accepting, and one source address may hold
// WithMaxConnsPerIP connections.
//
// HTTP/2, by ALPN over TLS and in cleartext with prior knowledge (h2c), is
// served on the same listeners by net/http's HTTP/2 server, under the same
// limits. WithEngine("net/http") makes all of it net/http's: an http.Server
// configured by the same options, for a comparison or where net/http's
// behaviour matters more than the own engine's speed.
type Server struct {
	e  *httpengine.Server // the own engine, or
	ns *netServer         // net/http's (WithEngine)
}

// The engines of WithEngine.
const (
	enginePolyrpc = "polyrpc"
	engineNetHTTP = "net/http"
)

// Defaults of a Server's options.
const (
	defaultWriteTimeout  = 30 * time.Second
	defaultMaxConnsPerIP = 256
)

// NewServer returns a server of h, configured by WithEngine,
// WithReadTimeout, WithWriteTimeout, WithIdleTimeout, WithMaxConns,
// WithMaxConnsPerIP, WithTLSConfig and WithLogger. It fails for a nil
// handler and an invalid option.
//
// On net/http's engine (WithEngine("net/http")) the options mean the same
// but where net/http has its own way: a connection waits the idle timeout
// after any response, not only after a success; over TLS the first
// request's head must come within 10 s of the handshake's end (and the
// handshake within 10 s of the accept); and with a tls.Listener given to
// Serve rather than WithTLSConfig, the write timeout bounds HTTP/2's writes
// alone. A handler's panic is logged at Error level, as on the own engine,
// and net/http's own messages at Warn.
func NewServer(h http.Handler, opts ...Option) (*Server, error) {
	if h == nil {
		return nil, errors.New("httprpc: NewServer: nil handler")
	}
	cfg, err := newConfig(sideServer, "NewServer", opts)
	if err != nil {
		return nil, err
	}
	e := &httpengine.Server{
		Handler:           h,
		TLSConfig:         cfg.tls,
		ReadHeaderTimeout: httpengine.DefaultReadHeaderTimeout,
		ReadTimeout:       httpengine.DefaultReadTimeout,
		WriteTimeout:      defaultWriteTimeout,
		IdleTimeout:       httpengine.DefaultIdleTimeout,
		MaxHeaderBytes:    httpengine.DefaultMaxHeaderBytes,
		MaxConns:          cfg.maxConns,
		MaxConnsPerIP:     defaultMaxConnsPerIP,
		Logger:            cfg.logger(),
	}
	if cfg.writeTimeout > 0 {
		e.WriteTimeout = cfg.writeTimeout
	}
	if cfg.maxConnsPerIP > 0 {
		e.MaxConnsPerIP = cfg.maxConnsPerIP
	}
	if cfg.readTimeout > 0 {
		e.ReadTimeout = cfg.readTimeout
		e.ReadHeaderTimeout = min(e.ReadHeaderTimeout, cfg.readTimeout)
	}
	if cfg.idleTimeout > 0 {
		e.IdleTimeout = cfg.idleTimeout
	}
	if cfg.engine == engineNetHTTP {
		return &Server{ns: newNetServer(e)}, nil
	}
	return &Server{e: e}, nil
}

// Serve accepts connections on ln and serves each in a goroutine of its own
// (over TLS with WithTLSConfig, or if ln is a tls.Listener), until Shutdown
// or Close, when it returns http.ErrServerClosed; ln is closed then. Another
// error of Accept that persists ends it too. Serve may be called for several
// listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	if s.ns != nil {
		return s.ns.serve(ln)
	}
	return s.e.Serve(ln)
}

// Shutdown stops the server gracefully: it closes the listeners, then
// closes each connection once it is idle, letting the requests in flight
// finish (their responses say Connection: close). It returns when every
// connection is closed, or with ctx's error when ctx ends first; Close may
// then cut off what remains.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ns != nil {
		return s.ns.hs.Shutdown(ctx)
	}
	return s.e.Shutdown(ctx)
}

// Close closes the listeners and every connection at once, requests in
// flight included; their contexts end.
func (s *Server) Close() error {
	if s.ns != nil {
		return s.ns.close()
	}
	return s.e.Close()
}
