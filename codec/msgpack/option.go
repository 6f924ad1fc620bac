package msgpack

// Option configures a Codec made with New.
type Option interface {
	apply(*Codec)
}

type optionFunc func(*Codec)

func (f optionFunc) apply(c *Codec) { f(c) }

// WithMaxDepth limits the nesting of arrays and maps in a message to n
// levels, the message's own array counting as the first (DefaultMaxDepth by
// default): a request's params array is the second level and a param's own
// arrays and maps start at the third. Deeper messages are refused with
// wire.CodeLimitExceeded before anything is decoded, and results nested
// deeper are not encoded. n < 1 selects the default, and n is capped at
// MaxDepth.
func WithMaxDepth(n int) Option {
	if n < 1 {
		n = DefaultMaxDepth
	}
	n = min(n, MaxDepth)
	return optionFunc(func(c *Codec) { c.maxDepth = n })
}

// WithoutCallMetadata makes a codec whose calls carry no metadata: its
// AppendCall ignores wire.Call.Meta and wire.Call.Entries and writes the
// requests of four elements (notifications of three) of the
// specification, for a Go client of a msgpack-rpc server other than
// polyrpc's that refuses a request of five elements, as mprpc's does. Such a client's deadline and metadata
// stay on its side. Its server side is unchanged: it reads metadata in the
// requests it serves, and answers with it those that carried some.
func WithoutCallMetadata() Option {
	return optionFunc(func(c *Codec) { c.noCallMeta = true })
}
