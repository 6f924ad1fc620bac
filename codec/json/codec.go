package json

import (
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Codec is the JSON-RPC codec. It implements rpc.Codec, wire.BatchCodec,
// wire.MediaTyper and wire.Sniffer. A Codec is immutable once New returns it
// and is safe for concurrent use.
type Codec struct {
	maxDepth int
}

var (
	_ rpc.Codec       = (*Codec)(nil)
	_ wire.BatchCodec = (*Codec)(nil)
	_ wire.MediaTyper = (*Codec)(nil)
	_ wire.Sniffer    = (*Codec)(nil)
)

// Dialects of JSON-RPC, as carried in wire.Request.Dialect and
// wire.Response.Dialect. A response with any other dialect, such as the zero
// value the core uses for errors it raises before a request is read, is
// written in JSON-RPC 2.0.
const (
	// Dialect1 is JSON-RPC 1.0: requests with a "method" but no "jsonrpc"
	// member.
	Dialect1 uint8 = 1
	// Dialect2 is JSON-RPC 2.0: requests with a "jsonrpc" member, and those
	// too malformed to tell.
	Dialect2 uint8 = 2
)

// DefaultMaxDepth is the default limit on the nesting of arrays and objects
// in one message, the request or reply object itself included.
const DefaultMaxDepth = 128

// MaxDepth is the highest depth limit WithMaxDepth accepts. It is the
// nesting encoding/json accepts, which decodes and encodes the codec's typed
// values and recurses to do so.
const MaxDepth = 10000

// New returns a JSON-RPC codec configured by opts. The codec registered by
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

// Name returns "json", the codec's registry key.
func (c *Codec) Name() string { return "json" }

// MediaTypes returns "application/json", the type a server answers with,
// followed by the aliases "application/json-rpc" and "application/jsonrequest".
// The slice is the caller's to keep.
func (c *Codec) MediaTypes() []string {
	return []string{"application/json", "application/json-rpc", "application/jsonrequest"}
}

// Sniff reports whether a message starting with first is JSON-RPC: an object
// (a call or reply) or an array (a batch).
func (c *Codec) Sniff(first byte) bool { return first == '{' || first == '[' }

// scanError turns a scanner error into the *wire.Error a server sends:
// CodeLimitExceeded for nesting beyond the limit, CodeParseError otherwise.
func (c *Codec) scanError(err error) *wire.Error {
	if err == errTooDeep {
		return c.depthError().Reply()
	}
	return &wire.Error{Code: wire.CodeParseError, Message: "parse error: " + err.Error()}
}

// replyError describes a scanner error met while a client decodes a reply.
// It is a plain error, not an *wire.Error, so that a client does not mistake
// its own failure to read a reply for an error the server reported.
func (c *Codec) replyError(err error) error {
	if err == errTooDeep {
		return c.depthError()
	}
	return err
}

func (c *Codec) depthError() *wire.DepthError {
	return &wire.DepthError{Codec: "json", Max: c.maxDepth}
}
