package proto

import (
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Codec is the protobuf codec. It implements rpc.Codec, wire.MediaTyper and
// wire.Sniffer. A Codec is immutable once New returns it and is safe for
// concurrent use.
type Codec struct {
	maxDepth int
}

var (
	_ rpc.Codec       = (*Codec)(nil)
	_ wire.MediaTyper = (*Codec)(nil)
	_ wire.Sniffer    = (*Codec)(nil)
)

// DefaultMaxDepth is the default limit on the nesting of Values in one
// param, result or error data, and on the nesting of protobuf messages in a
// message_value.
const DefaultMaxDepth = 128

// MaxDepth is the highest limit WithMaxDepth accepts: protobuf-go's default
// recursion limit.
const MaxDepth = 10000

// New returns a protobuf codec configured by opts. The codec registered by
// this package is New().
func New(opts ...Option) *Codec {
	c := &Codec{maxDepth: DefaultMaxDepth}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

func init() {
	rpc.RegisterCodec(New())
}

// Name returns "proto", the codec's registry key.
func (c *Codec) Name() string { return "proto" }

// MediaTypes returns "application/x-protobuf", the type a server answers
// with, followed by the aliases "application/protobuf" and
// "application/vnd.google.protobuf". The slice is the caller's to keep.
func (c *Codec) MediaTypes() []string {
	return []string{"application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf"}
}

// Sniff reports whether a message starting with first is a protobuf
// Request: 0x08 (the id, field 1) or 0x12 (the method, field 2, when the id
// is 0 and so left out).
func (c *Codec) Sniff(first byte) bool {
	return first == tagRequestID || first == tagRequestMethod
}

// parseError is the error of a request that is not a well-formed Request.
func parseError(err error) *wire.Error {
	if d, ok := err.(*wire.DepthError); ok {
		return d.Reply()
	}
	return &wire.Error{Code: wire.CodeParseError, Message: "parse error: " + err.Error()}
}

func invalidRequest(msg string) *wire.Error {
	return &wire.Error{Code: wire.CodeInvalidRequest, Message: "invalid request: " + msg}
}
