package httpengine

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTP/2 is served by net/http's server: a connection that negotiated "h2"
// by ALPN, or that begins with HTTP/2's preface in cleartext (prior
// knowledge, h2c), is handed to an http.Server of the Server's own, hs,
// once the accept loop admitted it (the connection limits count it until it
// closes) and within the head timeout of its accept (TLS handshake, or
// preface). hs serves the same Handler, with the Server's timeouts, and
// Shutdown and Close end its connections too. hs is also what a request's
// context holds under http.ServerContextKey, on HTTP/1 and HTTP/2 alike.
//
// Streams, flow control and the floods HTTP/2 allows (rapid resets,
// SETTINGS and PING floods, HPACK bombs) are net/http's to handle; what
// this package adds is the bound on connections, and that a connection
// must begin a request within the head timeout of its accept, as an
// HTTP/1 one must, before net/http's idle timeout applies to it.

// h2Preface is what an HTTP/2 client sends first (RFC 9113 section 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// httpServer returns hs, made on the first call from the Server's fields.
func (s *Server) httpServer() *http.Server {
	s.hsOnce.Do(func() {
		var p http.Protocols
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		maxHead := s.MaxHeaderBytes
		if maxHead <= 0 {
			maxHead = DefaultMaxHeaderBytes
		}
		s.hs = &http.Server{
			Handler:           h2Handler{s},
			ReadHeaderTimeout: s.ReadHeaderTimeout,
			ReadTimeout:       s.ReadTimeout,
			IdleTimeout:       s.IdleTimeout,
			MaxHeaderBytes:    maxHead,
			Protocols:         &p,
			// A write that makes no progress for WriteTimeout ends the
			// connection, as on HTTP/1; a handler's run time is not
			// bounded (http.Server.WriteTimeout would).
			HTTP2:       &http.HTTP2Config{WriteByteTimeout: max(s.WriteTimeout, 0)},
			ConnContext: s.h2ConnContext,
			ConnState:   s.h2ConnState,
			ErrorLog:    slog.NewLogLogger(s.log().Handler(), slog.LevelError),
		}
	})
	return s.hs
}

// prefaceAhead reports whether the connection begins with HTTP/2's
// preface, reading no more than that needs: a byte that differs ends the
// look, so that an HTTP/1 request costs a byte's comparison. A
// connection that ends, or stalls past its deadline, inside what could be
// the preface is left to the HTTP/1 reader, to fail there.
func (c *serverConn) prefaceAhead() bool {
	for {
		b, _ := c.br.Peek(c.br.Buffered())
		n := min(len(b), len(h2Preface))
		if string(b[:n]) != h2Preface[:n] {
			return false
		}
		if n == len(h2Preface) {
			return true
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return false
		}
	}
}

// serveHTTP2 hands c, as nc, to hs, and reports whether hs took it; it
// does not when the server is closing. hs serves it from then on, and
// h2ConnState ends c's accounting when the connection closes.
func (s *Server) serveHTTP2(c *serverConn, nc net.Conn) bool {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return false
	}
	hs := s.httpServer()
	if s.h2ln == nil {
		s.h2ln = &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
		go hs.Serve(s.h2ln)
	}
	ln := s.h2ln
	if s.h2conns == nil {
		s.h2conns = map[net.Conn]*serverConn{}
	}
	s.h2conns[nc] = c
	s.mu.Unlock()

	// Never idle for closeIdle: hs.Shutdown ends it, once its streams are
	// done.
	c.state.Store(stateActive)
	if t := s.headTimeout(); t > 0 {
		// As on HTTP/1, a connection that has shown no request within the
		// head timeout of its accept goes: a client that sends the preface
		// and its settings and nothing more holds no place for longer.
		c.h2Timer = time.AfterFunc(time.Until(c.waitStart.Add(t)), func() {
			if !c.h2Started.Load() {
				nc.Close()
			}
		})
	}
	select {
	case ln.conns <- nc:
		return true
	case <-ln.done:
		s.mu.Lock()
		delete(s.h2conns, nc)
		s.mu.Unlock()
		if c.h2Timer != nil {
			c.h2Timer.Stop()
		}
		return false
	}
}

// h2ConnContext is hs's ConnContext: the context of a connection's
// requests derives from the one the connection had here, with the
// listener's base context and its cancellation by Close.
func (s *Server) h2ConnContext(ctx context.Context, nc net.Conn) context.Context {
	s.mu.Lock()
	c := s.h2conns[nc]
	s.mu.Unlock()
	if c == nil {
		return ctx
	}
	return context.WithValue(c.ctx, h2ConnKey{}, c)
}

// h2ConnState is hs's ConnState: a connection it closed leaves the
// server's accounting.
func (s *Server) h2ConnState(nc net.Conn, state http.ConnState) {
	if state != http.StateClosed {
		return
	}
	s.mu.Lock()
	c := s.h2conns[nc]
	delete(s.h2conns, nc)
	s.mu.Unlock()
	if c == nil {
		return // told before
	}
	if c.h2Timer != nil {
		c.h2Timer.Stop()
	}
	c.cancel()
	s.forget(c)
}

// h2ConnKey is the context key of an HTTP/2 request's *serverConn.
type h2ConnKey struct{}

// h2Handler is hs's Handler: the Server's, noting that the connection
// began a request.
type h2Handler struct{ s *Server }

func (h h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(h2ConnKey{}).(*serverConn); ok {
		if !c.h2Started.Load() {
			c.h2Started.Store(true)
		}
		if !c.expires.IsZero() {
			// Past its maximum age, the connection is told to go
			// (GOAWAY) with the next response, and closes once its
			// streams are done. (Idle, it is left to the idle timeout:
			// closed without GOAWAY, it would fail the request a client
			// might be sending at that moment.)
			ew := &ExpiryWriter{ResponseWriter: w, Expires: c.expires}
			h.s.Handler.ServeHTTP(ew, r)
			ew.Decide()
			return
		}
	}
	h.s.Handler.ServeHTTP(w, r)
}

// replayConn is a connection whose first bytes were read into br already:
// its reads return them first.
type replayConn struct {
	net.Conn
	br *bufio.Reader // nil once drained
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// chanListener is hs's listener: its connections are the ones handed over.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return h2Addr{} }

type h2Addr struct{}

func (h2Addr) Network() string { return "httpengine" }
func (h2Addr) String() string  { return "httpengine-h2" }
