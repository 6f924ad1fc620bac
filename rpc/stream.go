package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Stream is a connection that carries whole messages both ways, such as the
// TCP transport's framed connections. A client multiplexes its calls over
// one Stream.
type Stream interface {
	// WriteMessage sends one message. It is called from many goroutines at
	// once and must not keep msg after it returns.
	WriteMessage(msg []byte) error
	// ReadMessage reads the next message, appending it to dst, which it may
	// grow. It is called from one goroutine at a time.
	ReadMessage(dst []byte) ([]byte, error)
	// Close closes the stream, making ReadMessage return. Close is idempotent.
	Close() error
}

// A Stream may also have a method SetBusy(busy func() bool), which a
// client calls once, before its first call: busy then reports whether calls
// other than the one writing are waiting on the stream, a hint for a stream
// that coalesces writes to hold a write back a moment for the calls about
// to be written (tcprpc's streams do).

// LeadStream is a Stream whose reading can be left to the calls waiting on
// it: the call that finds nobody reading reads, delivering the replies of
// other calls as they come, until its own arrives; then it hands the
// reading to another waiting call, if any. A caller that waits for each
// reply before sending its next call then reads its reply itself, which
// saves a hand-off between goroutines on every call. A client over a plain
// Stream reads it with a goroutine of its own.
type LeadStream interface {
	Stream
	// InterruptRead makes the ReadMessage under way, or else the next one,
	// return ErrReadInterrupted soon, without losing its place: the next
	// ReadMessage goes on with the message where it stopped. It is called
	// from any goroutine, when the context of the call reading ends.
	InterruptRead()
	// CheckIdle reports, without blocking, an error if the stream is known
	// to be unusable, such as closed by the peer while nobody read it. It is
	// called before a call is sent on a stream that nobody reads, never
	// during a ReadMessage.
	CheckIdle() error
}

// ErrReadInterrupted is returned by a LeadStream's ReadMessage after
// InterruptRead.
var ErrReadInterrupted = errors.New("rpc: read interrupted")

// busyHinted is a Stream with SetBusy (see Stream).
type busyHinted interface {
	SetBusy(busy func() bool)
}

// Dialer opens a Stream, within ctx's deadline.
type Dialer func(ctx context.Context) (Stream, error)

// ErrConnectionLost fails the calls in flight on a stream that broke. New
// calls dial a new stream.
var ErrConnectionLost = errors.New("rpc: connection lost")

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("rpc: client closed")

// NewStreamClient returns a client that multiplexes concurrent calls over one
// stream from dial, matched to their replies by id. The stream is dialed at
// the first call and again for the calls after it broke. If the stream is a
// LeadStream, the calls read it themselves; otherwise a goroutine of the
// client does.
//
// With a codec whose messages carry no ids (Unordered), a stream carries
// one call at a time instead: concurrent calls use up to
// MaxUnorderedStreams streams, which are kept open for the calls after.
func NewStreamClient(dial Dialer, c Codec) *Client {
	if u, ok := c.(Unordered); ok && u.Unordered() {
		return &Client{codec: c, ex: newStreamPool(dial, c, MaxUnorderedStreams)}
	}
	return &Client{codec: c, ordered: true, ex: &streamMux{dial: dial, codec: c}}
}

// streamMux is the exchanger of a stream client whose codec's replies carry
// ids.
type streamMux struct {
	dial  Dialer
	codec Codec

	mu     sync.Mutex
	conn   *muxConn
	closed bool
}

// muxConn is one dialed stream and the calls waiting on it.
type muxConn struct {
	s    Stream
	lead LeadStream // s, if calls read it; nil if a goroutine does

	mu      sync.Mutex
	pending map[uint64]*waiter
	err     error // set once the stream broke
	// reading is set while a call reads a LeadStream, or has been given
	// the turn to: leader.
	reading bool
	leader  *waiter
	// calls counts the calls waiting, for a stream's busy hint.
	calls atomic.Int32
}

// waiter is a call, or a batch under each of its ids, awaiting its reply.
// Waiters are pooled: one is reused only after its reply was received, so
// that no late delivery can reach its next user.
type waiter struct {
	seq  uint64
	more []uint64 // a batch's other ids
	// ch is buffered for the two things a waiter may be sent: its reply
	// (or the stream's failure), and the turn to read.
	ch    chan exchange
	phase atomic.Int32
}

// Phases of a call, for what the end of its context must do.
const (
	phaseWriting = iota + 1 // fail the stream: a half-sent call cannot be taken back
	phaseWaiting            // nothing: the call stops waiting by itself
	phaseLeading            // interrupt the read under way
)

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan exchange, 2)} }}

// msgPool holds reply buffers between the reader and the calls that decode
// them.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (m *streamMux) current(ctx context.Context) (*muxConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if c := m.conn; c != nil {
		c.mu.Lock()
		err := c.err
		if err == nil && c.lead != nil && !c.reading && len(c.pending) == 0 {
			// Nobody reads the stream, so nobody saw whether the peer
			// closed it since the last call: look before sending.
			if err = c.lead.CheckIdle(); err != nil {
				err = fmt.Errorf("%w: %v", ErrConnectionLost, err)
			}
		}
		c.mu.Unlock()
		if err == nil {
			return c, nil
		}
		c.fail(err)
	}
	// Dialing under the lock makes concurrent first calls share one dial.
	s, err := m.dial(ctx)
	if err != nil {
		return nil, dialError(ctx, err)
	}
	c := &muxConn{s: s, pending: map[uint64]*waiter{}}
	if b, ok := s.(busyHinted); ok {
		b.SetBusy(func() bool { return c.calls.Load() > 1 })
	}
	if ls, ok := s.(LeadStream); ok {
		c.lead = ls
	} else {
		go m.read(c)
	}
	m.conn = c
	return c, nil
}

// dialError is the error of a dial that failed: the context's, when it
// ended, with the dialer's, which tends to say only "i/o timeout".
func dialError(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
		cerr = context.DeadlineExceeded // the context's timer is a moment late
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %v", cerr, err)
	}
	return err
}

// read routes replies to their calls until the stream fails: the client's
// own reader of a plain Stream.
func (m *streamMux) read(c *muxConn) {
	for {
		x, to, err := m.readOne(c, nil)
		if err != nil {
			c.fail(err)
			return
		}
		if to != nil {
			to.ch <- x
		}
	}
}

// readOne reads a message and finds the call it answers, which it forgets;
// to is nil for a reply that answers no call waiting, which is released.
// If the reply is self's, the reading passes to another call.
func (m *streamMux) readOne(c *muxConn, self *waiter) (x exchange, to *waiter, err error) {
	bp := msgPool.Get().(*[]byte)
	raw, err := c.s.ReadMessage((*bp)[:0])
	*bp = raw
	if err != nil {
		releaseMsg(bp)
		if errors.Is(err, ErrReadInterrupted) {
			return exchange{}, nil, err
		}
		return exchange{}, nil, fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	seq, r, err := m.route(raw)
	if err != nil {
		releaseMsg(bp)
		return exchange{}, nil, fmt.Errorf("%w: unreadable reply: %v", ErrConnectionLost, err)
	}
	x = exchange{raw: raw, reply: r, buf: bp}
	c.mu.Lock()
	w, ok := c.pending[seq]
	if !ok && seq == 0 && r != nil && r.Error != nil && len(c.pending) > 1 {
		// An error the server could not address (a null id: it could
		// not read a call's id) answers one of the calls waiting, but
		// which is unknown: rather than leave them all waiting, fail the
		// stream, and with it every call waiting on it.
		c.mu.Unlock()
		err := fmt.Errorf("%w: the server answered a call it could not identify: %v", ErrConnectionLost, r.Error)
		x.release()
		return exchange{}, nil, err
	}
	if !ok && len(c.pending) == 1 && (r == nil || r.Error != nil) {
		// A reply the server could not address (an error with a null id)
		// goes to the only call waiting.
		for _, only := range c.pending {
			w, ok = only, true
		}
	}
	if ok {
		c.remove(w)
		if w == self {
			c.passTurn()
		}
	}
	c.mu.Unlock()
	if !ok {
		x.release()
		return exchange{}, nil, nil
	}
	return x, w, nil
}

// lead reads the stream for every call until w's own reply comes, the
// stream fails, or ctx ends.
func (m *streamMux) lead(ctx context.Context, c *muxConn, w *waiter) (exchange, error) {
	w.phase.Store(phaseLeading)
	for {
		// Checked after the phase is set: an end of ctx is seen here, or
		// interrupts the read below.
		if ctx.Err() != nil {
			c.mu.Lock()
			c.remove(w)
			c.passTurn()
			c.mu.Unlock()
			return m.abandoned(ctx)
		}
		x, to, err := m.readOne(c, w)
		switch {
		case errors.Is(err, ErrReadInterrupted):
			// For this call, or late, for a call that led before.
		case err != nil:
			c.fail(err)
			x := <-w.ch // w's failure
			return x, x.err
		case to == w:
			return x, nil
		case to != nil:
			to.ch <- x
		}
	}
}

// passTurn gives the reading to a call waiting, if any; c.mu is held.
func (c *muxConn) passTurn() {
	c.leader = nil
	for _, next := range c.pending {
		c.leader = next
		next.ch <- exchange{turn: true}
		return
	}
	c.reading = false
}

// abandoned ends a call whose context ended before its reply came; its
// reply, if it comes, answers no call and is dropped.
func (m *streamMux) abandoned(ctx context.Context) (exchange, error) {
	return exchange{}, ctx.Err()
}

// maxPooledMsg bounds the reply buffers kept for reuse.
const maxPooledMsg = 64 << 10

func releaseMsg(bp *[]byte) {
	if bp != nil && cap(*bp) <= maxPooledMsg {
		*bp = (*bp)[:0]
		msgPool.Put(bp)
	}
}

// route finds the call a reply belongs to and decodes the reply, unless it
// is a batch, whose items go back undecoded to Batch.
func (m *streamMux) route(raw []byte) (uint64, *Reply, error) {
	if bc, ok := m.codec.(BatchCodec); ok {
		items, isBatch, err := bc.SplitBatch(raw, 0)
		if err != nil {
			return 0, nil, err
		}
		if isBatch {
			for _, it := range items {
				r, err := decodeReply(m.codec, it)
				if err == nil && r.ID.Seq != 0 {
					seq := r.ID.Seq
					releaseReply(r)
					return seq, nil, nil
				}
				releaseReply(r)
			}
			return 0, nil, nil
		}
	}
	r, err := decodeReply(m.codec, raw)
	if err != nil {
		return 0, nil, err
	}
	return r.ID.Seq, r, nil
}

// remove forgets w under all its ids; c.mu is held.
func (c *muxConn) remove(w *waiter) {
	if c.pending[w.seq] == w {
		delete(c.pending, w.seq)
		c.calls.Add(-1)
	}
	for _, seq := range w.more {
		if c.pending[seq] == w {
			delete(c.pending, seq)
		}
	}
}

// fail ends every call waiting on c and closes the stream.
func (c *muxConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	var ended []*waiter
	for _, w := range c.pending {
		c.remove(w)
		ended = append(ended, w)
	}
	c.mu.Unlock()
	c.s.Close()
	for _, w := range ended {
		w.ch <- exchange{err: err}
	}
}

// writeGrace is how long a call whose context ended lets its write go on
// before it fails the stream.
const writeGrace = 20 * time.Millisecond

// onDone is what the end of a call's context does, by the call's phase. A
// write under way usually ends at once, and then the call returns the
// context's error by itself; but a write blocked on full socket buffers (a
// server that stopped reading) would ignore the context: if it is still
// under way after writeGrace, the stream is failed, which unblocks it. A
// half-written message cannot be taken back, so the connection goes; the
// calls on it fail with ErrConnectionLost and later calls redial.
func (c *muxConn) onDone(ctx context.Context, w *waiter) {
	switch w.phase.Load() {
	case phaseWriting:
		time.AfterFunc(writeGrace, func() {
			if w.phase.Load() == phaseWriting {
				c.fail(fmt.Errorf("%w: %v while sending a call", ErrConnectionLost, ctx.Err()))
			}
		})
	case phaseLeading:
		c.lead.InterruptRead()
	}
}

func (m *streamMux) exchange(ctx context.Context, seq uint64, more []uint64, msg []byte, oneway, batch bool) (exchange, error) {
	c, err := m.current(ctx)
	if err != nil {
		return exchange{}, err
	}
	w := waiterPool.Get().(*waiter)
	w.seq, w.more = seq, more
	if !oneway {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			w.more = nil
			waiterPool.Put(w)
			return exchange{}, err
		}
		c.pending[seq] = w
		c.calls.Add(1)
		for _, s := range more {
			c.pending[s] = w
		}
		c.mu.Unlock()
	}
	w.phase.Store(phaseWriting)
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.onDone(ctx, w) })
	}
	err = c.s.WriteMessage(msg)
	w.phase.Store(phaseWaiting)
	if err != nil {
		c.fail(fmt.Errorf("%w: %v", ErrConnectionLost, err))
	}
	var x exchange
	switch {
	case oneway:
	case err != nil:
		x = <-w.ch // w's failure
		err = x.err
	default:
		x, err = m.await(ctx, c, w)
	}
	if stop != nil && !stop() {
		// onDone runs or ran and may still look at w: leave it.
		return x, err
	}
	if err == nil || x.err != nil {
		// w got its reply or failure: nothing more can reach it.
		w.more = nil
		waiterPool.Put(w)
	}
	return x, err
}

// await waits for w's reply, reading the stream when it is w's turn.
func (m *streamMux) await(ctx context.Context, c *muxConn, w *waiter) (exchange, error) {
	c.mu.Lock()
	// w may have its reply already: a call that wrote the others' calls
	// with its own (the stream coalesces writes) can be the last to get
	// here, after the reader of the moment delivered its reply and left.
	if c.lead != nil && c.err == nil && !c.reading && c.pending[w.seq] == w {
		c.reading, c.leader = true, w
		c.mu.Unlock()
		return m.lead(ctx, c, w)
	}
	c.mu.Unlock()
	for {
		select {
		case x := <-w.ch:
			if x.turn {
				return m.lead(ctx, c, w)
			}
			return x, x.err
		case <-ctx.Done():
			c.mu.Lock()
			c.remove(w)
			if c.leader == w {
				c.passTurn() // w was given the turn, and leaves it
			}
			c.mu.Unlock()
			return m.abandoned(ctx)
		}
	}
}

func (m *streamMux) close() error {
	m.mu.Lock()
	m.closed = true
	c := m.conn
	m.mu.Unlock()
	if c != nil {
		c.fail(ErrClosed)
	}
	return nil
}
