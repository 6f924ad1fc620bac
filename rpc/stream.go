package rpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Stream is a connection that carries whole messages both ways, such as the
// TCP transport's framed connections. A client multiplexes its calls over
// one Stream.
type Stream interface {
	// WriteMessage sends one message. It is called from many goroutines at
	// once and must not keep msg after it returns.
	WriteMessage(msg []byte) error
	// ReadMessage returns the next message, which then belongs to the
	// caller. It is called from one goroutine at a time.
	ReadMessage() ([]byte, error)
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

// waiter is a call (or a batch, under each of its ids) awaiting its reply.
type waiter struct {
	seqs []uint64
	ch   chan muxReply // buffered: the reader never blocks on it
}

type muxReply struct {
	raw   []byte
	reply *Reply
	err   error
}

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
		raw, err := c.s.ReadMessage()
		if err != nil {
			c.fail(fmt.Errorf("%w: %v", ErrConnectionLost, err))
			return
		}
		seq, r, err := m.route(raw)
		if err != nil {
			c.fail(fmt.Errorf("%w: unreadable reply: %v", ErrConnectionLost, err))
			return
		}
		c.mu.Lock()
		w, ok := c.pending[seq]
		if !ok && len(c.pending) == 1 && (r == nil || r.Error != nil) {
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
			w.ch <- muxReply{raw: raw, reply: r}
		}
	}
}

// route finds the call a reply belongs to. It decodes the reply unless it
// is a batch, whose items go back undecoded to Batch.
func (m *streamMux) route(raw []byte) (uint64, *Reply, error) {
	if !m.ordered {
		return 0, nil, nil
	}
	if bc, ok := m.codec.(BatchCodec); ok {
		items, isBatch, err := bc.SplitBatch(raw)
		if err != nil {
			return 0, nil, err
		}
		if isBatch {
			for _, it := range items {
				var r Reply
				if err := m.codec.DecodeReply(it, &r); err == nil && r.ID.Seq != 0 {
					return r.ID.Seq, nil, nil
				}
			}
			return 0, nil, nil
		}
	}
	r := new(Reply)
	if err := m.codec.DecodeReply(raw, r); err != nil {
		return 0, nil, err
	}
	return r.ID.Seq, r, nil
}

// remove forgets w under all its ids; c.mu is held.
func (c *muxConn) remove(w *waiter) {
	for _, seq := range w.seqs {
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
		if len(ended) == 0 || !slices.Contains(ended, w) {
			ended = append(ended, w)
		}
		c.remove(w)
	}
	c.mu.Unlock()
	c.s.Close()
	for _, w := range ended {
		w.ch <- muxReply{err: err}
	}
}

func (m *streamMux) exchange(ctx context.Context, seqs []uint64, msg []byte, oneway bool) ([]byte, *Reply, error) {
	if !m.ordered && !oneway {
		select {
		case m.turn <- struct{}{}:
			defer func() { <-m.turn }()
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	c, err := m.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	var w *waiter
	if !oneway {
		w = &waiter{seqs: seqs, ch: make(chan muxReply, 1)}
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return nil, nil, err
		}
		for _, seq := range seqs {
			c.pending[seq] = w
		}
		c.mu.Unlock()
	}
	if err := c.s.WriteMessage(msg); err != nil {
		c.fail(fmt.Errorf("%w: %v", ErrConnectionLost, err))
		if oneway {
			return nil, nil, err
		}
	}
	if oneway {
		return nil, nil, nil
	}
	select {
	case r := <-w.ch:
		return r.raw, r.reply, r.err
	case <-ctx.Done():
		c.mu.Lock()
		c.remove(w)
		c.mu.Unlock()
		if !m.ordered {
			// The late reply would be taken for the next call's: start over.
			c.fail(fmt.Errorf("%w: a call was abandoned", ErrConnectionLost))
		}
		return nil, nil, ctx.Err()
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
