package netutil

import (
	"errors"
	"log/slog"
	"time"
)

// Option configures ProxyProtocol. A zero value means the default, and an
// invalid one is an error of ProxyProtocol.
type Option interface {
	apply(*config) error
}

type config struct {
	log           *slog.Logger
	headerTimeout time.Duration
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithLogger sets the logger of the connections refused (Warn), once per
// source address and reason with counts; none by default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		c.log = l
		return nil
	})
}

// WithHeaderTimeout bounds the wait for a trusted proxy's PROXY header from
// the connection's accept; 5 s by default.
func WithHeaderTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return errors.New("netutil: WithHeaderTimeout: negative duration " + d.String())
		}
		c.headerTimeout = d
		return nil
	})
}

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return config{}, err
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.headerTimeout == 0 {
		c.headerTimeout = 5 * time.Second
	}
	return c, nil
}
