package rpc

import (
	"context"
	"errors"
	"fmt"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"sync"
)

// maxInOrderStreams bounds the streams a stream client opens to one server
// when its codec's replies carry no ids (wire.InOrder): calls beyond that
// many at once wait for a stream to come free.
const maxInOrderStreams = 64

// streamPool is the exchanger of a stream client whose codec's replies
// carry no ids, such as XML-RPC's. A reply can then only be matched to its
// call by being the one reply awaited on its stream, so each stream carries
// one call at a time, and concurrent calls use several streams, as HTTP/1.1
// clients use several connections. A stream that served a call is kept for
// the next; one whose call was abandoned, or that failed, is closed, since
// a late reply on it could not be told from the next call's.
type streamPool struct {
	dial  wire.Dialer
	codec Codec
	// open holds a token for each stream open or being dialed.
	open chan struct{}
	// idle holds the streams that wait for a call, in the order they came
	// free: the one idle longest is taken first.
	idle chan wire.Stream

	mu     sync.Mutex
	busy   map[wire.Stream]struct{} // streams carrying a call
	closed bool
}

func newStreamPool(dial wire.Dialer, c Codec, max int) *streamPool {
	return &streamPool{
		dial:  dial,
		codec: c,
		open:  make(chan struct{}, max),
		idle:  make(chan wire.Stream, max),
		busy:  map[wire.Stream]struct{}{},
	}
}

func (p *streamPool) exchange(ctx context.Context, _ uint64, _ []uint64, msg []byte, oneway, batch bool) (exchange, error) {
	if err := ctx.Err(); err != nil {
		return exchange{}, err // before a stream is taken, and closed for it
	}
	s, reused, err := p.get(ctx)
	if err != nil {
		return exchange{}, err
	}
	stop := closeOnDone(ctx, s)
	x, sent, err := p.roundTrip(ctx, s, msg, oneway, batch)
	if reused && !sent && ctx.Err() == nil && (stop == nil || stop()) {
		// A stream that waited idle may have been closed by the peer
		// just after get checked it, which shows only when a write
		// fails: the call was not sent, so it goes once more, on a
		// stream of its own.
		p.drop(s)
		if s, err = p.fresh(ctx); err != nil {
			return exchange{}, err
		}
		stop = closeOnDone(ctx, s)
		x, _, err = p.roundTrip(ctx, s, msg, oneway, batch)
	}
	if stop != nil && !stop() {
		// The context ended and closed s, maybe under the call.
		p.drop(s)
		if err != nil {
			return exchange{}, ctx.Err()
		}
		return x, nil // the reply was whole before
	}
	if err != nil {
		p.drop(s)
		if p.isClosed() {
			err = ErrClosed
		}
		return exchange{}, err
	}
	p.put(s)
	return x, nil
}

// closeOnDone closes s when ctx ends, until stop is called.
func closeOnDone(ctx context.Context, s wire.Stream) (stop func() bool) {
	if ctx.Done() == nil {
		return nil
	}
	return context.AfterFunc(ctx, func() { s.Close() })
}

// roundTrip sends msg on s and reads the reply, decoding it unless it
// answers a batch. sent is false when the write failed: the message did not
// reach the peer whole, so the peer cannot have served it.
func (p *streamPool) roundTrip(ctx context.Context, s wire.Stream, msg []byte, oneway, batch bool) (x exchange, sent bool, err error) {
	if err := s.WriteMessage(ctx, msg); err != nil {
		return exchange{}, false, fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	if oneway {
		return exchange{}, true, nil
	}
	bp := msgPool.Get().(*[]byte)
	raw, err := s.ReadMessage((*bp)[:0])
	*bp = raw
	if err != nil {
		releaseMsg(bp)
		return exchange{}, true, fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	if batch {
		return exchange{raw: raw, buf: bp}, true, nil
	}
	r, err := decodeReply(p.codec, raw)
	if err != nil {
		releaseMsg(bp)
		return exchange{}, true, fmt.Errorf("%w: unreadable reply: %w", ErrConnectionLost, err)
	}
	return exchange{raw: raw, reply: r, buf: bp}, true, nil
}

// get returns an idle stream (reused), or a new one when fewer than the
// maximum are open, or else the first to come free.
func (p *streamPool) get(ctx context.Context) (s wire.Stream, reused bool, err error) {
	for {
		select {
		case s = <-p.idle:
		default:
			select {
			case s = <-p.idle:
			case p.open <- struct{}{}:
				s, err = p.dialOne(ctx)
				return s, false, err
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		if s.(idleChecker).CheckIdle() != nil {
			// The peer closed it while it waited.
			p.close1(s)
			continue
		}
		if err := p.take(s); err != nil {
			return nil, false, err
		}
		return s, true, nil
	}
}

// fresh returns a new stream, once one may be opened.
func (p *streamPool) fresh(ctx context.Context) (wire.Stream, error) {
	select {
	case p.open <- struct{}{}:
		return p.dialOne(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialOne dials a stream for a token taken from p.open.
func (p *streamPool) dialOne(ctx context.Context) (wire.Stream, error) {
	if p.isClosed() {
		<-p.open
		return nil, ErrClosed
	}
	s, err := p.dial(ctx)
	if err != nil {
		<-p.open
		return nil, dialError(ctx, err)
	}
	if _, ok := s.(idleChecker); !ok {
		s = newReadAhead(s)
	}
	if err := p.take(s); err != nil {
		return nil, err
	}
	return s, nil
}

// take marks s busy, unless the client closed.
func (p *streamPool) take(s wire.Stream) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		s.Close()
		<-p.open
		return ErrClosed
	}
	p.busy[s] = struct{}{}
	return nil
}

// put makes s idle again.
func (p *streamPool) put(s wire.Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, s)
	if p.closed {
		p.close1(s)
		return
	}
	p.idle <- s // never blocks: idle has room for every open stream
}

// drop closes s, which carried a call.
func (p *streamPool) drop(s wire.Stream) {
	p.mu.Lock()
	delete(p.busy, s)
	p.mu.Unlock()
	p.close1(s)
}

// close1 closes s and gives back its token.
func (p *streamPool) close1(s wire.Stream) {
	s.Close()
	<-p.open
}

func (p *streamPool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// close closes every stream: the calls on them fail with ErrClosed.
func (p *streamPool) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for s := range p.busy {
		s.Close() // its call drops it
	}
	defer p.mu.Unlock()
	for {
		select {
		case s := <-p.idle:
			p.close1(s)
		default:
			return nil
		}
	}
}

// idleChecker is a stream that can tell, without blocking, whether it is
// still usable after waiting idle: a wire.LeadStream, or a readAhead.
type idleChecker interface {
	wire.Stream
	CheckIdle() error
}

// readAhead gives a plain wire.Stream in the pool a goroutine that reads it all
// the time, so that a stream the peer closed while it waited idle is seen
// before a call is sent on it, as a wire.LeadStream's CheckIdle sees it.
type readAhead struct {
	wire.Stream
	msgs chan readResult // what the goroutine read, one at a time
	done chan struct{}   // closed by Close
	once sync.Once
}

type readResult struct {
	bp  *[]byte
	err error
}

func newReadAhead(s wire.Stream) *readAhead {
	r := &readAhead{Stream: s, msgs: make(chan readResult, 1), done: make(chan struct{})}
	go r.read()
	return r
}

func (r *readAhead) read() {
	for {
		bp := msgPool.Get().(*[]byte)
		raw, err := r.Stream.ReadMessage((*bp)[:0])
		*bp = raw
		if err != nil {
			releaseMsg(bp)
			bp = nil
		}
		select {
		case r.msgs <- readResult{bp, err}:
		case <-r.done:
			releaseMsg(bp)
			return
		}
		if err != nil {
			return
		}
	}
}

// errStreamClosed is a read on a readAhead that was closed.
var errStreamClosed = errors.New("rpc: stream closed")

func (r *readAhead) ReadMessage(dst []byte) ([]byte, error) {
	var res readResult
	select {
	case res = <-r.msgs:
	case <-r.done:
		return dst, errStreamClosed
	}
	if res.err != nil {
		r.msgs <- res // every later read fails alike
		return dst, res.err
	}
	dst = append(dst, *res.bp...)
	releaseMsg(res.bp)
	return dst, nil
}

// errIdleMessage is a message that came on a stream nobody awaited one on.
var errIdleMessage = errors.New("rpc: a message came on an idle stream")

// CheckIdle reports what the stream got while no call awaited a reply: an
// error, or a message, which makes the stream unusable too.
func (r *readAhead) CheckIdle() error {
	select {
	case res := <-r.msgs:
		if res.err != nil {
			r.msgs <- res
			return res.err
		}
		releaseMsg(res.bp)
		return errIdleMessage
	default:
		return nil
	}
}

func (r *readAhead) Close() error {
	r.once.Do(func() { close(r.done) })
	return r.Stream.Close()
}

func (p *streamPool) inMessage() bool { return true }
