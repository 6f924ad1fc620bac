package wsrpc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// Defaults of the options.
const (
	DefaultMaxMessageSize = 4 << 20
	DefaultMaxInFlight    = 128
	DefaultPingInterval   = 30 * time.Second
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultWriteTimeout   = 30 * time.Second
)

// Option configures a Handler.
type Option func(*config) error

type config struct {
	maxMessage   int
	maxInFlight  int
	pingInterval time.Duration
	idleTimeout  time.Duration
	writeTimeout time.Duration
	origins      []string
	anyOrigin    bool
}

// WithMaxMessageSize bounds the size of a message read, in bytes (4 MiB by
// default). A bigger message closes the connection with 1009.
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("wsrpc: WithMaxMessageSize(%d): must be positive", n)
		}
		c.maxMessage = n
		return nil
	}
}

// WithMaxInFlight bounds the messages served at once per connection (128
// by default); beyond it the server reads no more until one is answered.
func WithMaxInFlight(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("wsrpc: WithMaxInFlight(%d): must be positive", n)
		}
		c.maxInFlight = n
		return nil
	}
}

// WithPingInterval sets how often the server pings a connection, and how
// long it waits for the pong (30 s by default); 0 turns pings off.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("wsrpc: WithPingInterval: negative")
		}
		c.pingInterval = d
		return nil
	}
}

// WithIdleTimeout closes, with 1001, a connection that sent no message for
// d while no call of it is in flight (5 min by default); 0 means never.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("wsrpc: WithIdleTimeout: negative")
		}
		c.idleTimeout = d
		return nil
	}
}

// WithWriteTimeout bounds the write of one reply (30 s by default); a peer
// that does not take it in time loses the connection.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("wsrpc: WithWriteTimeout: must be positive")
		}
		c.writeTimeout = d
		return nil
	}
}

// WithAllowOrigin lets web pages of these origins (scheme://host[:port], or
// host patterns as github.com/coder/websocket's OriginPatterns) upgrade;
// "*" lets any origin. A request without Origin, or whose Origin is the
// request's own host, is always allowed; any other is refused with 403.
func WithAllowOrigin(origins ...string) Option {
	return func(c *config) error {
		for _, o := range origins {
			switch o {
			case "":
				return errors.New("wsrpc: WithAllowOrigin: empty origin")
			case "*":
				c.anyOrigin = true
			default:
				c.origins = append(c.origins, o)
			}
		}
		return nil
	}
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig) error

type clientConfig struct {
	httpClient *http.Client
	tls        *tls.Config
	header     http.Header
	maxMessage int
	noPin      bool
	rpcOpts    []rpc.Option
}

// WithHTTPClient makes the upgrade request with hc, for instance one whose
// Transport is auth.Key.SignHTTP(nil) to sign it with PolyRPC-HMAC. Its
// Transport must return writable bodies for 101 responses, as
// http.Transport does; hc.Timeout must be 0.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *clientConfig) error { c.httpClient = hc; return nil }
}

// WithTLSConfig sets the TLS configuration of wss:// connections (the
// roots, a client certificate for mutual TLS), unless WithHTTPClient is
// given.
func WithTLSConfig(tc *tls.Config) ClientOption {
	return func(c *clientConfig) error { c.tls = tc; return nil }
}

// WithHeader adds fields to the upgrade request.
func WithHeader(h http.Header) ClientOption {
	return func(c *clientConfig) error { c.header = h.Clone(); return nil }
}

// WithClientMaxMessageSize bounds the size of a reply read (4 MiB by
// default).
func WithClientMaxMessageSize(n int) ClientOption {
	return func(c *clientConfig) error {
		if n <= 0 {
			return fmt.Errorf("wsrpc: WithClientMaxMessageSize(%d): must be positive", n)
		}
		c.maxMessage = n
		return nil
	}
}

// WithoutSubprotocol makes the client offer no subprotocol: the server then
// sniffs each message.
func WithoutSubprotocol() ClientOption {
	return func(c *clientConfig) error { c.noPin = true; return nil }
}

// WithRPCOptions passes options to the rpc.Client (rpc.NewStreamClient).
func WithRPCOptions(opts ...rpc.Option) ClientOption {
	return func(c *clientConfig) error { c.rpcOpts = append(c.rpcOpts, opts...); return nil }
}
