package tcprpc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/netpeek"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// newStream frames a client's messages over nc, as cfg says. Writes from
// many goroutines are coalesced. The stream is a wire.LeadStream: the calls
// of a client read it themselves.
func newStream(nc net.Conn, cfg *config) *stream {
	_, isTLS := nc.(*tls.Conn)
	w := frame.NewWriter(nc)
	w.SetWriteTimeout(cfg.writeTimeout)
	return &stream{
		nc: nc, r: bufio.NewReaderSize(nc, 4096), w: w, max: cfg.maxMessage, need: -1,
		peek: netpeek.New(nc), tls: isTLS, first: cfg.clientHandshake == nil,
	}
}

type stream struct {
	nc   net.Conn
	r    *bufio.Reader
	w    *frame.Writer
	max  int
	peek *netpeek.Peeker
	tls  bool
	// first is set until the first frame of a connection without a
	// handshake is read, which may show that the server wants one.
	first bool

	// A read interrupted inside a frame goes on from here: need is the
	// length of the payload under way (-1 between frames), partial what
	// arrived of it.
	need    int
	partial []byte

	mu         sync.Mutex
	interrupts int // InterruptRead calls not yet seen by a read
}

// WriteMessage writes msg, or queues it behind the write under way (see
// frame.Writer.WriteFrame for what ctx does).
func (s *stream) WriteMessage(ctx context.Context, msg []byte) error {
	return s.w.WriteFrame(ctx, msg)
}

// SetBusy is called by rpc.NewStreamClient before the first call: busy
// reports whether calls other than the one writing are waiting, and the
// writer then gives them a moment to join its write (frame.Writer.SetBusy).
func (s *stream) SetBusy(busy func() bool) { s.w.SetBusy(busy) }

func (s *stream) ReadMessage(dst []byte) ([]byte, error) {
	if s.need < 0 {
		n, err := frame.ReadHeader(s.r, s.max)
		if err != nil {
			return dst, s.headerError(err)
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
	if s.first {
		s.first = false
		if bytes.HasPrefix(dst[start:], []byte(challenge)) {
			return dst[:start], authRequired()
		}
	}
	return dst, nil
}

// challenge starts the first message of a server that authenticates its
// clients (package auth).
const challenge = "#CHALLENGE#"

// authRequired is the error of a client without a handshake that meets a
// server with one.
func authRequired() error {
	return &rpc.Error{
		Code:    rpc.CodeUnauthenticated,
		Message: "tcprpc: the server requires authentication (it sent " + challenge + "): give the client a key (WithClientHandshake and auth.Client)",
	}
}

// headerError explains the error of a frame header: bytes of another
// protocol, or a server that closed a new connection without a word.
func (s *stream) headerError(err error) error {
	if errors.Is(err, frame.ErrTooLarge) || errors.Is(err, frame.ErrBadHeader) {
		b, _ := s.r.Peek(4) // the header refused is left unread
		switch netpeek.Foreign(b) {
		case "TLS":
			return fmt.Errorf("tcprpc: the server speaks TLS: use tls:// (WithTLS): %w", err)
		case "HTTP":
			return fmt.Errorf("tcprpc: the server speaks HTTP: use http:// or https:// (package httprpc): %w", err)
		}
		return err
	}
	if s.first && isClosed(err) {
		return fmt.Errorf("tcprpc: the server closed the connection without a reply: does it speak TLS (use tls://), want a handshake, or refuse connections? %w", err)
	}
	return s.readError(err)
}

// readError turns the timeout that InterruptRead caused into
// wire.ErrReadInterrupted, and clears the deadline for the next read.
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
	return wire.ErrReadInterrupted
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
