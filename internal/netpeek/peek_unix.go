//go:build unix

package netpeek

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// A Peeker looks, without blocking or consuming anything, whether the peer
// of a connection closed or reset it. It is made once per connection, so
// that looking allocates nothing.
type Peeker struct {
	rc    syscall.RawConn
	look1 func(fd uintptr) bool
	n     int
	err   error
	b     [1]byte
}

func New(nc net.Conn) *Peeker {
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = t.NetConn() // TLS: look at the connection under it
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &Peeker{rc: rc}
	p.look1 = func(fd uintptr) bool {
		p.n, _, p.err = syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}
	return p
}

// Look reports io.EOF if the peer closed the connection, the error if it
// was reset, and whether bytes wait to be read; nil and false if p cannot
// tell.
func (p *Peeker) Look() (pending bool, err error) {
	if p == nil {
		return false, nil
	}
	if err := p.rc.Read(p.look1); err != nil {
		return false, err
	}
	switch {
	case p.err == nil && p.n == 0:
		return false, io.EOF
	case p.err == nil:
		return true, nil
	case errors.Is(p.err, syscall.EAGAIN), errors.Is(p.err, syscall.EINTR):
		return false, nil
	}
	return false, p.err
}
