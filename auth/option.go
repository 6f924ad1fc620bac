package auth

import (
	"crypto/rand"
	"io"
	"time"
)

// Defaults of the options.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultNonceTTL         = 60 * time.Second
	DefaultMaxNonces        = 10000
	DefaultMaxBodySize      = 4 << 20
)

// Option configures the connection handshake of a Server or a Client.
type Option interface {
	applyHandshake(*handshakeConfig)
}

type handshakeConfig struct {
	timeout  time.Duration
	allowMD5 bool
	rand     io.Reader
}

func newHandshakeConfig(opts []Option) handshakeConfig {
	c := handshakeConfig{timeout: DefaultHandshakeTimeout, rand: rand.Reader}
	for _, o := range opts {
		o.applyHandshake(&c)
	}
	return c
}

type handshakeOption func(*handshakeConfig)

func (f handshakeOption) applyHandshake(c *handshakeConfig) { f(c) }

// WithHandshakeTimeout bounds the whole handshake, from its first byte to its
// last, to d (DefaultHandshakeTimeout); a context deadline that comes sooner
// wins. d <= 0 restores the default: a handshake is never unbounded.
func WithHandshakeTimeout(d time.Duration) Option {
	return handshakeOption(func(c *handshakeConfig) {
		if d <= 0 {
			d = DefaultHandshakeTimeout
		}
		c.timeout = d
	})
}

// WithAllowMD5 makes the handshake accept HMAC-MD5 when allow is set: the
// bare 16-byte answers and 20-byte challenges of Python 3.11 and earlier, and
// the {md5} digest of later versions. It is off by default; without it a
// legacy peer fails with ErrAuthentication. Turn it on only while such peers
// remain, and read the package documentation first.
func WithAllowMD5(allow bool) Option {
	return handshakeOption(func(c *handshakeConfig) { c.allowMD5 = allow })
}

// HTTPOption configures an HTTPHandler.
type HTTPOption interface {
	applyHTTP(*httpConfig)
}

type httpConfig struct {
	nonceTTL  time.Duration
	maxNonces int
	maxBody   int64
}

type httpOption func(*httpConfig)

func (f httpOption) applyHTTP(c *httpConfig) { f(c) }

// WithNonceTTL sets how long an issued nonce stays usable (DefaultNonceTTL).
// d <= 0 restores the default.
func WithNonceTTL(d time.Duration) HTTPOption {
	return httpOption(func(c *httpConfig) {
		if d <= 0 {
			d = DefaultNonceTTL
		}
		c.nonceTTL = d
	})
}

// WithMaxNonces bounds the nonces outstanding at once (DefaultMaxNonces):
// issuing one more forgets the oldest. n <= 0 restores the default.
func WithMaxNonces(n int) HTTPOption {
	return httpOption(func(c *httpConfig) {
		if n <= 0 {
			n = DefaultMaxNonces
		}
		c.maxNonces = n
	})
}

// WithMaxBodySize limits the request body the handler reads to verify it
// (DefaultMaxBodySize); a larger body gets 413 Request Entity Too Large.
// n <= 0 restores the default.
func WithMaxBodySize(n int64) HTTPOption {
	return httpOption(func(c *httpConfig) {
		if n <= 0 {
			n = DefaultMaxBodySize
		}
		c.maxBody = n
	})
}
