package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrNoReply reports a call that its reply did not answer: a batch reply
// that left it out, or a reply whose id belongs to another call.
var ErrNoReply = errors.New("rpc: no reply for the call")

// Client calls methods of a remote server over a Transport in one codec. It
// is safe for concurrent use. A failed call returns an *Error when the
// server answered with an error, the context's error when ctx ended first,
// and a transport error otherwise.
type Client struct {
	ex      exchanger
	codec   Codec
	ordered bool // replies carry ids to check
	seq     atomic.Uint64
}

// NewClient returns a client that sends calls over t encoded with c.
func NewClient(t Transport, c Codec) *Client {
	u, ok := c.(Unordered)
	return &Client{ex: transportExchanger{t: t, codec: c}, codec: c, ordered: !(ok && u.Unordered())}
}

// exchanger sends a message for the call numbered seq (and a batch's other
// calls, more) and returns the reply.
type exchanger interface {
	// The reply comes back decoded unless it answers a batch.
	exchange(ctx context.Context, seq uint64, more []uint64, msg []byte, oneway, batch bool) (exchange, error)
	close() error
}

// exchange is a reply: raw, and decoded too when matching it to its call
// needed that. buf, when set, holds raw and goes back to its pool once the
// reply is decoded.
type exchange struct {
	raw   []byte
	reply *Reply // nil when not decoded; from replyPool
	buf   *[]byte
	err   error
	turn  bool // not a reply: the turn to read a stream (stream.go)
}

// replyPool holds the Replies that codecs decode into: DecodeReply takes a
// pointer through an interface, which would otherwise cost an allocation.
var replyPool = sync.Pool{New: func() any { return new(Reply) }}

// decodeReply decodes raw into a pooled Reply.
func decodeReply(c Codec, raw []byte) (*Reply, error) {
	r := replyPool.Get().(*Reply)
	if err := c.DecodeReply(raw, r); err != nil {
		releaseReply(r)
		return nil, err
	}
	return r, nil
}

func releaseReply(r *Reply) {
	if r != nil {
		*r = Reply{}
		replyPool.Put(r)
	}
}

// release gives back what the exchange holds once the reply is used.
func (x *exchange) release() {
	releaseReply(x.reply)
	releaseMsg(x.buf)
}

type transportExchanger struct {
	t     Transport
	codec Codec
}

func (x transportExchanger) exchange(ctx context.Context, _ uint64, _ []uint64, msg []byte, oneway, batch bool) (exchange, error) {
	raw, err := x.t.RoundTrip(ctx, x.codec, msg, oneway)
	if err != nil || oneway || batch {
		return exchange{raw: raw}, err
	}
	r, err := decodeReply(x.codec, raw)
	if err != nil {
		return exchange{}, &replyError{err}
	}
	return exchange{raw: raw, reply: r}, nil
}

// replyError is a reply that could not be decoded.
type replyError struct{ err error }

func (e *replyError) Error() string { return e.err.Error() }
func (e *replyError) Unwrap() error { return e.err }

func (x transportExchanger) close() error { return x.t.Close() }

// Codec returns the client's codec.
func (c *Client) Codec() Codec { return c.codec }

// Close closes the transport; calls in flight fail. Close is idempotent.
func (c *Client) Close() error { return c.ex.close() }

// Call calls method with positional params and decodes its result into
// result, a pointer (or nil to discard the result).
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	call := callPool.Get().(*Call)
	*call = Call{Method: method, Args: params}
	err := c.call(ctx, call, result)
	*call = Call{}
	callPool.Put(call)
	return err
}

// callPool holds Calls: one escapes into the codec's AppendCall otherwise.
var callPool = sync.Pool{New: func() any { return new(Call) }}

// CallNamed calls method with named params, given as a map with string keys
// or a struct, and decodes its result into result.
func (c *Client) CallNamed(ctx context.Context, method string, result any, params any) error {
	return c.call(ctx, &Call{Method: method, Named: params}, result)
}

// Notify sends a notification: the server runs the method and sends no reply.
func (c *Client) Notify(ctx context.Context, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	return c.call(ctx, &Call{Method: method, Args: params, Notification: true}, nil)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (c *Client) call(ctx context.Context, call *Call, result any) error {
	call.ID.Seq = c.seq.Add(1)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	msg, err := c.codec.AppendCall((*bp)[:0], call)
	if err != nil {
		return fmt.Errorf("rpc: encoding %s: %w", call.Method, err)
	}
	*bp = msg[:0]
	x, err := c.ex.exchange(ctx, call.ID.Seq, nil, msg, call.Notification, false)
	if err != nil {
		var re *replyError
		if errors.As(err, &re) {
			return fmt.Errorf("rpc: decoding the reply to %s: %w", call.Method, re.err)
		}
		return c.transportError(ctx, err)
	}
	if call.Notification {
		return nil
	}
	defer x.release()
	r := x.reply
	if r.Error != nil {
		return r.Error
	}
	if c.ordered && r.ID.Seq != call.ID.Seq {
		return fmt.Errorf("%w: reply id %d to call %d", ErrNoReply, r.ID.Seq, call.ID.Seq)
	}
	if result == nil || r.Result == nil {
		return nil
	}
	if err := r.Result.Decode(result); err != nil {
		return fmt.Errorf("rpc: decoding the result of %s: %w", call.Method, err)
	}
	return nil
}

// transportError prefers the context's error when the context ended: the
// transport's error is then only its consequence.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return err
}

// BatchCall is one call of a batch. Batch fills Err, and Result when the call
// succeeded.
type BatchCall struct {
	Method string
	// Params are positional params; Named, when not nil, is sent instead.
	Params []any
	Named  any
	// Result is where the result is decoded: a pointer, or nil to discard.
	Result any
	// Notification marks a call that gets no reply.
	Notification bool
	// Err is the call's error after Batch returns.
	Err error
}

// Batch sends calls as one batch message and waits for the replies. It
// returns an error only when the batch as a whole failed; each call's own
// outcome is in its Err. It needs a codec with batches (a BatchCodec).
func (c *Client) Batch(ctx context.Context, calls ...*BatchCall) error {
	bc, ok := c.codec.(BatchCodec)
	if !ok {
		return fmt.Errorf("rpc: codec %s has no batches", c.codec.Name())
	}
	if len(calls) == 0 {
		return nil
	}
	items := make([][]byte, len(calls))
	var seqs []uint64
	bySeq := make(map[uint64]*BatchCall, len(calls))
	oneway := true
	for i, bcall := range calls {
		call := &Call{Method: bcall.Method, Args: bcall.Params, Named: bcall.Named, Notification: bcall.Notification}
		if call.Args == nil && call.Named == nil {
			call.Args = []any{}
		}
		call.ID.Seq = c.seq.Add(1)
		b, err := c.codec.AppendCall(nil, call)
		if err != nil {
			return fmt.Errorf("rpc: encoding %s: %w", call.Method, err)
		}
		items[i] = b
		if !bcall.Notification {
			seqs = append(seqs, call.ID.Seq)
			bySeq[call.ID.Seq] = bcall
			oneway = false
		}
		bcall.Err = nil
	}
	var first uint64
	if len(seqs) > 0 {
		first, seqs = seqs[0], seqs[1:]
	}
	x, err := c.ex.exchange(ctx, first, seqs, bc.AppendBatch(nil, items), oneway, true)
	if err != nil {
		return c.transportError(ctx, err)
	}
	if oneway {
		return nil
	}
	defer x.release()
	reply := x.raw
	parts, isBatch, err := bc.SplitBatch(reply, 0)
	if err != nil {
		return fmt.Errorf("rpc: decoding the batch reply: %w", err)
	}
	if !isBatch {
		// The server refused the batch as a whole with one error.
		var r Reply
		if err := c.codec.DecodeReply(reply, &r); err != nil {
			return fmt.Errorf("rpc: decoding the batch reply: %w", err)
		}
		if r.Error != nil {
			return r.Error
		}
		return fmt.Errorf("rpc: a single reply to a batch")
	}
	answered := make(map[uint64]bool, len(parts))
	for _, part := range parts {
		var r Reply
		if err := c.codec.DecodeReply(part, &r); err != nil {
			return fmt.Errorf("rpc: decoding the batch reply: %w", err)
		}
		bcall, ok := bySeq[r.ID.Seq]
		if !ok || answered[r.ID.Seq] {
			continue // an error reply for an item the server could not read
		}
		answered[r.ID.Seq] = true
		switch {
		case r.Error != nil:
			bcall.Err = r.Error
		case bcall.Result != nil && r.Result != nil:
			if err := r.Result.Decode(bcall.Result); err != nil {
				bcall.Err = fmt.Errorf("rpc: decoding the result of %s: %w", bcall.Method, err)
			}
		}
	}
	for seq, bcall := range bySeq {
		if !answered[seq] {
			bcall.Err = ErrNoReply
		}
	}
	return nil
}
