package tcprpc

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// NewStream frames messages over nc, reading frames of at most maxFrame
// bytes. Writes from many goroutines are coalesced. The stream is an
// rpc.LeadStream: the calls of a client read it themselves.
func NewStream(nc net.Conn, maxFrame int) rpc.Stream {
	return &stream{nc: nc, r: bufio.NewReaderSize(nc, 4096), w: frame.NewWriter(nc), max: maxFrame, need: -1, peek: newPeeker(nc)}
}

type stream struct {
	nc   net.Conn
	r    *bufio.Reader
	w    *frame.Writer
	max  int
	peek *peeker

	// A read interrupted inside a frame goes on from here: need is the
	// length of the payload under way (-1 between frames), partial what
	// arrived of it.
	need    int
	partial []byte

	mu         sync.Mutex
	interrupts int // InterruptRead calls not yet seen by a read
}

func (s *stream) WriteMessage(msg []byte) error { return s.w.WriteFrame(msg) }

// SetBusy is called by rpc.NewStreamClient before the first call: busy
// reports whether calls other than the one writing are waiting, and the
// writer then gives them a moment to join its write (frame.Writer.SetBusy).
func (s *stream) SetBusy(busy func() bool) { s.w.SetBusy(busy) }

func (s *stream) ReadMessage(dst []byte) ([]byte, error) {
	if s.need < 0 {
		n, err := frame.ReadHeader(s.r, s.max)
		if err != nil {
			return dst, s.readError(err)
		}
		s.need = n
	}
	start := len(dst)
	dst = append(dst, s.partial...)
	dst, err := frame.ReadPayload(s.r, dst, s.need-len(s.partial))
	if err != nil {
		s.partial = append(s.partial[:0], dst[start:]...)
		return dst[:start], s.readError(err)
	}
	s.need = -1
	if cap(s.partial) > 64<<10 {
		s.partial = nil
	}
	s.partial = s.partial[:0]
	return dst, nil
}

// readError turns the timeout that InterruptRead caused into
// rpc.ErrReadInterrupted, and clears the deadline for the next read.
func (s *stream) readError(err error) error {
	if !isTimeout(err) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.interrupts == 0 {
		return err
	}
	s.interrupts = 0
	s.nc.SetReadDeadline(noDeadline)
	return rpc.ErrReadInterrupted
}

// longAgo is a deadline in the past.
var longAgo = time.Unix(1, 0)

func (s *stream) InterruptRead() {
	s.mu.Lock()
	s.interrupts++
	s.nc.SetReadDeadline(longAgo)
	s.mu.Unlock()
}

func (s *stream) CheckIdle() error {
	if s.need >= 0 || s.r.Buffered() > 0 {
		return nil // a message is on its way: the next call reads it
	}
	return s.peek.peerClosed()
}

func (s *stream) Close() error { return s.nc.Close() }
