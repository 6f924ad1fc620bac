package wire

import "bufio"

// The interfaces below are optional abilities of an rpc.Codec, found by type
// assertion.

// BatchCodec is implemented by codecs whose messages can hold several calls
// (JSON-RPC batches). The same two methods serve servers and clients.
type BatchCodec interface {
	// SplitBatch reports whether msg is a batch and, if so, returns its items
	// as slices of msg. A batch that cannot be split returns an *Error with
	// CodeParseError; one of more than max items (when max > 0) returns an
	// *Error with CodeLimitExceeded as soon as the item past max is seen, so
	// that a hostile batch costs no more than the limit.
	SplitBatch(msg []byte, max int) (items [][]byte, isBatch bool, err error)
	// AppendBatch appends a batch made of the already encoded items to dst.
	AppendBatch(dst []byte, items [][]byte) []byte
}

// MediaTyper is implemented by codecs that travel over HTTP. The first media
// type is the one a server answers with; the others are accepted aliases.
type MediaTyper interface {
	MediaTypes() []string
}

// Sniffer is implemented by codecs that a stream transport can recognise from
// the first byte of a message, so that a connection needs no preamble.
type Sniffer interface {
	Sniff(first byte) bool
}

// Delimiter is implemented by codecs whose messages delimit themselves on a
// byte stream (msgpack objects), so that stock clients of that protocol may
// send them unframed. A stream transport that finds such a codec's first
// byte where a frame header belongs reads the whole connection this way and
// answers in kind.
type Delimiter interface {
	// ReadMessage reads one whole message of at most max bytes from r and
	// appends it to dst. Memory grows with the bytes that arrive, never with
	// lengths the message declares.
	ReadMessage(r *bufio.Reader, dst []byte, max int) ([]byte, error)
}

// InOrder is implemented by codecs whose messages carry no call id
// (XML-RPC), so that replies can only be matched to calls by their order. A
// stream transport answers such calls in the order they arrived, and a
// stream client sends one call at a time on each stream, opening more
// streams for concurrent calls.
type InOrder interface {
	InOrder() bool
}
