package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// Dialer opens a Stream, within ctx's deadline.
type Dialer func(ctx context.Context) (Stream, error)

// ErrConnectionLost fails the calls in flight on a stream that broke. New
// calls dial a new stream.
var ErrConnectionLost = errors.New("rpc: connection lost")

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("rpc: client closed")

// NewStreamClient returns a client that multiplexes concurrent calls over one
// stream from dial, matched to their replies by id. The stream is dialed at
// the first call and again for the calls after it broke. With a codec whose
// messages carry no ids (Unordered), calls go one at a time.
func NewStreamClient(dial Dialer, c Codec) *Client {
	cl := &Client{codec: c}
	u, ok := c.(Unordered)
	cl.ordered = !(ok && u.Unordered())
	cl.ex = &streamMux{dial: dial, codec: c, ordered: cl.ordered, turn: make(chan struct{}, 1)}
	return cl
}

// streamMux is the exchanger of a stream client.
type streamMux struct {
	dial    Dialer
	codec   Codec
	ordered bool
	// turn serialises calls when replies cannot be matched by id.
	turn chan struct{}

	mu     sync.Mutex
	conn   *muxConn
	closed bool
}

// muxConn is one dialed stream and the calls waiting on it.
type muxConn struct {
	s       Stream
	mu      sync.Mutex
	pending map[uint64]*waiter
	err     error // set once the stream broke
}

// waiter is a call, or a batch under each of its ids, awaiting its reply.
// Waiters are pooled: one is reused only after its reply was received, so
// that no late delivery can reach its next user.
type waiter struct {
	seq  uint64
	more []uint64      // a batch's other ids
	ch   chan exchange // buffered: the reader never blocks on it
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan exchange, 1)} }}

// msgPool holds reply buffers between the reader and the calls that decode
// them.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (m *streamMux) current(ctx context.Context) (*muxConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.conn != nil {
		m.conn.mu.Lock()
		broken := m.conn.err != nil
		m.conn.mu.Unlock()
		if !broken {
			return m.conn, nil
		}
	}
	// Dialing under the lock makes concurrent first calls share one dial.
	s, err := m.dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &muxConn{s: s, pending: map[uint64]*waiter{}}
	m.conn = c
	go m.read(c)
	return c, nil
}

// read routes replies to their calls until the stream fails.
func (m *streamMux) read(c *muxConn) {
	for {
		bp := msgPool.Get().(*[]byte)
		raw, err := c.s.ReadMessage((*bp)[:0])
		*bp = raw
		if err != nil {
			releaseMsg(bp)
			c.fail(fmt.Errorf("%w: %v", ErrConnectionLost, err))
			return
		}
		seq, r, err := m.route(raw)
		if err != nil {
			releaseMsg(bp)
			c.fail(fmt.Errorf("%w: unreadable reply: %v", ErrConnectionLost, err))
			return
		}
		x := exchange{raw: raw, reply: r, buf: bp}
		c.mu.Lock()
		w, ok := c.pending[seq]
		if !ok && len(c.pending) == 1 && (!m.ordered || r == nil || r.Error != nil) {
			// A reply the server could not address (an error with a null id,
			// or an unordered codec's reply) goes to the only call waiting.
			for _, only := range c.pending {
				w, ok = only, true
			}
		}
		if ok {
			c.remove(w)
		}
		c.mu.Unlock()
		if ok {
			w.ch <- x
		} else {
			x.release()
		}
	}
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
	if !m.ordered {
		return 0, r, nil
	}
	return r.ID.Seq, r, nil
}

// remove forgets w under all its ids; c.mu is held.
func (c *muxConn) remove(w *waiter) {
	if c.pending[w.seq] == w {
		delete(c.pending, w.seq)
	}
	for _, seq := range w.more {
		if c.pending[seq] == w {
			delete(c.pending, seq)
		}
	}
}

// write sends msg. A write blocked on full socket buffers (a server that
// stopped reading) would ignore the call's context: if the context ends
// while the write is under way, the stream is failed, which unblocks it. A
// half-written message cannot be taken back, so the connection goes; the
// calls on it fail with ErrConnectionLost and later calls redial.
func (c *muxConn) write(ctx context.Context, msg []byte) error {
	if ctx.Done() == nil {
		return c.s.WriteMessage(msg)
	}
	var written atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		if !written.Load() {
			c.fail(fmt.Errorf("%w: %v while sending a call", ErrConnectionLost, ctx.Err()))
		}
	})
	err := c.s.WriteMessage(msg)
	written.Store(true)
	stop()
	return err
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

func (m *streamMux) exchange(ctx context.Context, seq uint64, more []uint64, msg []byte, oneway, batch bool) (exchange, error) {
	if !m.ordered && !oneway {
		select {
		case m.turn <- struct{}{}:
			defer func() { <-m.turn }()
		case <-ctx.Done():
			return exchange{}, ctx.Err()
		}
	}
	c, err := m.current(ctx)
	if err != nil {
		return exchange{}, err
	}
	var w *waiter
	if !oneway {
		w = waiterPool.Get().(*waiter)
		w.seq, w.more = seq, more
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			waiterPool.Put(w)
			return exchange{}, err
		}
		c.pending[seq] = w
		for _, s := range more {
			c.pending[s] = w
		}
		c.mu.Unlock()
	}
	if err := c.write(ctx, msg); err != nil {
		c.fail(fmt.Errorf("%w: %v", ErrConnectionLost, err))
		if oneway {
			return exchange{}, err
		}
	}
	if oneway {
		return exchange{}, nil
	}
	select {
	case x := <-w.ch:
		w.more = nil
		waiterPool.Put(w)
		return x, x.err
	case <-ctx.Done():
		c.mu.Lock()
		c.remove(w)
		c.mu.Unlock()
		// w is not pooled: the reader may hold it still.
		if !m.ordered {
			// The late reply would be taken for the next call's: start over.
			c.fail(fmt.Errorf("%w: a call was abandoned", ErrConnectionLost))
		}
		return exchange{}, ctx.Err()
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
