package rpc

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Server or a Client. Each option says which it applies
// to; given to the other, NewServer or NewClient returns an error. Zero
// values mean the default; an invalid value is an error at construction.
type Option interface {
	apply(*config) error
}

// config is what the options of a server or a client set.
type config struct {
	client bool // the options configure a client

	log          *slog.Logger
	interceptors []Interceptor

	// Server only.
	codecs      []Codec
	maxBatch    int
	callTimeout time.Duration
	maxMemory   int64
}

// defaultMaxBatch is the default limit on the calls in one batch.
const defaultMaxBatch = 1000

// defaultMaxMemory is the default memory budget of a server.
const defaultMaxMemory = 256 << 20

func newConfig(client bool, opts []Option) (config, error) {
	cfg := config{client: client}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.maxBatch == 0 {
		cfg.maxBatch = defaultMaxBatch
	}
	if cfg.maxMemory == 0 {
		cfg.maxMemory = defaultMaxMemory
	}
	return cfg, nil
}

type option struct {
	name       string
	serverOnly bool
	set        func(*config) error
}

func (o option) apply(c *config) error {
	if o.serverOnly && c.client {
		return fmt.Errorf("rpc: %s is a server option", o.name)
	}
	return o.set(c)
}

// WithLogger gives a server or a client a logger. A server logs at Error
// level a handler's panic (with its stack) and a result its codec cannot
// encode, and at Warn level every message it refuses (unreadable, invalid,
// over a limit). By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return option{name: "WithLogger", set: func(c *config) error { c.log = l; return nil }}
}

// WithInterceptors adds interceptors around every call of a server or a
// client, in order: the first is the outermost. Options given several times
// add up.
func WithInterceptors(is ...Interceptor) Option {
	is = append([]Interceptor(nil), is...)
	return option{name: "WithInterceptors", set: func(c *config) error {
		for _, i := range is {
			if i == nil {
				return fmt.Errorf("rpc: WithInterceptors: nil interceptor")
			}
		}
		c.interceptors = append(c.interceptors, is...)
		return nil
	}}
}

// WithCodecs gives a server exactly these codecs instead of every codec
// registered (see RegisterCodec).
func WithCodecs(codecs ...Codec) Option {
	codecs = append([]Codec(nil), codecs...)
	return option{name: "WithCodecs", serverOnly: true, set: func(c *config) error {
		if len(codecs) == 0 {
			return fmt.Errorf("rpc: WithCodecs: no codec")
		}
		seen := map[string]bool{}
		for _, cd := range codecs {
			if cd == nil {
				return fmt.Errorf("rpc: WithCodecs: nil codec")
			}
			if seen[cd.Name()] {
				return fmt.Errorf("rpc: WithCodecs: codec %q given twice", cd.Name())
			}
			seen[cd.Name()] = true
		}
		c.codecs = codecs
		return nil
	}}
}

// WithMaxBatch limits the calls in one batch a server serves (1000 by
// default); a larger batch gets one CodeLimitExceeded error.
func WithMaxBatch(n int) Option {
	return option{name: "WithMaxBatch", serverOnly: true, set: func(c *config) error {
		if n < 0 {
			return fmt.Errorf("rpc: WithMaxBatch(%d): negative", n)
		}
		c.maxBatch = n
		return nil
	}}
}

// WithCallTimeout gives every call a server serves a deadline d after it
// starts, unless its context ends sooner. By default calls have none.
func WithCallTimeout(d time.Duration) Option {
	return option{name: "WithCallTimeout", serverOnly: true, set: func(c *config) error {
		if d < 0 {
			return fmt.Errorf("rpc: WithCallTimeout(%v): negative", d)
		}
		c.callTimeout = d
		return nil
	}}
}

// WithMaxMemory bounds the bytes a server holds for the messages in flight
// on all its transports' connections (256 MiB by default): requests read and
// not yet answered, replies not yet written. When it is spent, the
// transports stop reading the connections that hold the most until memory
// frees (see wire.Budget); a message larger than the whole budget is
// refused.
func WithMaxMemory(n int64) Option {
	return option{name: "WithMaxMemory", serverOnly: true, set: func(c *config) error {
		if n < 0 {
			return fmt.Errorf("rpc: WithMaxMemory(%d): negative", n)
		}
		c.maxMemory = n
		return nil
	}}
}
