package netutil

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxPending bounds the connections between the accept of the listener
// under a ProxyProtocol listener and its own Accept: reading their headers,
// or waiting for the server to take them.
const maxPending = 256

// ProxyProtocol returns a listener that reads the PROXY protocol header,
// version 1 (text) or 2 (binary), that a proxy such as HAProxy
// (send-proxy, send-proxy-v2) or nginx (proxy_protocol on) sends ahead of
// each connection, from the sources in trusted alone. The connection
// it returns then has the client's address as its RemoteAddr, which
// rpc.Peer, the limits per address and the logs see, and the address the
// client connected to on the proxy as its LocalAddr.
//
// A connection from a trusted source may also come without a header: a
// proxy's health check, say. Nor do the v2 command LOCAL (the proxy's own
// connection), v1's UNKNOWN, or a v2 header of the unspecified or Unix
// address family change the connection's addresses. The TLVs of a v2
// header are skipped. The header must come whole within the header timeout
// of the accept (WithHeaderTimeout, 5 s); a trusted source that sends
// nothing at all by then has its connection served as it is.
//
// A header from any other source closes the connection, as do a malformed
// header, one over the protocol's size (107 bytes for v1; this package
// takes up to 4 KiB for v2) and one still incomplete at the timeout; each
// is logged (WithLogger), once per source address and reason with counts.
// Only IP addresses can be trusted, not a Unix socket's peers.
//
// The headers are read in a goroutine per connection: a slow one holds up
// no other. A connection from a source that is not trusted is handed to
// Accept at once, and its first Read looks for a header (a server that
// speaks first is not held up). At most 256 connections wait between their
// accept and Accept: past that the listener stops accepting until the
// server takes one, and new connections wait in the listen backlog.
//
// ProxyProtocol fails for a nil ln, an invalid prefix and an invalid
// option.
func ProxyProtocol(ln net.Listener, trusted []netip.Prefix, opts ...Option) (net.Listener, error) {
	if ln == nil {
		return nil, errors.New("netutil: ProxyProtocol: nil listener")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	prefixes, err := normalize(trusted)
	if err != nil {
		return nil, errors.New("netutil: ProxyProtocol: " + err.Error())
	}
	return &proxyListener{
		Listener: ln,
		cfg:      cfg,
		trusted:  prefixes,
		log:      newRefusals(cfg.log),
		ready:    make(chan net.Conn),
		errc:     make(chan error),
		slots:    make(chan struct{}, maxPending),
		done:     make(chan struct{}),
		reading:  map[net.Conn]struct{}{},
	}, nil
}

// normalize returns the prefixes masked, with IPv4-mapped IPv6 prefixes as
// IPv4 ones, or an error for an invalid one.
func normalize(ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			return nil, errors.New("invalid prefix " + quote(p.String()))
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// contains reports whether addr, an IP address with a port or without,
// is in one of ps.
func contains(ps []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ipOf returns the IP address of a connection's address, if it has one.
func ipOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

type proxyListener struct {
	net.Listener
	cfg     config
	trusted []netip.Prefix
	log     *refusals

	start sync.Once     // of acceptLoop, at the first Accept
	ready chan net.Conn // connections for Accept
	errc  chan error    // an error of the accept that may pass
	slots chan struct{} // a token per connection not yet taken by Accept
	done  chan struct{} // closed when the listener is closed or failed

	mu      sync.Mutex
	err     error                 // what Accept returns once done
	reading map[net.Conn]struct{} // connections whose header is read
}

func (l *proxyListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.ready:
		<-l.slots
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, l.err
	}
}

// Close closes the listener and the connections whose header is being
// read or that wait for Accept.
func (l *proxyListener) Close() error {
	l.fail(net.ErrClosed)
	err := l.Listener.Close()
	l.log.close()
	return err
}

// fail ends Accept with err, unless it ended already.
func (l *proxyListener) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.err = err
	close(l.done)
	for nc := range l.reading {
		nc.Close()
	}
}

// acceptLoop accepts connections while there are slots for them, each
// handled in a goroutine of its own.
func (l *proxyListener) acceptLoop() {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return
		}
		nc, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			if isTemporary(err) {
				// The server's Accept gets it, and backs off as it does:
				// out of file descriptors, say.
				select {
				case l.errc <- err:
					continue
				case <-l.done:
					return
				}
			}
			l.fail(err)
			return
		}
		go l.handle(nc)
	}
}

// isTemporary reports accept errors worth retrying.
func isTemporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// handle reads the header of a connection from a trusted source, and
// hands the connection to Accept, or closes it.
func (l *proxyListener) handle(nc net.Conn) {
	if !contains(l.trusted, ipOf(nc.RemoteAddr())) {
		l.deliver(&conn{Conn: nc, check: l})
		return
	}
	if !l.track(nc, true) {
		nc.Close()
		<-l.slots
		return
	}
	c, err := l.readHeader(nc)
	l.track(nc, false)
	if err != nil {
		if kind := refusalKind(err); kind != "" && !l.isClosed() {
			l.log.refused(nc.RemoteAddr(), kind, err)
		}
		nc.Close()
		<-l.slots
		return
	}
	l.deliver(c)
}

func (l *proxyListener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// track adds nc to the connections being read, or removes it; it reports
// false if the listener is closed.
func (l *proxyListener) track(nc net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !add {
		delete(l.reading, nc)
		return true
	}
	if l.err != nil {
		return false
	}
	l.reading[nc] = struct{}{}
	return true
}

// deliver hands c to Accept, or closes it if the listener is closed.
func (l *proxyListener) deliver(c net.Conn) {
	select {
	case l.ready <- c:
	case <-l.done:
		c.Close()
		<-l.slots
	}
}

// Errors of a connection whose header did not come, or came from the wrong
// source.
var (
	errUntrusted    = errors.New("netutil: PROXY header from a source that is not trusted")
	errSlow         = errors.New("PROXY header incomplete at the header timeout")
	errTruncated    = errors.New("connection ended inside its PROXY header")
	errClosedAtOnce = errors.New("connection ended before it sent anything")
)

// refusalKind is the reason a connection is refused for err, as logged; ""
// for one not worth a line: a connection that closed at once (a proxy's
// health check that only connects).
func refusalKind(err error) string {
	switch {
	case errors.Is(err, errUntrusted):
		return "untrusted source"
	case errors.Is(err, errOversized):
		return "oversized header"
	case errors.Is(err, errMalformed):
		return "malformed header"
	case errors.Is(err, errSlow):
		return "slow header"
	case errors.Is(err, errTruncated):
		return "truncated header"
	}
	return ""
}

// readHeader reads the header of nc, from a trusted source, and returns
// the connection to serve.
func (l *proxyListener) readHeader(nc net.Conn) (net.Conn, error) {
	nc.SetReadDeadline(time.Now().Add(l.cfg.headerTimeout))
	b := make([]byte, 0, 256)
	for {
		h, n, err := parseHeader(b)
		if err == nil {
			if err := nc.SetReadDeadline(time.Time{}); err != nil {
				return nil, err
			}
			c := &conn{Conn: nc}
			if h.src.IsValid() {
				c.remote = net.TCPAddrFromAddrPort(h.src)
				c.local = net.TCPAddrFromAddrPort(h.dst)
			}
			if len(b) > n {
				c.buf = b[n:]
			} else {
				c.plain.Store(true)
			}
			return c, nil
		}
		if err != errIncomplete {
			return nil, err
		}
		if len(b) == cap(b) {
			if cap(b) >= v2Max {
				return nil, &headerError{errOversized, "no end within " + quote(string(b[:16]))}
			}
			b = append(make([]byte, 0, min(2*cap(b), v2Max)), b...)
		}
		m, err := nc.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		switch {
		case m > 0 || err == nil:
		case isTimeout(err) && len(b) == 0:
			// Nothing came: served without a header, as a connection
			// from this source may be.
			if err := nc.SetReadDeadline(time.Time{}); err != nil {
				return nil, err
			}
			c := &conn{Conn: nc}
			c.plain.Store(true)
			return c, nil
		case isTimeout(err):
			return nil, errSlow
		case len(b) == 0:
			return nil, errClosedAtOnce
		default:
			return nil, errors.Join(errTruncated, err)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// conn is a connection of a ProxyProtocol listener.
type conn struct {
	net.Conn
	remote, local net.Addr // the header's, or nil: Conn's

	// plain is set once reads go to Conn: what was read ahead is returned
	// and, for a source that is not trusted, the first bytes were looked at.
	plain atomic.Bool
	mu    sync.Mutex
	check *proxyListener // set until the first bytes were looked at
	buf   []byte         // read ahead, returned first
	err   error          // of a connection refused by its first bytes
}

func (c *conn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

func (c *conn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

// NetConn returns the connection c wraps.
func (c *conn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection, if the one it wraps can (TCP).
func (c *conn) CloseWrite() error { return closeWrite(c.Conn) }

func (c *conn) Read(p []byte) (int, error) {
	if c.plain.Load() {
		return c.Conn.Read(p)
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, c.err
	}
	if c.check != nil {
		if err := c.lookAtFirstBytes(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
	}
	if len(c.buf) == 0 {
		c.plain.Store(true)
		c.mu.Unlock()
		return c.Conn.Read(p)
	}
	n := copy(p, c.buf)
	if c.buf = c.buf[n:]; len(c.buf) == 0 {
		c.buf = nil
		c.plain.Store(true)
	}
	c.mu.Unlock()
	return n, nil
}

// lookAtFirstBytes reads the first bytes of a connection from a source
// that is not trusted, as far as needed to tell whether they begin a PROXY
// header, and refuses the connection if they do; c.mu is held.
func (c *conn) lookAtFirstBytes() error {
	if c.buf == nil {
		c.buf = make([]byte, 0, 16)
	}
	for {
		b := c.buf
		switch {
		case len(b) >= len(v1Sig) && string(b[:len(v1Sig)]) == v1Sig,
			len(b) >= len(v2Sig) && string(b[:len(v2Sig)]) == v2Sig:
			c.err = errUntrusted
			c.check.log.refused(c.Conn.RemoteAddr(), refusalKind(errUntrusted), errUntrusted)
			c.check, c.buf = nil, nil
			c.Conn.Close()
			return c.err
		case len(b) > 0 && !hasSigPrefix(b, v1Sig) && !hasSigPrefix(b, v2Sig):
			c.check = nil // no header: the bytes are the connection's
			return nil
		}
		m, err := c.Conn.Read(b[len(b):cap(b)])
		c.buf = b[:len(b)+m]
		if m == 0 && err != nil {
			if len(c.buf) == 0 {
				return err // nothing yet: look again at the next Read
			}
			// A beginning of a signature, then the end or a timeout:
			// no header. The error comes again at the next Read.
			c.check = nil
			return nil
		}
	}
}
