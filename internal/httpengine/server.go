package httpengine

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/internal/netlimit"
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
// A request's context ends when its handler returns, as net/http's does,
// when the server closes, and when the client goes away while the handler
// runs with the request read whole: a handler that has run 50-100 ms gets a
// background read on its connection, which notices the client's close at
// once (quicker handlers are not watched).
//
// A connection must earn the idle timeout: until a request on it has been
// answered with a status below 400, it has ReadHeaderTimeout from its accept
// (or from its last response) to complete its TLS handshake and send a
// request's head, so that a silent, trickling or unauthenticated client
// holds a connection no longer than that.
//
// HTTP/2, negotiated by ALPN "h2" over TLS or begun with its preface in
// cleartext (h2c with prior knowledge), is served by net/http's HTTP/2
// server on the same listeners (h2.go). A handler may hijack an HTTP/1
// connection (Upgrade, WebSocket). The context carries
// http.LocalAddrContextKey and http.ServerContextKey (the http.Server that
// serves HTTP/2); rpc/httprpc's package doc lists what differs from
// net/http.
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

	// ReadHeaderTimeout bounds reading a request's head: from its first
	// byte on a connection that served a request well already, and
	// otherwise from the connection's accept or its last response, TLS
	// handshake included (see Server). Zero means ReadTimeout, and both
	// zero no limit.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, from its first byte.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of a response: a write of up to
	// writeChunk bytes that does not complete within it fails, and the
	// connection closes, so that a client that stops reading cannot hold
	// the response's buffers. The handler's run time is not bounded. Zero
	// means none.
	WriteTimeout time.Duration
	// IdleTimeout is how long a connection may wait for its next request;
	// zero means ReadTimeout, and both zero means no limit.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits a request's head; zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxConns, if positive, limits the connections served at once, on all
	// listeners: at the limit Serve stops accepting (new connections wait
	// in the listen backlog) until one ends. Zero means no limit.
	MaxConns int
	// MaxConnsPerIP, if positive, limits the connections served at once
	// from one source address (an IPv4 address or an IPv6 /64): one more
	// is closed once accepted, before anything is read. Zero means no limit.
	MaxConnsPerIP int

	// Logger receives handler panics (Error), failed accepts (Warn) and
	// the connection limits hit (netlimit: once per burst, with counts);
	// nil means none.
	Logger *slog.Logger
	// BaseContext, if set, returns the context of the requests that come
	// through a listener.
	BaseContext func(net.Listener) context.Context

	mu        sync.Mutex
	limits    *netlimit.Limiter // made by the first Serve
	listeners map[*net.Listener]struct{}
	conns     map[*serverConn]struct{}
	watching  bool // watchLoop runs
	closing   atomic.Bool

	// HTTP/2 (h2.go): hs serves the connections handed to it through h2ln
	// (nil until the first), h2conns are those it serves.
	hsOnce  sync.Once
	hs      *http.Server
	h2ln    *chanListener
	h2conns map[net.Conn]*serverConn
}

// aeadSuites are the TLS 1.2 cipher suites a Server offers when its
// TLSConfig names none: forward secret and AEAD only. Go's defaults also
// offer CBC suites with SHA-1 MACs, which scanners rightly flag as
// obsolete; every client of the last decade has one of these. (TLS 1.3's
// suites are all AEAD and not configurable.)
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsListener wraps ln to serve TLS with s.TLSConfig, offering h2 and
// http/1.1 by ALPN and AEAD cipher suites alone in TLS 1.2, unless the
// configuration says otherwise. (Cipher suites of the configuration's
// that HTTP/2 cannot use get http/1.1 alone, as with net/http.)
func (s *Server) tlsListener(ln net.Listener) net.Listener {
	conf := s.TLSConfig.Clone()
	if len(conf.NextProtos) == 0 {
		conf.NextProtos = []string{"h2", "http/1.1"}
		if conf.CipherSuites != nil && conf.MinVersion < tls.VersionTLS13 &&
			!slices.Contains(conf.CipherSuites, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) &&
			!slices.Contains(conf.CipherSuites, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) {
			conf.NextProtos = conf.NextProtos[1:]
		}
	}
	if conf.CipherSuites == nil {
		conf.CipherSuites = aeadSuites
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
	limits := s.limits // set by trackListener
	base := context.Background()
	if s.BaseContext != nil {
		if base = s.BaseContext(ln); base == nil {
			panic("httprpc: BaseContext returned nil")
		}
	}
	var delay time.Duration
	for {
		// At the limit on all connections, stop accepting: the
		// connections wait in the listen backlog, and a client sees a slow
		// connect, not a reset.
		if !limits.Wait() {
			return http.ErrServerClosed
		}
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
		addr := nc.RemoteAddr()
		if !limits.Admit(addr) {
			nc.Close() // its source holds its share; logged in sum
			continue
		}
		c := newServerConn(s, nc, addr, base)
		if !s.trackConn(c, true) {
			c.cancel()
			nc.Close()
			limits.Release(addr)
			return http.ErrServerClosed
		}
		go c.serve()
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
	if s.limits == nil {
		s.limits = netlimit.New(s.MaxConns, s.MaxConnsPerIP, s.log(), "httprpc")
	}
	if s.listeners == nil {
		s.listeners = map[*net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	return true
}

// forget ends c's accounting: it is no longer served (closed, or the
// handler's now).
func (s *Server) forget(c *serverConn) {
	s.trackConn(c, false)
	if l := s.limits; l != nil { // nil for a connection served without Serve
		l.Release(c.addr)
	}
}

// trackConn adds c to the connections served, or removes it. It reports
// false when c cannot be added: the server is closing.
func (s *Server) trackConn(c *serverConn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[*serverConn]struct{}{}
	}
	s.conns[c] = struct{}{}
	if !s.watching {
		s.watching = true
		go s.watchLoop()
	}
	return true
}

// closeListeners closes every listener, and wakes the accept loops that
// wait at the connection limit; the mutex is held. A listener that Serve
// closed already on its way out is no error.
func (s *Server) closeListeners() error {
	if s.limits != nil {
		s.limits.Close()
	}
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
	h2 := s.h2ln != nil
	s.mu.Unlock()
	if h2 {
		// HTTP/2 connections are told to go (GOAWAY) and close once
		// their streams are done; they are among s.conns until then.
		go s.hs.Shutdown(ctx)
	}
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
	err := s.closeListeners()
	for c := range s.conns {
		c.state.Store(stateClosed)
		c.nc.Close()
		c.cancel()
	}
	h2 := s.h2ln != nil
	s.mu.Unlock()
	if h2 {
		s.hs.Close()
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

// ConnExpiry returns when nc, or a connection it wraps (*tls.Conn, and
// others with a NetConn method), reaches its maximum age: netutil.MaxAge
// gives its connections an ExpiresAt method. It is zero if never.
func ConnExpiry(nc net.Conn) time.Time {
	for range 8 {
		if e, ok := nc.(interface{ ExpiresAt() time.Time }); ok {
			return e.ExpiresAt()
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		if nc = u.NetConn(); nc == nil {
			break
		}
	}
	return time.Time{}
}

// ExpiryWriter is the ResponseWriter of an HTTP/2 response on a connection
// with a maximum age: the response says Connection: close if its head goes
// out past the connection's expiry, which makes net/http's HTTP/2 server
// send GOAWAY and close the connection once its streams are done. (A
// handler's Hijack, which HTTP/2 has not, is all it hides.)
type ExpiryWriter struct {
	http.ResponseWriter
	Expires time.Time
	decided bool
}

// Decide adds Connection: close to the response's head if the connection
// is past its expiry, the first time it is called: before the head goes
// out, and when the handler returns, if it wrote nothing.
func (w *ExpiryWriter) Decide() {
	if w.decided {
		return
	}
	w.decided = true
	if !time.Now().Before(w.Expires) {
		w.ResponseWriter.Header().Set("Connection", "close")
	}
}

func (w *ExpiryWriter) WriteHeader(code int) {
	if code >= 200 {
		w.Decide()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *ExpiryWriter) Write(p []byte) (int, error) {
	w.Decide()
	return w.ResponseWriter.Write(p)
}

func (w *ExpiryWriter) Flush() { w.FlushError() }

// FlushError is Flush reporting a failed write (http.ResponseController
// uses it).
func (w *ExpiryWriter) FlushError() error {
	w.Decide()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the ResponseWriter w wraps, for http.ResponseController.
func (w *ExpiryWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
