package rpc

import "context"

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

// CallInfo describes the call being served; handlers and interceptors get it
// with CallInfoFromContext.
type CallInfo struct {
	Method       string
	Codec        string
	Notification bool
	// Peer is nil when the transport did not provide one.
	Peer *Peer
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

// CallInfoFromContext returns the description of the call that ctx belongs to.
func CallInfoFromContext(ctx context.Context) (*CallInfo, bool) {
	c, ok := ctx.Value(callKey{}).(*CallInfo)
	return c, ok && c != nil
}
