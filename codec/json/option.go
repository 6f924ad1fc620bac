package json

// Option configures a Codec made with New.
type Option interface {
	apply(*Codec)
}

type optionFunc func(*Codec)

func (f optionFunc) apply(c *Codec) { f(c) }

// WithMaxDepth limits the nesting of arrays and objects in a message to n
// levels, the request object itself counting as the first (DefaultMaxDepth
// by default). Deeper messages are refused with wire.CodeLimitExceeded. A
// batch may be one level deeper, so that each of its calls gets the same
// limit as a call on its own. n < 1 selects the default, and n is capped at
// MaxDepth.
func WithMaxDepth(n int) Option {
	if n < 1 {
		n = DefaultMaxDepth
	}
	n = min(n, MaxDepth)
	return optionFunc(func(c *Codec) { c.maxDepth = n })
}
