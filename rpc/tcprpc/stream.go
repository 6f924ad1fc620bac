package tcprpc

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/netpeek"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// NewStream frames messages over nc, reading frames of at most maxFrame
// bytes. Writes from many goroutines are coalesced. The stream is an
// rpc.LeadStream: the calls of a client read it themselves.
func NewStream(nc net.Conn, maxFrame int) rpc.Stream {
	_, isTLS := nc.(*tls.Conn)
	return &stream{nc: nc, r: bufio.NewReaderSize(nc, 4096), w: frame.NewWriter(nc), max: maxFrame, need: -1, peek: netpeek.New(nc), tls: isTLS}
}

type stream struct {
	nc   net.Conn
	r    *bufio.Reader
	w    *frame.Writer
	max  int
	peek *netpeek.Peeker
	tls  bool

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
	if cap(s.partial) > maxPooled {
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

// tlsLook bounds the wait for the rest of a TLS record seen waiting on an
// idle connection.
const tlsLook = 5 * time.Millisecond

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
	pending, err := s.peek.Look()
	if err != nil || !pending || !s.tls {
		return err
	}
	// Over TLS the bytes waiting may be a record the TLS layer keeps to
	// itself, such as a session ticket, or the peer's close_notify: let it
	// read them, waiting at most a moment for the rest of a record. An
	// interrupted read resumes, so nothing is lost if a message has begun
	// to arrive instead.
	s.mu.Lock()
	s.nc.SetReadDeadline(time.Now().Add(tlsLook))
	s.mu.Unlock()
	_, err = s.r.Peek(1)
	s.mu.Lock()
	if s.interrupts == 0 {
		s.nc.SetReadDeadline(noDeadline)
	}
	s.mu.Unlock()
	if err == nil || isTimeout(err) {
		return nil
	}
	return err
}

func (s *stream) Close() error { return s.nc.Close() }
