package xml

// DefaultMaxDepth is the default limit on the nesting of arrays and structs
// in one value.
const DefaultMaxDepth = 128

// Option configures a Codec.
type Option interface {
	apply(*Codec)
}

type optionFunc func(*Codec)

func (f optionFunc) apply(c *Codec) { f(c) }

// WithMaxDepth limits how deeply arrays and structs may nest in one value,
// DefaultMaxDepth by default; n < 1 keeps the default. Decoding a deeper
// value fails with wire.CodeLimitExceeded before any of it is converted, and
// encoding one fails too, which also stops a cyclic Go value. Decoding into
// Go types recurses once per level, so the limit also bounds that stack.
func WithMaxDepth(n int) Option {
	return optionFunc(func(c *Codec) {
		if n >= 1 {
			c.maxDepth = n
		}
	})
}
