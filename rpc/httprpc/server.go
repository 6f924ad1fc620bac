package httprpc

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Server that NewServer returns.
const (
	// DefaultReadHeaderTimeout bounds the wait for a request's headers, the
	// classic slow-client attack on a server.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 120 * time.Second
)

// Server is an HTTP/1.1 server for RPC traffic. It serves any http.Handler,
// so a Handler, authentication middleware and an http.ServeMux run on it
// unchanged, but it spends far less per request than net/http's server: the
// connection's goroutine reads a request, runs the handler and writes the
// response from buffers kept for the connection's life, and a response goes
// out in one write, together with the responses to any requests already
// waiting behind it (pipelining).
//
// A request's context ends when the server closes, and when the client
// goes away while the handler runs with the request read whole: a handler
// that has run 50-100 ms gets a background read on its connection, which
// notices the client's close at once (quicker handlers are not watched). What it does not do: HTTP/2 (over TLS it offers only
// http/1.1 by ALPN), and hijacking a connection. The context carries
// http.LocalAddrContextKey, not http.ServerContextKey. Use net/http's
// server where those matter; Handler works there too.
//
// Requests are read strictly (RFC 9112): a malformed request line or field,
// a head over MaxHeaderBytes, a body with both Content-Length and
// Transfer-Encoding or with conflicting lengths, each get a 4xx answer and
// the connection is closed. The zero Server serves nothing (no Handler);
// NewServer fills in the timeouts. Fields must not change once serving
// began.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; "" means ":http".
	Addr string
	// Handler serves every request.
	Handler http.Handler
	// TLSConfig is used by ServeTLS and ListenAndServeTLS. Connections of a
	// tls.Listener given to Serve are served over TLS too.
	TLSConfig *tls.Config

	// ReadHeaderTimeout bounds reading a request's head, from its first
	// byte (and a TLS handshake). Zero means no limit.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, from its first byte.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request's head to the
	// end of its response, handler included; zero means none.
	WriteTimeout time.Duration
	// IdleTimeout is how long a connection may wait for its next request;
	// zero means ReadTimeout, and both zero means no limit.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits a request's head; zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxConns, if positive, limits the connections served at once: one
	// accepted beyond it is closed at once, before anything is read, as
	// rpcd's TCP transport does. Zero means no limit.
	MaxConns int

	// ErrorLog receives handler panics and failed accepts; nil means the
	// log package's standard logger.
	ErrorLog *log.Logger
	// BaseContext, if set, returns the context of the requests that come
	// through a listener.
	BaseContext func(net.Listener) context.Context

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*serverConn]struct{}
	watching  bool // watchLoop runs
	closing   atomic.Bool
}

// NewServer returns a Server that serves h on addr with the timeouts above.
// WriteTimeout stays zero on purpose: it runs from the end of the request
// headers to the end of the response, so it would cut off any call that
// runs longer. Bound calls with rpc.WithCallTimeout instead, which ends the
// call's context and still sends its error reply. The caller may change any
// field before serving.
func NewServer(addr string, h http.Handler) *Server {
	return &Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
	}
}

// ListenAndServe listens on s.Addr and serves; see Serve.
func (s *Server) ListenAndServe() error {
	if s.closing.Load() {
		return http.ErrServerClosed
	}
	ln, err := net.Listen("tcp", s.listenAddr())
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ListenAndServeTLS listens on s.Addr and serves over TLS; see ServeTLS.
func (s *Server) ListenAndServeTLS(certFile, keyFile string) error {
	if s.closing.Load() {
		return http.ErrServerClosed
	}
	ln, err := net.Listen("tcp", s.listenAddr())
	if err != nil {
		return err
	}
	defer ln.Close()
	return s.ServeTLS(ln, certFile, keyFile)
}

func (s *Server) listenAddr() string {
	if s.Addr == "" {
		return ":http"
	}
	return s.Addr
}

// ServeTLS serves the connections of ln over TLS with s.TLSConfig, which
// must hold a certificate unless certFile and keyFile name one.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	var conf *tls.Config
	if s.TLSConfig != nil {
		conf = s.TLSConfig.Clone()
	} else {
		conf = &tls.Config{}
	}
	if len(conf.NextProtos) == 0 {
		conf.NextProtos = []string{"http/1.1"}
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		conf.Certificates = append(conf.Certificates, cert)
	}
	return s.Serve(tls.NewListener(ln, conf))
}

// Serve accepts connections on ln and serves each in a goroutine of its
// own, until Shutdown or Close, when it returns http.ErrServerClosed; ln is
// closed then. Another error of Accept that persists ends it too.
func (s *Server) Serve(ln net.Listener) error {
	defer ln.Close()
	if !s.trackListener(&ln, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&ln, false)
	base := context.Background()
	if s.BaseContext != nil {
		if base = s.BaseContext(ln); base == nil {
			panic("httprpc: BaseContext returned nil")
		}
	}
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, say: wait for connections to end.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logf("httprpc: accept: %v; retrying in %v", err, delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := newServerConn(s, nc, base)
		switch s.trackConn(c, true) {
		case tracked:
			go c.serve()
		case overLimit:
			c.cancel()
			nc.Close()
		default:
			c.cancel()
			nc.Close()
			return http.ErrServerClosed
		}
	}
}

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[*net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	return true
}

// What trackConn did with a new connection.
const (
	tracked = iota
	overLimit
	serverClosing
)

// trackConn adds c to the connections served, or removes it.
func (s *Server) trackConn(c *serverConn, add bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return tracked
	}
	if s.closing.Load() {
		return serverClosing
	}
	if s.MaxConns > 0 && len(s.conns) >= s.MaxConns {
		return overLimit
	}
	if s.conns == nil {
		s.conns = map[*serverConn]struct{}{}
	}
	s.conns[c] = struct{}{}
	if !s.watching {
		s.watching = true
		go s.watchLoop()
	}
	return tracked
}

// closeListeners closes every listener; the mutex is held. A listener
// that Serve closed already on its way out is no error.
func (s *Server) closeListeners() error {
	var err error
	for ln := range s.listeners {
		if cerr := (*ln).Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = cerr
		}
		delete(s.listeners, ln)
	}
	return err
}

// Shutdown stops the server gracefully: it closes the listeners, then
// closes each connection once it is idle, letting the requests in flight
// finish (their responses say Connection: close). It returns when every
// connection is closed, or with ctx's error when ctx ends first; Close may
// then cut off what remains.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	lnErr := s.closeListeners()
	s.mu.Unlock()
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if s.closeIdle() {
			return lnErr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			wait = min(2*wait, 100*time.Millisecond)
			timer.Reset(wait)
		}
	}
}

// closeIdle closes the connections that wait for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// Close closes the listeners and every connection at once, requests in
// flight included. Their contexts end.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListeners()
	for c := range s.conns {
		c.state.Store(stateClosed)
		c.nc.Close()
		c.cancel()
	}
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
