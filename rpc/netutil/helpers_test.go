package netutil_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// pipeListener is a listener of in-memory connections from any address,
// for tests in a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return tcpAddr("192.0.2.100:9000") }

// dial returns the client's end of a new connection from remote, once the
// listener accepted it.
func (l *pipeListener) dial(remote string) net.Conn {
	c, s := net.Pipe()
	l.conns <- &addrConn{Conn: s, local: tcpAddr("192.0.2.100:9000"), remote: tcpAddr(remote)}
	return c
}

type addrConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *addrConn) LocalAddr() net.Addr  { return c.local }
func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

func tcpAddr(s string) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s))
}

func prefixes(ps ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// logged records what a logger logs.
type logged struct {
	mu      sync.Mutex
	records []record
}

type record struct {
	msg   string
	attrs map[string]string
}

func (l *logged) logger() *slog.Logger { return slog.New(&logHandler{l}) }

// lines returns the records whose message contains msg.
func (l *logged) lines(msg string) []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []record
	for _, r := range l.records {
		if strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

type logHandler struct{ l *logged }

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *logHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logHandler) WithGroup(string) slog.Handler            { return h }
func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := record{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.records = append(h.l.records, rec)
	h.l.mu.Unlock()
	return nil
}
