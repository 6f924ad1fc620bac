package rpc

import (
	"context"

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

// callContext carries the Call of a call served at the cost of one
// allocation.
type callContext struct {
	context.Context
	call Call
}

func (c *callContext) Value(key any) any {
	if key == (callKey{}) {
		return &c.call
	}
	return c.Context.Value(key)
}
