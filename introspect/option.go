package introspect

import "fmt"

// Option configures the service that Register adds. Zero values mean the
// default; an invalid value makes Register fail.
type Option interface {
	apply(*config) error
}

type config struct {
	maxMulticall int
	title        string
	version      string
}

// defaultMaxMulticall is the default limit on the calls in one
// system.multicall, the same as a server's default limit on a batch, so that
// a multicall is no cheaper a way to flood a server than a batch.
const defaultMaxMulticall = 1000

func newConfig(opts []Option) (config, error) {
	cfg := config{title: "polyrpc", version: "0.0.0"}
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.maxMulticall == 0 {
		cfg.maxMulticall = defaultMaxMulticall
	}
	return cfg, nil
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithMaxMulticall limits the calls in one system.multicall (1000 by
// default); a larger one fails as a whole with rpc.CodeLimitExceeded.
func WithMaxMulticall(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return fmt.Errorf("introspect: WithMaxMulticall(%d): negative", n)
		}
		c.maxMulticall = n
		return nil
	})
}

// WithInfo sets the title and version of the API that rpc.discover reports in
// its OpenRPC document's info object (by default "polyrpc" and "0.0.0").
func WithInfo(title, version string) Option {
	return optionFunc(func(c *config) error { c.title, c.version = title, version; return nil })
}
