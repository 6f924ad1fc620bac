package auth

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Option configures a Server, a Client (the connection handshake), an
// HTTPHandler or LoadKeyFile. Each option says which it is for; given to
// another, it is an error. A zero value means the default, and an invalid
// one is an error of the constructor.
type Option interface {
	apply(*config) error
}

// use is what a constructor builds, or what an option is for.
type use uint8

const (
	server use = 1 << iota
	client
	httpHandler
	keyFile

	handshake = server | client
)

// names are the functions an option may be given to, by use.
var names = []struct {
	use  use
	name string
}{{server, "NewServer"}, {client, "NewClient"}, {httpHandler, "NewHTTPHandler"}, {keyFile, "LoadKeyFile"}}

// config holds the options of a Server, Client, HTTPHandler or LoadKeyFile.
type config struct {
	use use

	// The handshake's.
	timeout  time.Duration
	allowMD5 bool
	rand     io.Reader

	// The Server's and the HTTPHandler's.
	log *slog.Logger

	// The HTTPHandler's.
	nonceTTL  time.Duration
	maxNonces int
	maxBody   int
	budget    *wire.Budget

	// LoadKeyFile's.
	insecurePerms bool
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
		c.maxNonces = 100000
	}
	if c.maxBody == 0 {
		c.maxBody = 4 << 20
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
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
		var of []string
		for _, n := range names {
			if o.uses&n.use != 0 {
				of = append(of, n.name)
			}
		}
		return fmt.Errorf("auth: %s is an option of %s", o.name, strings.Join(of, " and "))
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
// (default 60 seconds), on it and on every other server holding its first
// key: the window in which a signed request recorded on the way could be
// replayed once on another replica (see the package documentation).
func WithNonceTTL(d time.Duration) Option {
	return option{"WithNonceTTL", httpHandler, func(c *config) error {
		if d < 0 {
			return negative("WithNonceTTL", d)
		}
		c.nonceTTL = d
		return nil
	}}
}

// WithMaxNonces bounds the nonces an HTTPHandler remembers as used, to
// refuse them a second time (default 100000, about 5 MB). Only the
// nonces of requests signed with a key of the set count; when they are that
// many, the handler forgets the one issued first and from then on refuses
// every nonce issued no later than it, which such a client's signer answers
// by signing again with a fresh one: a shorter window, never a replay.
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

// WithMemoryBudget makes an HTTPHandler count the request bodies it reads
// to verify them in b, such as the budget of the rpc.Server behind it
// (rpc.Server.Budget): it acquires a body's bytes (the limit of
// WithMaxMessageSize when the length is not declared) before reading it,
// waiting while b is spent, and releases them once the request is served.
func WithMemoryBudget(b *wire.Budget) Option {
	return option{"WithMemoryBudget", httpHandler, func(c *config) error {
		c.budget = b
		return nil
	}}
}

// WithLogger gives a Server or an HTTPHandler a logger (by default they log
// nothing). Authentication failures are logged at Warn, at most one line per
// source address every 10 seconds, with the count of failures since the
// previous line, the last one's cause and, over HTTP, the key ID it
// claimed. A request without credentials, every HTTP client's first, and a
// request whose nonce merely expired are not failures.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", server | httpHandler, func(c *config) error { c.log = l; return nil }}
}

// WithAllowInsecureKeyPerms makes LoadKeyFile read a key file that users
// other than its owner may read or write, which it refuses by default.
func WithAllowInsecureKeyPerms(allow bool) Option {
	return option{"WithAllowInsecureKeyPerms", keyFile, func(c *config) error { c.insecurePerms = allow; return nil }}
}
