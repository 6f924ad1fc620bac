package httprpc

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
	"github.com/polyrpc/polyrpc/internal/netlimit"
)

// netServer is a Server on net/http's engine: an http.Server with the
// settings of the own engine's, as far as net/http has them, and the rest
// (connection limits, a timeout per write) in a listener of its own.
type netServer struct {
	hs           *http.Server
	limits       *netlimit.Limiter
	tls          *tls.Config // for the listeners, if the server serves TLS
	writeTimeout time.Duration
	// ages are the connections with a maximum age (netutil.MaxAge).
	ages connAges
}

// writeChunk is the most bytes written at once under one write deadline:
// a client that reads slowly but steadily is not cut off in a long reply.
const writeChunk = 64 << 10

// aeadSuites are the TLS 1.2 cipher suites offered when a TLS configuration
// names none, as the own engine does: forward secret and AEAD only.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// newNetServer returns a net/http server configured as e is.
func newNetServer(e *httpengine.Server) *netServer {
	log := e.Logger
	s := &netServer{
		limits:       netlimit.New(e.MaxConns, e.MaxConnsPerIP, log, "httprpc"),
		writeTimeout: e.WriteTimeout,
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	s.hs = &http.Server{
		Handler:           panicLogger{e.Handler, log},
		ReadHeaderTimeout: e.ReadHeaderTimeout,
		ReadTimeout:       e.ReadTimeout,
		IdleTimeout:       e.IdleTimeout,
		MaxHeaderBytes:    e.MaxHeaderBytes,
		// Per write, as the own engine's, not over the whole response
		// and the handler's run, as http.Server.WriteTimeout would: by
		// the listener's connections, and by HTTP/2's own for those
		// the listener cannot reach (see ConnState).
		HTTP2:       &http.HTTP2Config{WriteByteTimeout: e.WriteTimeout},
		Protocols:   &protocols,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState:   s.connState,
		ConnContext: s.connContext,
	}
	s.hs.RegisterOnShutdown(s.limits.Close)
	if e.TLSConfig != nil {
		s.tls = e.TLSConfig.Clone()
		if len(s.tls.NextProtos) == 0 {
			s.tls.NextProtos = []string{"h2", "http/1.1"}
		}
		if s.tls.CipherSuites == nil {
			s.tls.CipherSuites = aeadSuites
		}
	}
	return s
}

func (s *netServer) serve(ln net.Listener) error {
	ln = &limitListener{Listener: ln, s: s}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	return s.hs.Serve(ln)
}

func (s *netServer) close() error {
	err := s.hs.Close()
	s.limits.Close()
	return err
}

// connState gives back the place of a connection that the listener could
// not wrap, one of a tls.Listener given to Serve, when it ends.
func (s *netServer) connState(c net.Conn, state http.ConnState) {
	s.ages.connState(c, state)
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		if _, ours := tc.NetConn().(*limitedConn); !ours {
			s.limits.Release(c.RemoteAddr())
		}
	}
}

// Connections with a maximum age (netutil.MaxAge). Past its expiry, an
// HTTP/1 connection's next response says Connection: close, and one that
// is idle at its expiry, or goes idle past it, is closed; an HTTP/2
// connection's next response says Connection: close too, which makes
// net/http send GOAWAY and close it once its streams are done. An HTTP/2
// connection idle at its expiry is left to the idle timeout, which sends
// GOAWAY: net/http lets no one send one on a single connection otherwise,
// and closing it without one would fail a request the client might be
// sending at that moment. (An h2c connection that never carried a request
// is not known as HTTP/2, and is closed at its expiry.)

// connAge is a connection with a maximum age.
type connAge struct {
	expires time.Time
	h2      atomic.Bool // it is HTTP/2
	timer   *time.Timer // closes it, idle, at its expiry; ages.mu
}

// connAges are a server's connections with a maximum age.
type connAges struct {
	mu    sync.Mutex
	conns map[net.Conn]*connAge
}

// ageKey is the context key of a request's *connAge.
type ageKey struct{}

// connContext is the http.Server's ConnContext: a connection with a
// maximum age is noted, for connState and for the requests' handler
// (panicLogger).
func (s *netServer) connContext(ctx context.Context, nc net.Conn) context.Context {
	exp := httpengine.ConnExpiry(nc)
	if exp.IsZero() {
		return ctx
	}
	a := &connAge{expires: exp}
	s.ages.mu.Lock()
	if s.ages.conns == nil {
		s.ages.conns = map[net.Conn]*connAge{}
	}
	s.ages.conns[nc] = a
	s.ages.mu.Unlock()
	return context.WithValue(ctx, ageKey{}, a)
}

// connState closes an HTTP/1 connection with a maximum age that is idle at
// its expiry, and forgets a connection once it is closed.
func (ages *connAges) connState(nc net.Conn, state http.ConnState) {
	if httpengine.ConnExpiry(nc).IsZero() {
		return // no maximum age: nothing to do, nothing locked
	}
	ages.mu.Lock()
	defer ages.mu.Unlock()
	a := ages.conns[nc]
	if a == nil {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(ages.conns, nc)
	case http.StateIdle:
		if tc, ok := nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			a.h2.Store(true)
		}
		if !a.h2.Load() {
			// net/http says an HTTP/1 connection is idle once its
			// response is flushed.
			a.timer = time.AfterFunc(time.Until(a.expires), func() { nc.Close() })
		}
	}
}

// answer prepares the response to r, on a connection with a maximum age,
// and returns its ResponseWriter, and what to call once the handler
// returned.
func (a *connAge) answer(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	if r.ProtoMajor == 2 {
		a.h2.Store(true)
		ew := &httpengine.ExpiryWriter{ResponseWriter: w, Expires: a.expires}
		return ew, ew.Decide
	}
	// HTTP/1: decided now, keeping the ResponseWriter (a Hijacker) as it
	// is; a connection that expires while the handler runs closes once
	// idle (connState).
	if !time.Now().Before(a.expires) {
		w.Header().Set("Connection", "close")
	}
	return w, func() {}
}

// limitListener applies a Server's connection limits to the connections
// it accepts, as the own engine's accept loop does.
type limitListener struct {
	net.Listener
	s *netServer
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		// At the limit on all connections, stop accepting; false once
		// the server shuts down, when http.Server ignores the error.
		if !l.s.limits.Wait() {
			return nil, net.ErrClosed
		}
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := nc.RemoteAddr()
		if !l.s.limits.Admit(addr) {
			nc.Close() // its source holds its share; logged in sum
			continue
		}
		if _, ok := nc.(*tls.Conn); ok {
			// Wrapped, it would be no *tls.Conn to http.Server.
			return nc, nil
		}
		return &limitedConn{Conn: nc, s: l.s, addr: addr}, nil
	}
}

// limitedConn is a connection the limits count until it is closed, whose
// writes are bounded one by one.
type limitedConn struct {
	net.Conn
	s        *netServer
	addr     net.Addr
	closed   atomic.Bool
	deadline atomic.Int64 // the write deadline set by its user, in Unix ns; 0 none
	stalled  atomic.Bool  // a write timed out: the client is gone for good
}

// NetConn returns the connection c wraps (for httpengine.ConnExpiry).
func (c *limitedConn) NetConn() net.Conn { return c.Conn }

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	if !c.closed.Swap(true) {
		c.s.limits.Release(c.addr)
	}
	return err
}

// Write writes p in chunks of at most writeChunk bytes, each of which must
// be taken within the write timeout, or by the deadline set, if sooner.
// Once one was not, every write fails at once: a TLS close_notify, say,
// would wait for nothing.
func (c *limitedConn) Write(p []byte) (int, error) {
	if c.s.writeTimeout <= 0 {
		return c.Conn.Write(p)
	}
	if c.stalled.Load() {
		return 0, os.ErrDeadlineExceeded
	}
	n := 0
	for len(p) > 0 {
		d := time.Now().Add(c.s.writeTimeout)
		if set := c.deadline.Load(); set != 0 && set < d.UnixNano() {
			d = time.Unix(0, set)
		}
		if err := c.Conn.SetWriteDeadline(d); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(p[:min(len(p), writeChunk)])
		n += m
		p = p[m:]
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.stalled.Store(true)
			}
			return n, err
		}
	}
	return n, nil
}

func (c *limitedConn) SetDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *limitedConn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *limitedConn) setDeadline(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
}

// CloseWrite half-closes a TCP connection, which http.Server does before
// it closes one after an error response, so that the client reads the
// response before a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// panicLogger logs a handler's panic at Error level, as the own engine
// does, rather than letting http.Server log it. On a connection with a
// maximum age, it answers with Connection: close past the expiry.
type panicLogger struct {
	h   http.Handler
	log *slog.Logger
}

func (p panicLogger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a, ok := r.Context().Value(ageKey{}).(*connAge); ok {
		var done func()
		w, done = a.answer(w, r)
		defer done()
	}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				p.log.Error("httprpc: handler panicked", "remote", r.RemoteAddr, "panic", v, "stack", string(buf))
			}
			panic(http.ErrAbortHandler) // net/http ends the request quietly
		}
	}()
	p.h.ServeHTTP(w, r)
}
