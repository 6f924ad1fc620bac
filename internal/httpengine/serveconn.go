package httpengine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A connection's state, for Shutdown: it closes only idle connections, and
// a connection that finds itself closed while idle never starts a request.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

// maxPending is how much of a response body is held back to learn its
// length; a longer body of unknown length is sent chunked.
const maxPending = 4 << 10

// lingerTimeout and maxLinger bound what lingerClose reads.
const (
	lingerTimeout = 500 * time.Millisecond
	maxLinger     = 64 << 20
)

// finalFlushTimeout bounds sending what is left in a closing connection's
// writer to a client that does not read.
const finalFlushTimeout = 5 * time.Second

// writeChunk is the most one write to the connection is given, each with a
// deadline of its own (Server.WriteTimeout): a client that reads, however
// slowly, keeps its connection; one that stops reading loses it.
const writeChunk = 64 << 10

// maxDrain bounds what is read of a request body the handler left unread,
// to keep the connection; past it, closing is cheaper.
const maxDrain = 256 << 10

// serverConn is one connection of a Server. One goroutine serves it, one
// request at a time.
type serverConn struct {
	srv    *Server
	nc     net.Conn
	addr   net.Addr // the client's, as the connection limits count it
	state  atomic.Int32
	ctx    context.Context
	cancel context.CancelFunc
	remote string
	tls    *tls.ConnectionState
	br     *bufio.Reader
	bw     *bufio.Writer
	head   []byte // scratch for reading request heads
	out    []byte // scratch for response heads and held-back bodies
	// start is when the request being read began: its first byte.
	start time.Time
	// proven says a request on the connection was answered with a status
	// below 400: it may wait IdleTimeout for its next request. Until then
	// the wait for a request and its head are bounded together by the
	// head timeout from waitStart: the accept, or the last response.
	proven    bool
	waitStart time.Time
	// fixedWriteDeadline says the write deadline was set for what is
	// being written (by the handler, or for a last answer): connWriter
	// leaves it as it is.
	fixedWriteDeadline bool
	// linger says the client may still be sending (a body left unread, a
	// refused request): see lingerClose.
	linger bool
	// date caches the Date field's value for the second dateSec.
	dateSec int64
	date    []byte

	// Noticing a client that goes away while its handler runs (watch.go).
	// watchable is when the handler began to run with its request read
	// whole (UnixNano), 0 otherwise; the rest is guarded by watchMu.
	watchable atomic.Int64
	watchMu   sync.Mutex
	watched   bool          // the request's background read began
	watchDone chan struct{} // closed when it ends
	peekByte  [1]byte
	peeked    bool // peekByte is the connection's next byte
	gone      bool // the client closed or reset the connection

	// hijacked says a handler took the connection over (Hijack): it is
	// the handler's, and no longer the server's to close or count.
	hijacked bool
	// handedOff says net/http's HTTP/2 server serves the connection
	// (h2.go); h2Started that a request on it began.
	handedOff bool
	h2Started atomic.Bool
	h2Timer   *time.Timer // closes it if no request began in time
	// readDeadlineSet says the handler set the read deadline, which must
	// not outlive its request.
	readDeadlineSet bool
	// expires is when the connection reaches its maximum age
	// (netutil.MaxAge; zero if never): its next response then says
	// Connection: close, and it closes if it waits for a request then.
	expires time.Time
}

func newServerConn(s *Server, nc net.Conn, addr net.Addr, base context.Context) *serverConn {
	c := &serverConn{srv: s, nc: nc, addr: addr, remote: addr.String(), waitStart: time.Now(), expires: ConnExpiry(nc)}
	ctx := context.WithValue(base, http.ServerContextKey, s.httpServer())
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.br = bufio.NewReaderSize(flushingReader{c}, 4<<10)
	c.bw = bufio.NewWriterSize(connWriter{c}, 4<<10)
	return c
}

// headTimeout bounds a request's head, and a new connection's wait for its
// first request.
func (s *Server) headTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

// connWriter writes the connection for its bufio.Writer, in chunks of at
// most writeChunk bytes, each with the write timeout as its deadline.
type connWriter struct{ c *serverConn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	d := c.srv.WriteTimeout
	if d <= 0 || c.fixedWriteDeadline {
		return c.nc.Write(p)
	}
	n := 0
	for {
		end := min(n+writeChunk, len(p))
		c.nc.SetWriteDeadline(time.Now().Add(d))
		k, err := c.nc.Write(p[n:end])
		n += k
		if err != nil || n == len(p) {
			return n, err
		}
	}
}

// setWriteDeadline fixes the write deadline at t for what is written until
// the next request.
func (c *serverConn) setWriteDeadline(t time.Time) error {
	c.fixedWriteDeadline = true
	return c.nc.SetWriteDeadline(t)
}

// flushingReader reads the connection for its bufio.Reader, first sending
// the responses buffered so far: responses wait in the writer only while
// requests are already waiting in the reader, so a client is never left
// without an answer while the server waits for it.
type flushingReader struct{ c *serverConn }

func (r flushingReader) Read(p []byte) (int, error) {
	if r.c.bw.Buffered() > 0 {
		if err := r.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	if r.c.peeked && len(p) > 0 {
		// What a background read took (watch.go).
		r.c.peeked = false
		p[0] = r.c.peekByte[0]
		return 1, nil
	}
	return r.c.nc.Read(p)
}

func (c *serverConn) serve() {
	defer func() {
		if c.handedOff {
			return // net/http's HTTP/2 server ends it (h2.go)
		}
		if c.hijacked {
			c.cancel() // the connection is the handler's
			return
		}
		// Responses to pipelined requests may still wait in the writer;
		// they are complete and must not be lost with the connection.
		if c.bw.Buffered() > 0 {
			c.setWriteDeadline(time.Now().Add(finalFlushTimeout))
			c.bw.Flush()
		}
		if c.linger {
			c.lingerClose()
		}
		c.cancel()
		c.nc.Close()
		c.srv.forget(c)
	}()
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(tc) {
		return
	}
	if c.tls != nil && c.tls.NegotiatedProtocol == "h2" {
		c.handedOff = c.srv.serveHTTP2(c, c.nc)
		return
	}
	first := c.tls == nil // HTTP/2 with prior knowledge begins a connection
	for c.next() {
		if first {
			first = false
			if c.prefaceAhead() {
				c.handedOff = c.srv.serveHTTP2(c, &replayConn{Conn: c.nc, br: c.br})
				return
			}
		}
		w := &response{c: c}
		w.ctx.conn = c.ctx
		req, body, err := c.readRequest(&w.ctx)
		if err != nil {
			c.refuse(err)
			return
		}
		if !c.serveRequest(w, req, body) || c.srv.closing.Load() {
			return
		}
		if !c.proven {
			c.waitStart = time.Now()
		}
	}
}

// lingerClose ends a connection whose client may still be sending: it
// closes the sending side and reads, for a moment, what still arrives. A
// plain close with unread bytes makes the system reset the connection, and
// a client still writing its request then fails with the reset before it
// reads the answer (a 413, a 431) that was sent to it.
func (c *serverConn) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.CopyN(io.Discard, c.nc, maxLinger)
}

// handshake completes the TLS handshake of a new connection within the
// head timeout from its accept, the same deadline that its first request's
// head must then meet (see next).
func (c *serverConn) handshake(tc *tls.Conn) bool {
	if t := c.srv.headTimeout(); t > 0 {
		c.nc.SetDeadline(c.waitStart.Add(t))
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return false
	}
	st := tc.ConnectionState()
	c.tls = &st
	c.nc.SetWriteDeadline(time.Time{})
	return true
}

// next waits for the first byte of the next request, and reports whether
// one began. The connection is idle meanwhile, for Shutdown to close.
//
// A connection that has not yet had a request answered below 400 waits
// under the head timeout from waitStart, which then bounds the request's
// head too: a new connection, silent or trickling, or one whose requests
// are all refused (unauthenticated, say), holds its slot no longer than
// that. Only a proven connection waits IdleTimeout, and has the head
// timeout from the head's first byte.
func (c *serverConn) next() bool {
	s := c.srv
	head := s.headTimeout()
	short := !c.proven && head > 0
	if short {
		c.nc.SetReadDeadline(c.waitStart.Add(head))
	}
	atExpiry := false // the wait's deadline is the connection's expiry
	if c.br.Buffered() == 0 {
		if !c.state.CompareAndSwap(stateActive, stateIdle) && c.state.Load() != stateIdle {
			return false
		}
		if s.closing.Load() || c.expired() {
			return false // expired and idle: the client dials again
		}
		idle := s.IdleTimeout
		if idle == 0 {
			idle = s.ReadTimeout
		}
		if idle > 0 && !short {
			c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		if !c.expires.IsZero() {
			wait := time.Time{}
			switch {
			case short:
				wait = c.waitStart.Add(head)
			case idle > 0:
				wait = time.Now().Add(idle)
			}
			if wait.IsZero() || c.expires.Before(wait) {
				c.nc.SetReadDeadline(c.expires)
				atExpiry = true
			}
		}
		if _, err := c.br.Peek(1); err != nil {
			return false
		}
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) && c.state.Load() != stateActive {
		return false // closed by Shutdown as the request arrived
	}
	c.start = time.Now()
	switch {
	case short && atExpiry:
		c.nc.SetReadDeadline(c.waitStart.Add(head))
	case short:
		// The deadline set above bounds the head.
	case head > 0:
		c.nc.SetReadDeadline(c.start.Add(head))
	case s.IdleTimeout > 0 || atExpiry:
		c.nc.SetReadDeadline(time.Time{})
	}
	return true
}

// expired reports whether c is past its maximum age.
func (c *serverConn) expired() bool {
	return !c.expires.IsZero() && !time.Now().Before(c.expires)
}

// reqProto is the request every request is copied from by WithContext:
// the one way to set a request's context without a second copy.
var reqProto = new(http.Request)

// readRequest reads the next request's head and makes the request, with
// ctx as its context.
func (c *serverConn) readRequest(ctx context.Context) (*http.Request, *requestBody, error) {
	s := c.srv
	max := s.MaxHeaderBytes
	if max <= 0 {
		max = DefaultMaxHeaderBytes
	}
	head, scratch, err := readHead(c.br, c.head, max, true)
	c.head = scratch
	if err != nil {
		return nil, nil, err
	}
	line, fields := cutLine(head)
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !validToken(method) || target == "" || !validTarget(target) {
		return nil, nil, malformed("malformed request line " + quote(line))
	}
	major, minor, ok := parseVersion(proto)
	if !ok {
		return nil, nil, malformed("malformed HTTP version " + quote(proto))
	}
	if major != 1 {
		return nil, nil, &protocolError{status: http.StatusHTTPVersionNotSupported, msg: "unsupported HTTP version " + quote(proto)}
	}
	hdr, err := parseFields(fields)
	if err != nil {
		return nil, nil, err
	}
	host := ""
	switch hosts := hdr["Host"]; {
	case len(hosts) > 1:
		return nil, nil, malformed("more than one Host field")
	case len(hosts) == 1:
		host = hosts[0]
		delete(hdr, "Host")
	case minor >= 1:
		return nil, nil, malformed("missing Host field")
	}
	if !validValue(host) || strings.ContainsAny(host, " /\\@") {
		return nil, nil, malformed("invalid Host " + quote(host))
	}
	u, err := parseTarget(method, target)
	if err != nil {
		return nil, nil, err
	}
	if u.Host != "" {
		// A target in absolute form names the host; RFC 9112 section
		// 3.2.2 has the Host field ignored then.
		host = u.Host
	}
	if _, ok := hdr["Transfer-Encoding"]; ok && minor == 0 {
		// HTTP/1.0 knows no transfer codings: a message with one has
		// faulty framing (RFC 9112 section 6.1), a classic way to smuggle
		// a request past a proxy that reads it otherwise.
		return nil, nil, malformed("Transfer-Encoding in an HTTP/1.0 request")
	}
	f, err := bodyFraming(hdr)
	if err != nil {
		return nil, nil, err
	}
	if !f.chunked && f.length < 0 {
		f.length = 0 // a request without framing has no body
	}
	var trailer http.Header
	if _, ok := hdr["Trailer"]; ok && f.chunked {
		if trailer, err = declaredTrailer(hdr); err != nil {
			return nil, nil, err
		}
	}

	closeAfter := hasToken(hdr["Connection"], "close") ||
		(minor == 0 && !hasToken(hdr["Connection"], "keep-alive"))
	expectContinue := false
	if ex, ok := hdr["Expect"]; ok {
		if len(ex) != 1 || !strings.EqualFold(ex[0], "100-continue") {
			return nil, nil, &protocolError{status: http.StatusExpectationFailed, msg: "unsupported Expect " + quote(strings.Join(ex, ", "))}
		}
		expectContinue = minor >= 1 && (f.chunked || f.length > 0)
	}

	if s.ReadTimeout > 0 {
		c.nc.SetReadDeadline(c.start.Add(s.ReadTimeout))
	} else if s.ReadHeaderTimeout > 0 {
		c.nc.SetReadDeadline(time.Time{})
	}

	r := reqProto.WithContext(ctx)
	r.Method = method
	r.URL = u
	r.Proto = proto
	r.ProtoMajor, r.ProtoMinor = major, minor
	r.Header = hdr
	r.Host = host
	r.RemoteAddr = c.remote
	r.RequestURI = target
	r.TLS = c.tls
	r.Close = closeAfter
	r.ContentLength = f.length
	r.Trailer = trailer
	var body *requestBody
	if f.chunked || f.length > 0 {
		body = &requestBody{c: c, expectContinue: expectContinue}
		body.b.reset(c.br, f, false, max)
		if f.chunked {
			body.b.trailer = &r.Trailer // parsed, as net/http does
		}
		r.Body = body
		if f.chunked {
			r.TransferEncoding = []string{"chunked"}
		}
	} else {
		r.Body = http.NoBody
	}
	return r, body, nil
}

// declaredTrailer returns the fields a chunked request's Trailer field
// announces, each with no value yet, and removes the Trailer field, as
// net/http does; the framing fields may not be among them (RFC 9110
// section 6.5.1).
func declaredTrailer(hdr http.Header) (http.Header, error) {
	var names []string
	for _, v := range hdr["Trailer"] {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if name = trimOWS(name); name != "" {
				names = append(names, name)
			}
		}
	}
	delete(hdr, "Trailer")
	if len(names) == 0 {
		return nil, nil
	}
	trailer := make(http.Header, len(names))
	for _, name := range names {
		if !validToken(name) {
			return nil, malformed("invalid Trailer field name " + quote(name))
		}
		name = textproto.CanonicalMIMEHeaderKey(name)
		switch name {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return nil, malformed("Trailer announces " + name)
		}
		trailer[name] = nil
	}
	return trailer, nil
}

// parseVersion parses "HTTP/x.y".
func parseVersion(v string) (major, minor int, ok bool) {
	if len(v) != 8 || !strings.HasPrefix(v, "HTTP/") || v[6] != '.' {
		return 0, 0, false
	}
	if v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// pathChars marks the bytes of an origin-form path that url.ParseRequestURI
// keeps as they are: a path made only of them needs no parsing.
var pathChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()

// parseTarget parses a request target (RFC 9112 section 3.2). The common
// origin form of a plain path costs one allocation.
func parseTarget(method, target string) (*url.URL, error) {
	if target[0] == '/' {
		simple := true
		for i := 0; i < len(target); i++ {
			if !pathChars[target[i]] {
				simple = false
				break
			}
		}
		if simple {
			return &url.URL{Path: target}, nil
		}
	}
	if target == "*" {
		if method != http.MethodOptions {
			return nil, malformed("target * is for OPTIONS only")
		}
		return &url.URL{Path: "*"}, nil
	}
	if method == http.MethodConnect && target[0] != '/' {
		// The authority form, host and port alone (RFC 9112 section
		// 3.2.3), which net/http puts in URL.Host; read as a URI, "y:443"
		// would have the scheme y. (A CONNECT with a path, as net/rpc
		// sends it, is in origin form.)
		u, err := url.ParseRequestURI("http://" + target)
		if err != nil || u.Host != target || u.Port() == "" {
			return nil, malformed("invalid CONNECT target " + quote(target))
		}
		u.Scheme = ""
		return u, nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, malformed("invalid request target " + quote(target))
	}
	return u, nil
}

// refuse answers a request that could not be read, if it can still be
// answered, and the connection then closes.
func (c *serverConn) refuse(err error) {
	var pe *protocolError
	if !errors.As(err, &pe) {
		return // the connection failed, timed out or ended: no one to tell
	}
	msg := strconv.Itoa(pe.status) + " " + http.StatusText(pe.status) + ": " + pe.msg
	b := c.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(pe.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(pe.status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, msg...)
	c.out = b
	c.setWriteDeadline(time.Now().Add(time.Second))
	c.bw.Write(b)
	c.bw.Flush()
	c.linger = true
}

// serveRequest runs the handler on r and completes its response w. It
// reports whether the connection can carry another request.
func (c *serverConn) serveRequest(w *response, r *http.Request, body *requestBody) (keep bool) {
	w.req, w.body, w.header, w.declared, w.closeAfter, w.isHead = r, body, make(http.Header, 4), -1, r.Close, r.Method == http.MethodHead
	defer func() {
		w.handlerDone.Store(true)
		w.ctx.end()
		if p := recover(); p != nil {
			if !c.hijacked {
				c.stopWatch()
			}
			// The connection closes; what the writer holds is sent
			// first (see serve): the answers to pipelined requests
			// before this one, and, if this one's head went out, part
			// of its body, which the client sees cut short.
			keep = false
			if p != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.log().Error("httprpc: handler panicked", "remote", c.remote, "panic", p, "stack", string(buf))
			}
		}
		if body != nil {
			body.c = nil
		}
		w.c = nil // a handler's goroutine that writes late gets an error
	}()
	if body == nil {
		c.setWatchable()
	}
	h := c.srv.Handler
	if r.Method == http.MethodOptions && r.RequestURI == "*" {
		h = globalOptions{} // as net/http answers it
	}
	h.ServeHTTP(w, r)
	w.handlerDone.Store(true) // before the response goes out
	w.ctx.end()
	if c.hijacked {
		return false
	}
	gone := c.stopWatch()
	w.finish(body)
	if c.fixedWriteDeadline {
		c.fixedWriteDeadline = false
		if c.srv.WriteTimeout <= 0 {
			c.nc.SetWriteDeadline(time.Time{})
		}
	}
	if c.readDeadlineSet {
		c.readDeadlineSet = false
		c.nc.SetReadDeadline(time.Time{}) // next sets the next one
	}
	if w.status < 400 {
		c.proven = true
	}
	return !w.closeAfter && !w.failed && !gone
}

// globalOptions answers "OPTIONS *", a question about the server rather
// than a resource (RFC 9110 section 9.3.7), as net/http does: 200, with no
// body, after reading a short request body.
type globalOptions struct{}

func (globalOptions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// requestBody is a request's Body: it reads the body from the connection's
// reader, first telling a client that expects it to go on (100 Continue).
type requestBody struct {
	c              *serverConn // nil once the handler returned
	b              bodyReader
	expectContinue bool
	noContinue     bool // the response began before the client was told to go on
	closed         bool
}

var (
	errBodyAfterHandler = errors.New("httprpc: request body read after its handler returned, or after Close")
	errNoContinue       = errors.New("httprpc: request body read after the response began: the client, which expected 100 Continue, was never told to send it")
)

func (b *requestBody) Read(p []byte) (int, error) {
	if b.c == nil || b.closed {
		return 0, errBodyAfterHandler
	}
	if b.noContinue {
		return 0, errNoContinue
	}
	if b.c.hijacked {
		return 0, http.ErrHijacked
	}
	if b.expectContinue {
		b.expectContinue = false
		b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := b.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	n, err := b.b.Read(p)
	if b.b.done {
		b.c.setWatchable() // the request is read whole
	}
	return n, err
}

// Close stops the handler from reading more; what is left is read or the
// connection closed once the handler returns.
func (b *requestBody) Close() error {
	b.closed = true
	return nil
}

// response is the http.ResponseWriter of one request, and holds its
// context.
type response struct {
	ctx     reqContext
	c       *serverConn // nil once the handler returned
	req     *http.Request
	body    *requestBody // nil for a request without a body
	header  http.Header
	status  int
	written int64 // body bytes the handler wrote
	// declared is the Content-Length the handler set, or -1.
	declared    int64
	wroteHeader bool // the status is fixed
	committed   bool // the head is in the connection's writer
	chunked     bool
	isHead      bool
	bodyless    bool // the status allows no body
	closeAfter  bool
	failed      bool // writing failed, or the message is broken
	hijacked    bool // the handler took the connection over
	pending     []byte
	// handlerDone says the handler returned, for a Hijack from another
	// goroutine, which must not touch the rest (as with net/http, whose
	// Hijack checks this much).
	handlerDone atomic.Bool
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.c == nil || w.wroteHeader || w.hijacked {
		return // net/http logs a superfluous call; it changes nothing
	}
	if code < 100 || code > 999 {
		panic("httprpc: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.interim(code)
		return
	}
	w.status = code
	w.wroteHeader = true
	w.bodyless = code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	if cl := w.header["Content-Length"]; len(cl) == 1 {
		if n, ok := parseLength(cl[0]); ok {
			w.declared = n
		} else {
			delete(w.header, "Content-Length")
		}
	} else if len(cl) > 1 {
		delete(w.header, "Content-Length")
	}
	if hasToken(w.header["Connection"], "close") {
		w.closeAfter = true
	}
}

// interim sends a 1xx response with the fields set so far.
func (w *response) interim(code int) {
	if w.req.ProtoMinor == 0 {
		return // HTTP/1.0 knows no interim responses
	}
	if code == http.StatusContinue && w.body != nil {
		// The client is told to go on now: the body's first read does
		// not tell it again (as with net/http).
		w.body.expectContinue = false
	}
	b := w.statusLine(w.c.out[:0], code)
	b = appendFields(b, w.header)
	b = append(b, "\r\n"...)
	w.c.out = b
	if _, err := w.c.bw.Write(b); err != nil {
		w.failed = true
		return
	}
	if err := w.c.bw.Flush(); err != nil {
		w.failed = true
	}
}

func (w *response) statusLine(b []byte, code int) []byte {
	if w.req.ProtoMinor == 0 {
		b = append(b, "HTTP/1.0 "...)
	} else {
		b = append(b, "HTTP/1.1 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if t := http.StatusText(code); t != "" {
		b = append(b, t...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

func (w *response) WriteString(s string) (int, error) {
	return w.write(len(s), nil, s)
}

func (w *response) Write(p []byte) (int, error) {
	return w.write(len(p), p, "")
}

// write writes a body chunk, given as p or as s.
func (w *response) write(n int, p []byte, s string) (int, error) {
	if w.c == nil {
		return 0, errAfterHandler
	}
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return 0, nil
	}
	if w.bodyless {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(n) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(n)
	if w.isHead {
		return n, nil
	}
	if w.failed {
		return 0, errWriteFailed
	}
	if !w.committed {
		if w.declared < 0 && len(w.pending)+n <= maxPending {
			// Held back until the handler returns, to send its length.
			if w.pending == nil {
				w.pending = w.c.out[:0]
			}
			if p != nil {
				w.pending = append(w.pending, p...)
			} else {
				w.pending = append(w.pending, s...)
			}
			w.c.out = w.pending
			return n, nil
		}
		w.commit(false, p, s)
	}
	var err error
	if w.chunked {
		err = w.writeChunk(p, s)
	} else if p != nil {
		_, err = w.c.bw.Write(p)
	} else {
		_, err = w.c.bw.WriteString(s)
	}
	if err != nil {
		w.failed = true
		return 0, err
	}
	return n, nil
}

var (
	errWriteFailed  = errors.New("httprpc: an earlier write of the response failed")
	errAfterHandler = errors.New("httprpc: response used after its handler returned")
)

// commit writes the response's head, with the held-back body, to the
// connection's writer. final says the handler returned, so the pending
// body is all there is; otherwise p or s is the body's next part, from
// which a missing Content-Type is guessed as net/http does.
func (w *response) commit(final bool, p []byte, s string) {
	c := w.c
	w.committed = true
	h := w.header
	delete(h, "Transfer-Encoding")
	length := int64(-1) // a length to send that the handler did not set
	switch {
	case w.bodyless:
		delete(h, "Content-Length")
	case w.declared >= 0:
	case w.isHead:
		if w.written > 0 {
			length = w.written
		}
	case final:
		length = w.written
		w.declared = w.written
	case w.req.ProtoMinor >= 1:
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0: the body runs to the connection's end
	}
	if c.srv.closing.Load() || c.expired() {
		w.closeAfter = true
	}
	if w.body != nil && w.body.expectContinue {
		// Answered without the body: the client may send it yet, or
		// never, so the connection's next bytes are unknown.
		w.body.expectContinue, w.body.noContinue = false, true
		w.closeAfter = true
	}
	if _, ok := h["Content-Type"]; !ok && !w.bodyless && w.written > 0 {
		var first []byte
		switch {
		case len(w.pending) > 0:
			first = w.pending
		case p != nil:
			first = p
		default:
			first = []byte(s[:min(len(s), 512)])
		}
		h["Content-Type"] = []string{http.DetectContentType(first)}
	}
	// The head is built after the pending body in the same scratch
	// buffer, so that both go out without another copy.
	buf := w.pending
	w.pending = nil
	if buf == nil {
		buf = c.out[:0]
	}
	b := w.statusLine(buf[len(buf):], w.status)
	b = appendFields(b, h)
	if length >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	}
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = append(b, c.dateValue()...)
		b = append(b, "\r\n"...)
	}
	if w.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case w.hijacked:
		// The handler speaks for the connection from now on.
	case w.closeAfter:
		if !hasToken(h["Connection"], "close") {
			b = append(b, "Connection: close\r\n"...)
		}
	case w.req.ProtoMinor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	bw := c.bw
	bw.Write(b)
	if len(buf) > 0 {
		if w.chunked {
			w.writeChunk(buf, "")
		} else {
			bw.Write(buf)
		}
	}
	if cap(b) > cap(buf)-len(buf) {
		c.out = b[:0] // the head outgrew the buffer: keep the new one
	} else {
		c.out = buf[:0]
	}
}

// writeChunk writes p, or s, as one chunk of a chunked body.
func (w *response) writeChunk(p []byte, s string) error {
	bw := w.c.bw
	n := len(p) + len(s)
	var hex [16]byte
	bw.Write(strconv.AppendUint(hex[:0], uint64(n), 16))
	bw.WriteString("\r\n")
	if p != nil {
		bw.Write(p)
	} else {
		bw.WriteString(s)
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// appendFields appends the fields of h, dropping any with a name that is
// no token, and turning control characters in values (line breaks above
// all) into spaces, so that no handler can split a response or send a
// field that strict clients refuse.
func appendFields(b []byte, h http.Header) []byte {
	for k, vs := range h {
		if !validToken(k) {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			for i := 0; i < len(v); i++ {
				ch := v[i]
				if (ch < ' ' && ch != '\t') || ch == 0x7f {
					ch = ' '
				}
				b = append(b, ch)
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// dateValue returns the Date field's value for now, formatted once a
// second.
func (c *serverConn) dateValue() []byte {
	now := time.Now()
	if sec := now.Unix(); sec != c.dateSec || c.date == nil {
		c.dateSec = sec
		c.date = now.UTC().AppendFormat(c.date[:0], http.TimeFormat)
	}
	return c.date
}

// Flush sends what the handler wrote so far; a body of unknown length is
// chunked from then on.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush that reports a failed write (http.ResponseController
// uses it).
func (w *response) FlushError() error {
	if w.c == nil {
		return errAfterHandler
	}
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false, nil, "")
	}
	if w.failed {
		return errWriteFailed
	}
	if err := w.c.bw.Flush(); err != nil {
		w.failed = true
		return err
	}
	return nil
}

// SetReadDeadline sets the connection's read deadline (for
// http.ResponseController), for reading the rest of the request's body.
func (w *response) SetReadDeadline(t time.Time) error {
	if w.c == nil {
		return errAfterHandler
	}
	if w.hijacked {
		return http.ErrHijacked
	}
	w.c.readDeadlineSet = true
	return w.c.nc.SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline (for
// http.ResponseController), in place of the write timeout, for the rest of
// the response; the zero t means none.
func (w *response) SetWriteDeadline(t time.Time) error {
	if w.c == nil {
		return errAfterHandler
	}
	if w.hijacked {
		return http.ErrHijacked
	}
	return w.c.setWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request's body after it began
// its response (for http.ResponseController). That is always allowed
// here: the server reads no unread body before the response begins, as
// net/http's does for HTTP/1 unless told otherwise.
func (w *response) EnableFullDuplex() error {
	if w.c == nil {
		return errAfterHandler
	}
	return nil
}

// Hijack hands the connection over to the handler (http.Hijacker), for a
// protocol of its own after an Upgrade, say: what the handler wrote of the
// response (a 101 Switching Protocols with its fields, typically) is sent
// first, the answers to earlier pipelined requests before it. The
// bufio.Reader returned holds the bytes already read past the request, and
// its Writer writes the connection. The connection's deadlines are cleared,
// and it leaves the server, as with net/http: the connection limits no
// longer count it, and Shutdown and Close leave it alone; the handler must
// close it. The request's context still ends when the handler returns.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.handlerDone.Load() {
		return nil, nil, errAfterHandler
	}
	c := w.c
	if c == nil {
		return nil, nil, errAfterHandler
	}
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.body != nil {
		// Whatever follows the head is the handler's to read: a client
		// that waits for 100 Continue is not told to go on.
		w.body.expectContinue = false
	}
	if w.failed {
		return nil, nil, errWriteFailed
	}
	w.hijacked = true // from here on the response is done with
	if w.wroteHeader && !w.committed {
		w.commit(false, nil, "")
	}
	if err := c.bw.Flush(); err != nil {
		w.failed = true
		return nil, nil, err
	}
	c.hijacked = true
	c.srv.forget(c)
	c.stopWatch() // a byte it read is c.br's
	c.fixedWriteDeadline = false
	c.nc.SetDeadline(time.Time{})
	return c.nc, bufio.NewReadWriter(c.br, bufio.NewWriter(c.nc)), nil
}

// finish completes the response once the handler returned. What the
// handler left of the request body is read first, up to maxDrain, so that
// a response not yet begun can say whether the connection stays open.
func (w *response) finish(body *requestBody) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if body != nil && !w.closeAfter && (body.expectContinue || body.noContinue || !body.b.discard(maxDrain)) {
		w.closeAfter = true
	}
	if body != nil && !body.b.done {
		w.c.linger = true
	}
	if !w.committed {
		w.commit(true, nil, "")
	} else if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	if !w.bodyless && !w.isHead && w.declared >= 0 && w.written < w.declared {
		// The body is shorter than it said: only closing tells the client.
		w.failed = true
	}
	if w.failed || w.closeAfter {
		return // serve flushes on its way out
	}
	if w.c.br.Buffered() == 0 {
		// No request waits behind this one: send the response now.
		if err := w.c.bw.Flush(); err != nil {
			w.failed = true
		}
	}
}
