package httpengine

import (
	"net"
	"sync"
)

// PipeListener is a net.Listener of in-memory connections, for tests in a
// synctest bubble, where time is fake and sockets cannot be used. It is
// exported for the package's black-box tests.
type PipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *PipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

// Dial returns the client's end of a new connection.
func (l *PipeListener) Dial() net.Conn {
	c, s := net.Pipe()
	l.conns <- s
	return c
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
