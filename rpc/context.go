package rpc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Addr is a network end point. It has the method set of net.Addr, so any
// net.Addr is an Addr, while the core need not import net.
type Addr interface {
	Network() string
	String() string
}

// Peer describes the other end of a call: a transport sets it once per
// connection or HTTP request.
type Peer struct {
	// Transport names the transport: "http", "tcp", "unix", "inproc".
	Transport string
	// Addr is the remote address; nil when unknown.
	Addr Addr
	// Identity is the authenticated identity of the caller (the name of the
	// key it proved it holds); empty when the call is not authenticated.
	Identity string
}

// Call describes a call to the interceptors that see it, on a server and on a
// client alike, and to a handler through CallFromContext.
type Call struct {
	Method string
	// Codec is the name of the codec the call travels in.
	Codec        string
	Notification bool
	// Peer is, on a server, the caller as its transport describes it; nil
	// on a client and when the transport did not say.
	Peer *Peer
	// Params are the call's params: on a server still encoded, decoded on
	// demand into any type (the handler's own are decoded after the
	// interceptors ran); on a client the Go values given to the call, which
	// decode into any type they convert to. Nil for a call without params.
	Params wire.Params

	// On a client: what the innermost step sends, where the result goes,
	// and room to encode it without an allocation.
	args    []any
	named   any
	result  any
	scratch *wire.Call

	// Metadata: the request's (a server's incoming, a client's outgoing)
	// is md with entries over it: on a server what the codec decoded, on a
	// client the context's and what SetMetadata set; md is not modified
	// once given, entries is the call's own (nil until needed). carrier
	// is where a transport holds it beside the message; reply is the
	// reply's.
	md      metadata.MD
	entries *wire.Entries
	carrier wire.Carrier
	reply   metadata.MD

	// Sizes in bytes of the request and the reply, and what OnReply
	// asked to be told of the reply's.
	reqSize, replySize int
	onReply            func(size int)
}

// RequestSize is the size in bytes of the message that carried the call, as
// its codec reads and writes it: without the transport's framing or HTTP
// headers, and with any content coding (gzip) removed. On a server it is
// the message the transport handed over, or for a call in a batch, the
// call's own part of the batch; 0 for a call made with Server.Invoke. On a
// client it is the encoded call, known once next has encoded it: for an
// interceptor, after next returned.
func (c *Call) RequestSize() int { return c.reqSize }

// ReplySize is the size in bytes of the reply, counted as RequestSize
// counts: on a client the reply received, known once next returned (0 for
// a notification, and when no reply came); on a server the reply encoded,
// known once the functions given to OnReply run.
func (c *Call) ReplySize() int { return c.replySize }

// OnReply has f told the reply's size in bytes (see ReplySize) once it is
// known: on a server once the reply is encoded, after the interceptors
// returned; on a client once the reply arrived, before next returns. f is
// not called when there is no reply: for a notification, a call that got
// none, a call made with Server.Invoke. An interceptor calls OnReply before
// next; each call adds f to those called, in order.
func (c *Call) OnReply(f func(size int)) {
	if prev := c.onReply; prev != nil {
		c.onReply = func(n int) { prev(n); f(n) }
		return
	}
	c.onReply = f
}

// replied notes the reply's size and tells those that asked.
func (c *Call) replied(size int) {
	c.replySize = size
	if c.onReply != nil {
		c.onReply(size)
	}
}

// Metadata returns the call's metadata: on a server what the caller sent
// (over HTTP, its headers but HTTP's own); on a client what the call sends,
// the context's (metadata.NewOutgoingContext) with what interceptors set.
// It must not be modified: use SetMetadata.
func (c *Call) Metadata() metadata.MD {
	md := c.md
	if c.entries.Len() > 0 {
		md = c.merged()
	}
	if c.carrier != nil {
		if hmd := c.carrier.Metadata(); len(md) == 0 {
			return hmd
		} else if len(hmd) > 0 {
			if c.entries.Len() == 0 {
				md = md.Clone()
			}
			for k, v := range hmd {
				md[k] = v
			}
		}
	}
	return md
}

// merged returns a new MD of md with entries over it.
func (c *Call) merged() metadata.MD {
	md := make(metadata.MD, len(c.md)+c.entries.Len())
	for k, v := range c.md {
		md[k] = v
	}
	for i := range c.entries.Len() {
		k, v := c.entries.At(i)
		md[k] = v
	}
	return md
}

// MetadataValue returns the value of key in the call's metadata (see
// Metadata), "" when it has none, without building the whole of it, as
// Metadata does at each call for a server's (from the entries its codec
// decoded, or over HTTP the request's headers) and for a client's that
// interceptors set. It is for interceptors that read an entry or two (a
// trace context, say). key is looked up lower cased.
func (c *Call) MetadataValue(key string) string { return c.metadataValue(lower(key)) }

// metadataValue returns one value of the request's metadata, without
// building the whole of it.
func (c *Call) metadataValue(key string) string {
	if c.carrier != nil {
		if v := c.carrier.Get(key); v != "" {
			return v
		}
	}
	if v, ok := c.entries.Get(key); ok {
		return v
	}
	return c.md[key]
}

// SetMetadata sets an entry of the metadata a client's call sends, for
// interceptors (tracing context, say); the key is lowered.
func (c *Call) SetMetadata(key, value string) {
	if c.entries == nil {
		c.entries = new(wire.Entries)
	}
	c.entries.Set(lower(key), value)
}

// validMetadata reports why the metadata a client's call sends is not
// valid, as metadata.MD.Validate would for Metadata, without building it.
func (c *Call) validMetadata() error {
	if c.entries.Len() == 0 {
		return c.md.Validate()
	}
	if err := c.entries.Validate(); err != nil {
		return err
	}
	n := c.entries.Len()
	for k, v := range c.md {
		if _, over := c.entries.Get(k); over {
			continue
		}
		n++
		if err := metadata.ValidKey(k); err != nil {
			return err
		}
		if err := metadata.ValidValue(v); err != nil {
			return fmt.Errorf("metadata %s: %w", k, err)
		}
	}
	if n > metadata.MaxEntries {
		return fmt.Errorf("metadata: %d entries, more than %d", n, metadata.MaxEntries)
	}
	return nil
}

// SetReplyMetadata sets an entry of the metadata a server's reply carries,
// for handlers and interceptors; the key is lowered. Over HTTP it goes out
// as response headers, except for a call in a batch, whose calls share one
// response; over a stream the reply carries it inside the message when the
// codec has room and the request carried metadata (see README, "Wire
// formats").
func (c *Call) SetReplyMetadata(key, value string) {
	if c.reply == nil {
		c.reply = metadata.MD{}
	}
	c.reply[lower(key)] = value
}

// ReplyMetadata returns, on a client, the metadata the reply carried (once
// next returned, for an interceptor); on a server, what SetReplyMetadata
// set.
func (c *Call) ReplyMetadata() metadata.MD { return c.reply }

// lower returns s in lower case, without allocating when it is already.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

type peerKey struct{}
type callKey struct{}

// WithPeer returns a context that carries p. Transports call it once per
// connection or request.
func WithPeer(ctx context.Context, p *Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFromContext returns the peer a transport put into ctx.
func PeerFromContext(ctx context.Context) (*Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(*Peer)
	return p, ok && p != nil
}

// CallFromContext returns the call that a handler's ctx belongs to.
func CallFromContext(ctx context.Context) (*Call, bool) {
	c, ok := ctx.Value(callKey{}).(*Call)
	return c, ok && c != nil
}

// callContext is the context of a call a server serves: it carries the
// Call, the call's own deadline (the caller's, and the server's
// WithCallTimeout), and can be cancelled (a client's CancelMethod, or its
// connection's end) at the cost of the one allocation it is. Its Done
// channel, and what watches the parent's and the deadline for it, are made
// only when a handler asks for Done.
type callContext struct {
	context.Context // the parent
	call            Call

	deadline time.Time // zero: none of its own

	mu    sync.Mutex
	err   error         // set once cancelled or past the deadline
	done  chan struct{} // made by Done
	stop  func() bool   // ends the watch of the parent's Done
	timer *time.Timer   // fires at the deadline
}

// callContextMeta is a callContext with room for the request's metadata
// entries, which its call refers to: one allocation for both.
type callContextMeta struct {
	callContext
	entries wire.Entries
}

// newCallContext returns the context of a call whose request carried
// entries, and a copy of them for its Call, nil for none.
func newCallContext(ctx context.Context, entries *wire.Entries) (*callContext, *wire.Entries) {
	if entries.Len() == 0 {
		return &callContext{Context: ctx}, nil
	}
	cm := &callContextMeta{callContext: callContext{Context: ctx}, entries: *entries}
	return &cm.callContext, &cm.entries
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *callContext) Value(key any) any {
	if key == (callKey{}) {
		return &c.call
	}
	return c.Context.Value(key)
}

func (c *callContext) Deadline() (time.Time, bool) {
	d, ok := c.Context.Deadline()
	if c.deadline.IsZero() || ok && d.Before(c.deadline) {
		return d, ok
	}
	return c.deadline, true
}

func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	if c.errLocked() != nil {
		c.done = closedChan
		return c.done
	}
	c.done = make(chan struct{})
	if c.Context.Done() != nil {
		c.stop = context.AfterFunc(c.Context, func() { c.cancel(c.Context.Err()) })
	}
	if !c.deadline.IsZero() {
		c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.cancel(context.DeadlineExceeded) })
	}
	return c.done
}

func (c *callContext) Err() error {
	c.mu.Lock()
	err := c.errLocked()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Context.Err()
}

// errLocked returns the call's own error, noting a deadline passed; c.mu is
// held.
func (c *callContext) errLocked() error {
	if c.err == nil && !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
	}
	return c.err
}

// Cancel implements wire.Canceler: a client cancelled the call.
func (c *callContext) Cancel() { c.cancel(context.Canceled) }

func (c *callContext) cancel(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		if c.done != nil && c.done != closedChan {
			close(c.done)
		}
	}
	c.mu.Unlock()
}

// release stops what watches the call's end, once it returned.
func (c *callContext) release() {
	c.mu.Lock()
	stop, timer := c.stop, c.timer
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if timer != nil {
		timer.Stop()
	}
}
