package tcprpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// Option configures a Server (NewServer) or a client (NewClient, Dialer).
// Each option says which it is for; given to the other, it is an error. A
// zero value means the default, and an invalid one is an error of the
// constructor.
type Option interface {
	apply(*config) error
}

// side is what a constructor builds, or what an option is for.
type side uint8

const (
	server side = 1 << iota
	client
	both = server | client
)

// config holds the options of a Server or a client; a zero field is unset.
type config struct {
	side side

	// Both sides.
	maxMessage   int
	writeTimeout time.Duration

	// A server's.
	codec            rpc.Codec
	handshake        func(ctx context.Context, conn net.Conn) (string, error)
	handshakeTimeout time.Duration
	readTimeout      time.Duration
	idleTimeout      time.Duration
	maxConns         int
	maxConnsPerIP    int
	maxInFlight      int
	log              *slog.Logger

	// A client's.
	network         string
	tls             *tls.Config
	clientHandshake func(ctx context.Context, conn net.Conn) error
	dialTimeout     time.Duration
}

// newConfig applies opts for a constructor of side s, then the defaults.
func newConfig(s side, opts []Option) (config, error) {
	c := config{side: s}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	def(&c.writeTimeout, 30*time.Second)
	if s == server {
		if c.maxMessage == 0 {
			c.maxMessage = 4 << 20
		}
		def(&c.handshakeTimeout, 10*time.Second)
		def(&c.readTimeout, 30*time.Second)
		def(&c.idleTimeout, 5*time.Minute)
		if c.maxConns == 0 {
			c.maxConns = 10000
		}
		if c.maxConnsPerIP == 0 {
			c.maxConnsPerIP = 256
		}
		if c.maxInFlight == 0 {
			c.maxInFlight = 128
		}
		if c.log == nil {
			c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
	} else {
		if c.maxMessage == 0 {
			c.maxMessage = 64 << 20
		}
		if c.network == "" {
			c.network = "tcp"
		}
		def(&c.dialTimeout, 10*time.Second)
	}
	return c, nil
}

// option is an Option for sides, named name in errors.
type option struct {
	name  string
	sides side
	set   func(*config) error
}

func (o option) apply(c *config) error {
	if o.sides&c.side == 0 {
		what := "a server"
		if o.sides == client {
			what = "a client"
		}
		return fmt.Errorf("tcprpc: %s is %s option", o.name, what)
	}
	return o.set(c)
}

func intOption(name string, s side, n int, p func(*config) *int) Option {
	return option{name, s, func(c *config) error {
		if n < 0 {
			return fmt.Errorf("tcprpc: %s(%d): negative", name, n)
		}
		*p(c) = n
		return nil
	}}
}

func durationOption(name string, s side, d time.Duration, p func(*config) *time.Duration) Option {
	return option{name, s, func(c *config) error {
		if d < 0 {
			return fmt.Errorf("tcprpc: %s(%v): negative", name, d)
		}
		*p(c) = d
		return nil
	}}
}

// WithMaxMessageSize limits a message read to n bytes: a request on a
// server (default 4 MiB), a reply on a client (default 64 MiB). A larger
// declared length is refused before anything is allocated, and the
// connection closed; so is, on a server, one larger than its whole memory
// budget (rpc.WithMaxMemory).
func WithMaxMessageSize(n int) Option {
	return intOption("WithMaxMessageSize", both, n, func(c *config) *int { return &c.maxMessage })
}

// WithWriteTimeout bounds each write (default 30 seconds): a write to a peer
// that takes no bytes for d fails, and the connection with it.
func WithWriteTimeout(d time.Duration) Option {
	return durationOption("WithWriteTimeout", both, d, func(c *config) *time.Duration { return &c.writeTimeout })
}

// WithCodec pins a server to one codec instead of telling the codec of each
// message by its first byte.
func WithCodec(codec rpc.Codec) Option {
	return option{"WithCodec", server, func(c *config) error { c.codec = codec; return nil }}
}

// WithHandshake makes a server authenticate every connection with h before
// serving it; h returns the peer's identity (rpc.Peer.Identity).
// auth.Server's Handshake method is one.
func WithHandshake(h func(ctx context.Context, conn net.Conn) (identity string, err error)) Option {
	return option{"WithHandshake", server, func(c *config) error { c.handshake = h; return nil }}
}

// WithHandshakeTimeout bounds the start of a connection on a server
// (default 10 seconds): TLS, the handshake (WithHandshake) and the first
// byte of the first message must all be done within d of the accept, or
// the connection is closed. The idle timeout applies only after.
func WithHandshakeTimeout(d time.Duration) Option {
	return durationOption("WithHandshakeTimeout", server, d, func(c *config) *time.Duration { return &c.handshakeTimeout })
}

// WithReadTimeout bounds the time from a message's first byte to its last
// on a server (default 30 seconds), so that a peer trickling bytes is cut
// off. A wait of the server for its memory budget does not count.
func WithReadTimeout(d time.Duration) Option {
	return durationOption("WithReadTimeout", server, d, func(c *config) *time.Duration { return &c.readTimeout })
}

// WithIdleTimeout makes a server close a connection that sent nothing for d
// while none of its calls was in flight (default 5 minutes).
func WithIdleTimeout(d time.Duration) Option {
	return durationOption("WithIdleTimeout", server, d, func(c *config) *time.Duration { return &c.idleTimeout })
}

// WithMaxConns limits the connections a server serves at once (default
// 10000). At the limit it stops accepting until one ends: new connections
// wait in the listen backlog. That is logged once per burst.
func WithMaxConns(n int) Option {
	return intOption("WithMaxConns", server, n, func(c *config) *int { return &c.maxConns })
}

// WithMaxConnsPerIP limits the connections a server serves at once from one
// source address, an IPv4 address or an IPv6 /64 (default 256), so that one
// host cannot take every place. One over it is closed at once; refusals
// are logged as a count per source every 10 seconds.
func WithMaxConnsPerIP(n int) Option {
	return intOption("WithMaxConnsPerIP", server, n, func(c *config) *int { return &c.maxConnsPerIP })
}

// WithMaxInFlight limits the calls of one connection a server runs at once
// (default 128). At the limit the server stops reading that connection until
// a call finishes: backpressure, not unbounded goroutines.
func WithMaxInFlight(n int) Option {
	return intOption("WithMaxInFlight", server, n, func(c *config) *int { return &c.maxInFlight })
}

// WithLogger gives a server a logger (by default it logs nothing): a
// connection that ends with an error (a failed handshake, a bad frame, a
// timeout), and the connection limits reached, are logged at Warn. Alike
// failures from one source address are logged once per 10 seconds, with a
// count.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", server, func(c *config) error { c.log = l; return nil }}
}

// WithNetwork sets the network a client dials: "tcp" (the default), "tcp4",
// "tcp6" or "unix".
func WithNetwork(network string) Option {
	return option{"WithNetwork", client, func(c *config) error {
		switch network {
		case "", "tcp", "tcp4", "tcp6", "unix":
			c.network = network
			return nil
		}
		return fmt.Errorf("tcprpc: WithNetwork(%q): not tcp, tcp4, tcp6 or unix", network)
	}}
}

// WithTLS makes a client speak TLS with cfg. Its ServerName defaults to the
// host dialed.
func WithTLS(cfg *tls.Config) Option {
	return option{"WithTLS", client, func(c *config) error { c.tls = cfg; return nil }}
}

// WithClientHandshake makes a client run h on every new connection before
// any call, as auth.Client's Handshake method does.
func WithClientHandshake(h func(ctx context.Context, conn net.Conn) error) Option {
	return option{"WithClientHandshake", client, func(c *config) error { c.clientHandshake = h; return nil }}
}

// WithDialTimeout bounds a client's dial (default 10 seconds): the
// connection, TLS and the handshake together, within the context of the
// call that dials.
func WithDialTimeout(d time.Duration) Option {
	return durationOption("WithDialTimeout", client, d, func(c *config) *time.Duration { return &c.dialTimeout })
}
