package introspect

import "github.com/polyrpc/polyrpc/rpc"

// Option configures the service that Register adds.
type Option interface {
	apply(*config)
}

type config struct {
	maxMulticall int
	title        string
	version      string
}

// DefaultMaxMulticall is the default limit on the calls in one
// system.multicall, the same as rpc.DefaultMaxBatch so that a multicall is no
// cheaper a way to flood a server than a batch.
const DefaultMaxMulticall = rpc.DefaultMaxBatch

func defaultConfig() config {
	return config{maxMulticall: DefaultMaxMulticall, title: "polyrpc", version: "0.0.0"}
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxMulticall limits the calls in one system.multicall
// (DefaultMaxMulticall by default); a larger one fails as a whole with
// rpc.CodeLimitExceeded. n <= 0 means no limit.
func WithMaxMulticall(n int) Option {
	return optionFunc(func(c *config) { c.maxMulticall = n })
}

// WithInfo sets the title and version of the API that rpc.discover reports in
// its OpenRPC document's info object (by default "polyrpc" and "0.0.0").
func WithInfo(title, version string) Option {
	return optionFunc(func(c *config) { c.title, c.version = title, version })
}
