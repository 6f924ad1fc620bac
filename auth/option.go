package auth

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Option configures a Server, a Client (the connection handshake) or an
// HTTPHandler. Each option says which it is for; given to another, it is an
// error. A zero value means the default, and an invalid one is an error of
// the constructor.
type Option interface {
	apply(*config) error
}

// use is what a constructor builds, or what an option is for.
type use uint8

const (
	handshake use = 1 << iota // NewServer and NewClient
	httpHandler
)

// config holds the options of a Server, Client or HTTPHandler.
type config struct {
	use use

	// The handshake's.
	timeout  time.Duration
	allowMD5 bool
	rand     io.Reader

	// The HTTPHandler's.
	nonceTTL  time.Duration
	maxNonces int
	maxBody   int
	log       *slog.Logger
}

// newConfig applies opts for a constructor of u, then the defaults.
func newConfig(u use, opts []Option) (config, error) {
	c := config{use: u}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	if c.timeout == 0 {
		c.timeout = 10 * time.Second
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if c.nonceTTL == 0 {
		c.nonceTTL = 60 * time.Second
	}
	if c.maxNonces == 0 {
		c.maxNonces = 10000
	}
	if c.maxBody == 0 {
		c.maxBody = 4 << 20
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

type option struct {
	name string
	uses use
	set  func(*config) error
}

func (o option) apply(c *config) error {
	if o.uses&c.use == 0 {
		if o.uses == httpHandler {
			return fmt.Errorf("auth: %s is an option of NewHTTPHandler", o.name)
		}
		return fmt.Errorf("auth: %s is an option of NewServer and NewClient", o.name)
	}
	return o.set(c)
}

func negative(name string, v any) error { return fmt.Errorf("auth: %s(%v): negative", name, v) }

// WithHandshakeTimeout bounds the whole handshake of a Server or Client,
// from its first byte to its last, to d (default 10 seconds); a context
// deadline that comes sooner wins.
func WithHandshakeTimeout(d time.Duration) Option {
	return option{"WithHandshakeTimeout", handshake, func(c *config) error {
		if d < 0 {
			return negative("WithHandshakeTimeout", d)
		}
		c.timeout = d
		return nil
	}}
}

// WithAllowMD5 makes the handshake of a Server or Client accept HMAC-MD5
// when allow is set: the bare 16-byte answers and 20-byte challenges of
// Python 3.11 and earlier, and the {md5} digest of later versions. It is off
// by default; without it a legacy peer fails with ErrAuthentication. Turn it
// on only while such peers remain, and read the package documentation
// first.
func WithAllowMD5(allow bool) Option {
	return option{"WithAllowMD5", handshake, func(c *config) error { c.allowMD5 = allow; return nil }}
}

// WithNonceTTL sets how long a nonce an HTTPHandler issued stays usable
// (default 60 seconds).
func WithNonceTTL(d time.Duration) Option {
	return option{"WithNonceTTL", httpHandler, func(c *config) error {
		if d < 0 {
			return negative("WithNonceTTL", d)
		}
		c.nonceTTL = d
		return nil
	}}
}

// WithMaxNonces bounds the nonces an HTTPHandler has outstanding at once
// (default 10000): issuing one more forgets the oldest.
func WithMaxNonces(n int) Option {
	return option{"WithMaxNonces", httpHandler, func(c *config) error {
		if n < 0 {
			return negative("WithMaxNonces", n)
		}
		c.maxNonces = n
		return nil
	}}
}

// WithMaxMessageSize limits the request body an HTTPHandler reads to verify
// it (default 4 MiB); a larger body gets 413 Request Entity Too Large.
func WithMaxMessageSize(n int) Option {
	return option{"WithMaxMessageSize", httpHandler, func(c *config) error {
		if n < 0 {
			return negative("WithMaxMessageSize", n)
		}
		c.maxBody = n
		return nil
	}}
}

// WithLogger gives an HTTPHandler a logger (by default it logs nothing): a
// request refused for credentials that are wrong, rather than missing, is
// logged at Warn with the key ID it claimed and the client's address.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", httpHandler, func(c *config) error { c.log = l; return nil }}
}
