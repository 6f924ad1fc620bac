//go:build unix

package tcprpc

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// peeker looks, without blocking or consuming anything, whether the peer
// of a connection closed or reset it. It is made once per connection, so
// that looking allocates nothing.
type peeker struct {
	rc   syscall.RawConn
	look func(fd uintptr) bool
	n    int
	err  error
	b    [1]byte
}

func newPeeker(nc net.Conn) *peeker {
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
	p := &peeker{rc: rc}
	p.look = func(fd uintptr) bool {
		p.n, _, p.err = syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}
	return p
}

// peerClosed reports io.EOF if the peer closed the connection, the error
// if it was reset, and nil if it is open or p cannot tell.
func (p *peeker) peerClosed() error {
	if p == nil {
		return nil
	}
	if err := p.rc.Read(p.look); err != nil {
		return err
	}
	switch {
	case p.err == nil && p.n == 0:
		return io.EOF
	case p.err == nil, errors.Is(p.err, syscall.EAGAIN), errors.Is(p.err, syscall.EINTR):
		return nil
	}
	return p.err
}
