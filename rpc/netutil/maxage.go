package netutil

import (
	"errors"
	"math/rand/v2"
	"net"
	"time"
)

// MaxAge returns a listener whose connections expire once they are older
// than d, less up to a tenth of d drawn at random for each, so that the
// connections of a fleet of clients, opened together, do not all close
// together. A d of zero or less returns ln itself: no maximum age.
//
// A connection does nothing itself when it expires: its methods
// Expired() bool and ExpiresAt() time.Time tell the server, which closes it
// gracefully. The servers of tcprpc and httprpc look for these methods on
// the connections they serve, under *tls.Conn and other wrappers with a
// NetConn method:
//
//   - tcprpc closes a connection once it is expired and has no call in
//     flight: when its last reply is written, or at its expiry if it is
//     idle then. A client sees the close before its next call and dials
//     again, which a balancer may send elsewhere. A connection whose calls
//     overlap without a pause lives on until they pause.
//   - httprpc's server, on either engine, sends Connection: close with the
//     first response whose head goes out past the expiry (over HTTP/1 on
//     net/http's engine: the first request that begins past it), and closes
//     an HTTP/1 connection that is idle at its expiry, or goes idle past
//     it. On HTTP/2 (net/http's
//     server on either engine) that response makes net/http send GOAWAY, and
//     the connection closes once its streams are done. An HTTP/2 connection
//     idle at its expiry stays open until its next response, or until the
//     idle timeout ends it with GOAWAY: net/http can send GOAWAY on one
//     connection only that way, and closing it without would fail a request
//     the client may be sending at that moment. (It carries no load to
//     spread while idle.)
//
// A connection closed idle may cross the client's next call or request on
// the wire, as with any idle timeout: stream clients look at a kept
// connection before they use it, and HTTP/1 clients retry what the server
// did not read, but a call sent in that instant fails with a lost
// connection.
func MaxAge(ln net.Listener, d time.Duration) net.Listener {
	if d <= 0 {
		return ln
	}
	return &ageListener{Listener: ln, d: d}
}

type ageListener struct {
	net.Listener
	d time.Duration
}

func (l *ageListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	age := l.d
	if j := l.d / 10; j > 0 {
		age -= rand.N(j + 1)
	}
	return &ageConn{Conn: nc, expires: time.Now().Add(age)}, nil
}

// ageConn is a connection of an ageListener.
type ageConn struct {
	net.Conn
	expires time.Time
}

// Expired reports whether the connection is past its maximum age.
func (c *ageConn) Expired() bool { return !time.Now().Before(c.expires) }

// ExpiresAt returns when the connection reaches its maximum age.
func (c *ageConn) ExpiresAt() time.Time { return c.expires }

// NetConn returns the connection c wraps.
func (c *ageConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection, if the one it wraps can (TCP):
// servers do so before closing a connection with a last answer.
func (c *ageConn) CloseWrite() error { return closeWrite(c.Conn) }

func closeWrite(nc net.Conn) error {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
