package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Client calls methods of a remote server over a Transport, or a stream
// (NewStreamClient), in one codec. It is safe for concurrent use.
//
// A call that the server answered with an error returns it as an *Error,
// and so does a call refused for the caller's credentials
// (CodeUnauthenticated). A call that got no answer returns the context's
// error when its context ended first, and a transport error otherwise:
// ErrConnectionLost, ErrClosed, a dial error, an HTTP status.
type Client struct {
	ex    exchanger
	codec Codec
	// matchIDs is set when replies carry the ids of their calls, which a
	// reply is checked against; not for codecs whose replies come in order
	// (wire.InOrder).
	matchIDs bool
	// entries is set for a codec that encodes wire.Call.Entries, which
	// a call's metadata is handed in without building a map.
	entries bool
	seq     atomic.Uint64
	handler Handler // interceptors around send
	log     *slog.Logger
}

// NewClient returns a client that sends calls over t encoded with c. It fails
// for a nil transport or codec and for an invalid option.
func NewClient(t Transport, c Codec, opts ...Option) (*Client, error) {
	if t == nil {
		return nil, errors.New("rpc: NewClient: nil transport")
	}
	return newClient(transportExchanger{t: t, codec: c}, c, opts)
}

func newClient(ex exchanger, c Codec, opts []Option) (*Client, error) {
	if c == nil {
		return nil, errors.New("rpc: NewClient: nil codec")
	}
	cfg, err := newConfig(true, opts)
	if err != nil {
		return nil, err
	}
	u, ok := c.(wire.InOrder)
	cl := &Client{ex: ex, codec: c, matchIDs: !(ok && u.InOrder()), log: cfg.log}
	if e, ok := c.(wire.EntriesEncoder); ok {
		cl.entries = e.EncodesEntries()
	}
	cl.handler = chain(cl.send, cfg.interceptors)
	return cl, nil
}

// exchanger sends a message for the call numbered seq (and a batch's other
// calls, more) and returns the reply.
type exchanger interface {
	// The reply comes back decoded unless it answers a batch.
	exchange(ctx context.Context, seq uint64, more []uint64, msg []byte, oneway, batch bool) (exchange, error)
	close() error
	// inMessage reports whether metadata travels inside the messages
	// (streams), rather than beside them in a wire.Carrier (HTTP).
	inMessage() bool
}

// exchange is a reply: raw, and decoded too when matching it to its call
// needed that. buf, when set, holds raw and goes back to its pool once the
// reply is decoded.
type exchange struct {
	raw   []byte
	reply *wire.Reply // nil when not decoded; from replyPool
	buf   *[]byte
	err   error
	turn  bool // not a reply: the turn to read a stream (stream.go)
}

// replyPool holds the Replies that codecs decode into: DecodeReply takes a
// pointer through an interface, which would otherwise cost an allocation.
var replyPool = sync.Pool{New: func() any { return new(wire.Reply) }}

// decodeReply decodes raw into a pooled Reply.
func decodeReply(c Codec, raw []byte) (*wire.Reply, error) {
	r := replyPool.Get().(*wire.Reply)
	if err := c.DecodeReply(raw, r); err != nil {
		releaseReply(r)
		return nil, err
	}
	return r, nil
}

func releaseReply(r *wire.Reply) {
	if r != nil {
		*r = wire.Reply{}
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
	raw, err := x.t.Exchange(ctx, x.codec, msg, oneway)
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

func (transportExchanger) inMessage() bool { return false }

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
	return c.do(ctx, method, false, params, nil, result)
}

// CallNamed calls method with named params, given as a map with string keys
// or a struct, and decodes its result into result.
func (c *Client) CallNamed(ctx context.Context, method string, result any, params any) error {
	if params == nil {
		return c.do(ctx, method, false, []any{}, nil, result)
	}
	return c.do(ctx, method, false, nil, params, result)
}

// Notify sends a notification: the server runs the method and sends no reply.
func (c *Client) Notify(ctx context.Context, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	return c.do(ctx, method, true, params, nil, nil)
}

// calling is what one call needs; pooled, as the Call escapes into the
// interceptors and the codec.
type calling struct {
	call    Call
	params  goParams
	wcall   wire.Call
	entries wire.Entries // what the call's SetMetadata sets
}

var callingPool = sync.Pool{New: func() any { return new(calling) }}

func (c *Client) do(ctx context.Context, method string, notification bool, args []any, named, result any) error {
	cl := callingPool.Get().(*calling)
	cl.params = goParams{args: args, named: named}
	cl.call = Call{Method: method, Codec: c.codec.Name(), Notification: notification, Params: &cl.params,
		args: args, named: named, result: result, scratch: &cl.wcall, entries: &cl.entries}
	cl.call.md, _ = metadata.FromOutgoingContext(ctx)
	_, err := c.handler(ctx, &cl.call)
	*cl = calling{}
	callingPool.Put(cl)
	return err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// send is the innermost step of a call: it encodes the call, exchanges it
// for the reply and decodes the result.
func (c *Client) send(ctx context.Context, call *Call) (any, error) {
	wc := call.scratch
	if wc == nil {
		wc = new(wire.Call)
	}
	*wc = wire.Call{Method: call.Method, Notification: call.Notification, Args: call.args, Named: call.named}
	wc.ID.Seq = c.seq.Add(1)
	if d, ok := ctx.Deadline(); ok {
		// The server's handler gets the time left (whole milliseconds, at
		// least 1 while any is left).
		ms := int64(0)
		if left := time.Until(d); left > 0 {
			ms = max(int64(left/time.Millisecond), 1)
		}
		call.SetMetadata(metadata.TimeoutKey, strconv.FormatInt(ms, 10))
	}
	if err := call.validMetadata(); err != nil {
		return nil, fmt.Errorf("rpc: %s: %w", call.Method, err)
	}
	var carrier *wire.MDCarrier
	switch {
	case !c.ex.inMessage():
		carrier = &wire.MDCarrier{Request: call.Metadata()}
		ctx = wire.WithCarrier(ctx, carrier)
	case c.entries:
		wc.Meta, wc.Entries = call.md, call.entries
	default:
		wc.Meta = call.Metadata()
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	msg, err := c.codec.AppendCall((*bp)[:0], wc)
	if err != nil {
		return nil, fmt.Errorf("rpc: encoding %s: %w", call.Method, err)
	}
	*bp = msg[:0]
	call.reqSize = len(msg)
	x, err := c.ex.exchange(ctx, wc.ID.Seq, nil, msg, call.Notification, false)
	if err != nil {
		var re *replyError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("rpc: decoding the reply to %s: %w", call.Method, re.err)
		}
		return nil, c.transportError(ctx, err)
	}
	if call.Notification {
		return nil, nil
	}
	defer x.release()
	call.replied(len(x.raw))
	r := x.reply
	if r == nil {
		// A message the stream routed to this call that is no reply of
		// one call (a batch of replies without ids): no answer to it.
		return nil, fmt.Errorf("%w: the server answered %s with a batch", ErrNoReply, call.Method)
	}
	if carrier != nil {
		call.reply = carrier.Reply
	} else {
		call.reply = r.Meta
	}
	if r.Error != nil {
		return nil, fromWire(r.Error)
	}
	if c.matchIDs && r.ID.Seq != wc.ID.Seq {
		return nil, fmt.Errorf("%w: reply id %d to call %d", ErrNoReply, r.ID.Seq, wc.ID.Seq)
	}
	if call.result == nil || r.Result == nil {
		return call.result, nil
	}
	if err := r.Result.Decode(call.result); err != nil {
		return nil, fmt.Errorf("rpc: decoding the result of %s: %w", call.Method, err)
	}
	return call.result, nil
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
// outcome is in its Err. It needs a codec with batches (JSON-RPC). The
// client's interceptors do not see the calls of a batch.
func (c *Client) Batch(ctx context.Context, calls ...*BatchCall) error {
	bc, ok := c.codec.(wire.BatchCodec)
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
		call := &wire.Call{Method: bcall.Method, Args: bcall.Params, Named: bcall.Named, Notification: bcall.Notification}
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
		var r wire.Reply
		if err := c.codec.DecodeReply(reply, &r); err != nil {
			return fmt.Errorf("rpc: decoding the batch reply: %w", err)
		}
		if r.Error != nil {
			return fromWire(r.Error)
		}
		return fmt.Errorf("rpc: a single reply to a batch")
	}
	answered := make(map[uint64]bool, len(parts))
	for _, part := range parts {
		var r wire.Reply
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
			bcall.Err = fromWire(r.Error)
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
