package proto

// Option configures a Codec made with New.
type Option interface {
	apply(*Codec)
}

type optionFunc func(*Codec)

func (f optionFunc) apply(c *Codec) { f(c) }

// WithMaxDepth limits the nesting of Values to n levels (DefaultMaxDepth by
// default): a param, a result or error data is the first level, and each
// list or map adds one. A request nested deeper is refused with
// wire.CodeLimitExceeded before anything is decoded; a reply nested deeper is
// an error. The same n bounds the nesting of the protobuf messages that
// message_values carry (protobuf-go's UnmarshalOptions.RecursionLimit). n < 1
// selects the default, and n is capped at MaxDepth.
func WithMaxDepth(n int) Option {
	if n < 1 {
		n = DefaultMaxDepth
	}
	n = min(n, MaxDepth)
	return optionFunc(func(c *Codec) { c.maxDepth = n })
}
