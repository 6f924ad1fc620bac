package tcprpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// NewClient returns a client of the server at addr ("host:port", or a
// socket path with WithNetwork("unix")) speaking codec c. Its calls share
// one connection, dialed at the first call and again after a failure, and
// are matched to their replies by id. The client is safe for concurrent use.
// It fails for a nil codec and for an invalid option, or one of a server.
//
// For client options of package rpc (interceptors, a logger), make the
// client with rpc.NewStreamClient(Dialer(addr, opts...), c, rpcOpts...).
func NewClient(addr string, c rpc.Codec, opts ...Option) (*rpc.Client, error) {
	dial, err := Dialer(addr, opts...)
	if err != nil {
		return nil, err
	}
	return rpc.NewStreamClient(dial, c)
}

// Dialer returns a wire.Dialer, for rpc.NewStreamClient, that connects to
// addr, speaks TLS and runs the handshake if so configured, all within the
// dial timeout, and frames messages. It fails for an invalid option, or one
// of a server.
func Dialer(addr string, opts ...Option) (wire.Dialer, error) {
	cfg, err := newConfig(client, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (wire.Stream, error) { return cfg.dial(ctx, addr) }, nil
}

// errDialTimeout is the cause of a dial that ran out of the dial timeout.
var errDialTimeout = errors.New("tcprpc: dial timeout")

func (cfg *config) dial(parent context.Context, addr string) (wire.Stream, error) {
	own := time.Now().Add(cfg.dialTimeout)
	ctx, cancel := context.WithDeadlineCause(parent, own, errDialTimeout)
	defer cancel()
	// fail says which step failed, and that the dial timeout ended it when
	// it did, as ctx's cause or, since a connection's deadline may fire
	// before ctx's timer, as a deadline of ours that passed first.
	fail := func(step string, err error) error {
		pd, ok := parent.Deadline()
		ours := context.Cause(ctx) == errDialTimeout ||
			parent.Err() == nil && (!ok || own.Before(pd)) && !time.Now().Before(own)
		if ours {
			return fmt.Errorf("tcprpc: %s: timed out after %v (WithDialTimeout): %w", step, cfg.dialTimeout, err)
		}
		return fmt.Errorf("tcprpc: %s: %w", step, err)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, cfg.network, addr)
	if err != nil {
		return nil, fail("dialing "+addr, err)
	}
	if cfg.tls != nil {
		tc := cfg.tls
		if tc.ServerName == "" && cfg.network != "unix" {
			tc = tc.Clone()
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		t := tls.Client(nc, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			nc.Close()
			if isClosed(err) {
				err = fmt.Errorf("%w (the server closed the connection: does it speak TLS?)", err)
			}
			return nil, fail("TLS handshake with "+addr, err)
		}
		nc = t
	}
	if cfg.clientHandshake != nil {
		if d, ok := ctx.Deadline(); ok {
			nc.SetDeadline(d)
		}
		if err := cfg.clientHandshake(ctx, nc); err != nil {
			nc.Close()
			return nil, fail("handshake with "+addr, err)
		}
		nc.SetDeadline(noDeadline)
	}
	return newStream(nc, cfg), nil
}

// isClosed reports an error of a connection the peer closed or reset.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
