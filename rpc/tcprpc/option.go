package tcprpc

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// Defaults of the server's limits.
const (
	DefaultMaxFrame         = 4 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadTimeout      = 30 * time.Second
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultWriteTimeout     = 30 * time.Second
	DefaultMaxConns         = 10000
	DefaultMaxInFlight      = 128
)

// Handshake authenticates a new connection before any frame is served and
// returns the peer's identity. auth.Server's Handshake method is one.
type Handshake func(ctx context.Context, conn net.Conn) (identity string, err error)

// Option configures a Server.
type Option interface {
	applyServer(*serverConfig)
}

type serverConfig struct {
	maxFrame         int
	codec            rpc.Codec
	handshake        Handshake
	handshakeTimeout time.Duration
	readTimeout      time.Duration
	idleTimeout      time.Duration
	writeTimeout     time.Duration
	maxConns         int
	maxInFlight      int
	onError          func(conn net.Conn, err error)
}

type serverOption func(*serverConfig)

func (f serverOption) applyServer(c *serverConfig) { f(c) }

// WithMaxFrame limits a request frame to n bytes (DefaultMaxFrame). A
// larger declared length is refused before anything is allocated, and the
// connection closed.
func WithMaxFrame(n int) Option { return serverOption(func(c *serverConfig) { c.maxFrame = n }) }

// WithCodec pins the server to one codec instead of telling the codec of
// each frame by its first byte.
func WithCodec(codec rpc.Codec) Option {
	return serverOption(func(c *serverConfig) { c.codec = codec })
}

// WithHandshake makes every connection authenticate with h first.
func WithHandshake(h Handshake) Option {
	return serverOption(func(c *serverConfig) { c.handshake = h })
}

// WithHandshakeTimeout bounds the handshake (DefaultHandshakeTimeout).
func WithHandshakeTimeout(d time.Duration) Option {
	return serverOption(func(c *serverConfig) { c.handshakeTimeout = d })
}

// WithReadTimeout bounds the time from a frame's first byte to its last
// (DefaultReadTimeout), so that a peer trickling bytes is cut off.
func WithReadTimeout(d time.Duration) Option {
	return serverOption(func(c *serverConfig) { c.readTimeout = d })
}

// WithIdleTimeout closes a connection that sent nothing for d while none of
// its calls was in flight (DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option {
	return serverOption(func(c *serverConfig) { c.idleTimeout = d })
}

// WithWriteTimeout bounds each write of replies (DefaultWriteTimeout); a
// peer that stops reading is disconnected.
func WithWriteTimeout(d time.Duration) Option {
	return serverOption(func(c *serverConfig) { c.writeTimeout = d })
}

// WithMaxConns limits the connections served at once (DefaultMaxConns);
// a connection over the limit is closed as soon as it is accepted.
func WithMaxConns(n int) Option { return serverOption(func(c *serverConfig) { c.maxConns = n }) }

// WithMaxInFlight limits the calls of one connection served at once
// (DefaultMaxInFlight). When it is reached the server stops reading that
// connection until a call finishes: backpressure, not unbounded goroutines.
func WithMaxInFlight(n int) Option { return serverOption(func(c *serverConfig) { c.maxInFlight = n }) }

// WithErrorHandler sets a function told of every connection that ended with
// an error (a failed handshake, a bad frame, a timeout). Use it to log.
func WithErrorHandler(f func(conn net.Conn, err error)) Option {
	return serverOption(func(c *serverConfig) { c.onError = f })
}

// ClientOption configures a client's dialer.
type ClientOption interface {
	applyClient(*clientConfig)
}

type clientConfig struct {
	network   string
	tls       *tls.Config
	dialer    net.Dialer
	handshake func(ctx context.Context, conn net.Conn) error
	maxFrame  int
}

type clientOption func(*clientConfig)

func (f clientOption) applyClient(c *clientConfig) { f(c) }

// WithNetwork sets the network to dial: "tcp" (the default) or "unix".
func WithNetwork(network string) ClientOption {
	return clientOption(func(c *clientConfig) { c.network = network })
}

// WithTLS makes the client speak TLS with cfg.
func WithTLS(cfg *tls.Config) ClientOption {
	return clientOption(func(c *clientConfig) { c.tls = cfg })
}

// WithClientHandshake runs h on every new connection before any call, as
// auth.Client's handshake does.
func WithClientHandshake(h func(ctx context.Context, conn net.Conn) error) ClientOption {
	return clientOption(func(c *clientConfig) { c.handshake = h })
}

// WithMaxReply limits a reply frame to n bytes (default 64 MiB).
func WithMaxReply(n int) ClientOption { return clientOption(func(c *clientConfig) { c.maxFrame = n }) }
