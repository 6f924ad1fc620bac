package httpengine

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults that package httprpc gives its Server. A zero field of Server
// itself means no limit.
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
// notices the client's close at once (quicker handlers are not watched).
// What it does not do: HTTP/2 (over TLS it offers only http/1.1 by ALPN),
// and hijacking a connection. The context carries http.LocalAddrContextKey,
// not http.ServerContextKey.
//
// Requests are read strictly (RFC 9112): a malformed request line or field,
// a head over MaxHeaderBytes, a body with both Content-Length and
// Transfer-Encoding or with conflicting lengths, each get a 4xx answer and
// the connection is closed. The zero Server serves nothing (no Handler).
// Fields must not change once serving began.
type Server struct {
	// Handler serves every request.
	Handler http.Handler
	// TLSConfig, if set, makes Serve serve its listener's connections over
	// TLS; it must hold a certificate. Connections of a tls.Listener given
	// to Serve are served over TLS too.
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

	// Logger receives handler panics (Error) and failed accepts (Warn);
	// nil means none.
	Logger *slog.Logger
	// BaseContext, if set, returns the context of the requests that come
	// through a listener.
	BaseContext func(net.Listener) context.Context

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*serverConn]struct{}
	watching  bool // watchLoop runs
	closing   atomic.Bool
}

// tlsListener wraps ln to serve TLS with s.TLSConfig, offering http/1.1 by
// ALPN unless the configuration says otherwise.
func (s *Server) tlsListener(ln net.Listener) net.Listener {
	conf := s.TLSConfig.Clone()
	if len(conf.NextProtos) == 0 {
		conf.NextProtos = []string{"http/1.1"}
	}
	return tls.NewListener(ln, conf)
}

// Serve accepts connections on ln and serves each in a goroutine of its
// own, until Shutdown or Close, when it returns http.ErrServerClosed; ln is
// closed then. Another error of Accept that persists ends it too.
func (s *Server) Serve(ln net.Listener) error {
	defer ln.Close()
	if s.TLSConfig != nil {
		ln = s.tlsListener(ln)
	}
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
			s.log().Warn("httprpc: accept failed", "error", err, "retry", delay)
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

var discard = slog.New(slog.DiscardHandler)

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return discard
}
