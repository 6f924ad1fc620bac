package tcprpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/polyrpc/polyrpc/rpc"
)

// DefaultMaxReply is the default limit on a reply frame.
const DefaultMaxReply = 64 << 20

// NewClient returns a client of the server at addr ("host:port", or a
// socket path with WithNetwork("unix")) speaking codec c. Its calls share
// one connection, dialed at the first call and again after a failure, and
// are matched to their replies by id. The client is safe for concurrent use.
func NewClient(addr string, c rpc.Codec, opts ...ClientOption) *rpc.Client {
	return rpc.NewStreamClient(Dialer(addr, opts...), c)
}

// Dialer returns an rpc.Dialer that connects to addr, speaks TLS and runs
// the handshake if so configured, and frames messages.
func Dialer(addr string, opts ...ClientOption) rpc.Dialer {
	cfg := clientConfig{network: "tcp", maxFrame: DefaultMaxReply}
	for _, o := range opts {
		o.applyClient(&cfg)
	}
	return func(ctx context.Context) (rpc.Stream, error) {
		nc, err := cfg.dialer.DialContext(ctx, cfg.network, addr)
		if err != nil {
			return nil, err
		}
		if cfg.tls != nil {
			tc := cfg.tls
			if tc.ServerName == "" && cfg.network == "tcp" {
				tc = tc.Clone()
				tc.ServerName, _, _ = net.SplitHostPort(addr)
			}
			t := tls.Client(nc, tc)
			if err := t.HandshakeContext(ctx); err != nil {
				nc.Close()
				return nil, fmt.Errorf("tcprpc: TLS handshake: %w", err)
			}
			nc = t
		}
		if cfg.handshake != nil {
			if d, ok := ctx.Deadline(); ok {
				nc.SetDeadline(d)
			}
			if err := cfg.handshake(ctx, nc); err != nil {
				nc.Close()
				return nil, fmt.Errorf("tcprpc: handshake: %w", err)
			}
			nc.SetDeadline(noDeadline)
		}
		return NewStream(nc, cfg.maxFrame), nil
	}
}
