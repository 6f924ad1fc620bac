package rpc

import (
	"context"
	"errors"
	"fmt"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"sync"
	"sync/atomic"
	"time"
)

// NewStreamClient returns a client that multiplexes concurrent calls over one
// stream from dial, matched to their replies by id: the client of a stream
// transport (tcprpc.NewClient is one). The stream is dialed at the first
// call and again for the calls after it broke; a dial under way does not
// hold up the calls on a stream already open, nor Close. If the stream is a
// wire.LeadStream, the calls read it themselves; otherwise a goroutine of
// the client does.
//
// With a codec whose messages carry no ids (wire.InOrder), a stream carries
// one call at a time instead: concurrent calls use up to 64 streams, which
// are kept open for the calls after.
func NewStreamClient(dial wire.Dialer, c Codec, opts ...Option) (*Client, error) {
	if dial == nil {
		return nil, errors.New("rpc: NewStreamClient: nil dialer")
	}
	if u, ok := c.(wire.InOrder); ok && u.InOrder() {
		return newClient(newStreamPool(dial, c, maxInOrderStreams), c, opts)
	}
	return newClient(&streamMux{dial: dial, codec: c}, c, opts)
}

// streamMux is the exchanger of a stream client whose codec's replies carry
// ids.
type streamMux struct {
	dial  wire.Dialer
	codec Codec

	mu      sync.Mutex
	conn    *muxConn
	dialing *dialing // the dial under way, if any
	closed  bool
}

// dialing is a dial under way, which the calls that need a stream meanwhile
// wait for.
type dialing struct {
	done   chan struct{}
	err    error // set before done is closed
	cancel context.CancelFunc
}

// muxConn is one dialed stream and the calls waiting on it.
type muxConn struct {
	s    wire.Stream
	lead wire.LeadStream // s, if calls read it; nil if a goroutine does

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
	// Nothing: the stream's WriteMessage watches the context, and the
	// call stops waiting by itself.
	phaseWriting = iota + 1
	phaseWaiting
	phaseLeading // interrupt the read under way
)

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan exchange, 2)} }}

// msgPool holds reply buffers between the reader and the calls that decode
// them.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// current returns the stream that calls go on, dialing it if need be. The
// dial runs outside m.mu: a dial that hangs holds up only the calls that
// wait for it, each within its own context, never Close.
func (m *streamMux) current(ctx context.Context) (*muxConn, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		if c := m.conn; c != nil {
			if err := c.usable(); err == nil {
				m.mu.Unlock()
				return c, nil
			} else {
				m.conn = nil
				m.mu.Unlock()
				c.fail(err)
				continue
			}
		}
		if d := m.dialing; d != nil {
			m.mu.Unlock()
			select {
			case <-d.done:
				if d.err != nil && !isContextError(d.err) {
					return nil, d.err // the server's answer holds for every call
				}
				continue // dial again, or take the stream it opened
			case <-ctx.Done():
				return nil, dialError(ctx, ctx.Err())
			}
		}
		dctx, cancel := context.WithCancel(ctx)
		d := &dialing{done: make(chan struct{}), cancel: cancel}
		m.dialing = d
		m.mu.Unlock()
		return m.dialFor(dctx, d)
	}
}

// dialFor dials the stream for d and makes it current.
func (m *streamMux) dialFor(ctx context.Context, d *dialing) (*muxConn, error) {
	s, err := m.dial(ctx)
	m.mu.Lock()
	defer func() {
		m.dialing = nil
		d.err = err
		close(d.done)
		m.mu.Unlock()
		d.cancel()
	}()
	switch {
	case m.closed:
		if s != nil {
			s.Close()
		}
		err = ErrClosed
		return nil, err
	case err != nil:
		err = dialError(ctx, err)
		return nil, err
	}
	c := &muxConn{s: s, pending: map[uint64]*waiter{}}
	if b, ok := s.(wire.BusyHinter); ok {
		b.SetBusy(func() bool { return c.calls.Load() > 1 })
	}
	if ls, ok := s.(wire.LeadStream); ok {
		c.lead = ls
	} else {
		go m.read(c)
	}
	m.conn = c
	return c, nil
}

// usable reports an error if c is known to be broken. Nobody reads a
// LeadStream that no call waits on, so nobody saw whether the peer closed
// it since the last call: it is looked at before a call is sent.
func (c *muxConn) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.lead != nil && !c.reading && len(c.pending) == 0 {
		if err := c.lead.CheckIdle(); err != nil {
			return fmt.Errorf("%w: %w", ErrConnectionLost, err)
		}
	}
	return nil
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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
		if errors.Is(err, wire.ErrReadInterrupted) {
			return exchange{}, nil, err
		}
		return exchange{}, nil, fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	seq, r, err := m.route(raw)
	if err != nil {
		releaseMsg(bp)
		return exchange{}, nil, fmt.Errorf("%w: unreadable reply: %w", ErrConnectionLost, err)
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
	if !ok && seq == 0 && len(c.pending) == 1 && (r == nil || r.Error != nil) {
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
			return m.abandoned(ctx, c, w)
		}
		x, to, err := m.readOne(c, w)
		switch {
		case errors.Is(err, wire.ErrReadInterrupted):
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

// abandoned ends a call whose context ended before its reply came, and
// tells the server with a wire.CancelMethod notification, so that its
// handler's context ends too; the reply, if it comes, answers no call and
// is dropped.
func (m *streamMux) abandoned(ctx context.Context, c *muxConn, w *waiter) (exchange, error) {
	if len(w.more) == 0 {
		cancel := &wire.Call{Method: wire.CancelMethod, Notification: true, Named: map[string]any{"id": w.seq}}
		if msg, err := m.codec.AppendCall(nil, cancel); err == nil {
			// Not on the caller's time: the write may have to wait
			// behind others.
			go c.s.WriteMessage(context.Background(), msg)
		}
	}
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
func (m *streamMux) route(raw []byte) (uint64, *wire.Reply, error) {
	if bc, ok := m.codec.(wire.BatchCodec); ok {
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

// onDone is what the end of a call's context does while the call reads the
// stream for every call: interrupt the read, which another call takes up.
// A write under way is left to the stream (see wire.Stream.WriteMessage):
// a half-written message cannot be taken back, and the calls whose messages
// a coalescing write carries with it must not fail because one of them gave
// up.
func (c *muxConn) onDone(w *waiter) {
	if w.phase.Load() == phaseLeading {
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
	if ctx.Done() != nil && c.lead != nil {
		stop = context.AfterFunc(ctx, func() { c.onDone(w) })
	}
	err = c.s.WriteMessage(ctx, msg)
	w.phase.Store(phaseWaiting)
	if err != nil {
		c.fail(fmt.Errorf("%w: %w", ErrConnectionLost, err))
	}
	var x exchange
	switch {
	case oneway:
	case err != nil:
		// w's failure, which c.fail sends; the turn to read, passed to w
		// before the stream failed, may come first: the stream is done
		// with, so it is let go.
		for x = <-w.ch; x.turn; x = <-w.ch {
		}
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
			return m.abandoned(ctx, c, w)
		}
	}
}

func (m *streamMux) close() error {
	m.mu.Lock()
	m.closed = true
	c := m.conn
	if m.dialing != nil {
		m.dialing.cancel()
	}
	m.mu.Unlock()
	if c != nil {
		c.fail(ErrClosed)
	}
	return nil
}

func (m *streamMux) inMessage() bool { return true }
