package msgpack

import (
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Codec is the MessagePack-RPC codec. It implements rpc.Codec,
// wire.MediaTyper, wire.Sniffer and wire.Delimiter. A Codec is immutable once
// New returns it and is safe for concurrent use.
type Codec struct {
	maxDepth   int
	noCallMeta bool // WithoutCallMetadata
}

var (
	_ rpc.Codec       = (*Codec)(nil)
	_ wire.MediaTyper = (*Codec)(nil)
	_ wire.Sniffer    = (*Codec)(nil)
	_ wire.Delimiter  = (*Codec)(nil)
)

// DefaultMaxDepth is the default limit on the nesting of arrays and maps in
// one message, the message's own array included.
const DefaultMaxDepth = 128

// MaxDepth is the highest depth limit WithMaxDepth accepts. The codec
// decodes and encodes nested values by recursion, whose depth this bounds.
const MaxDepth = 10000

// Message types: the first element of every MessagePack-RPC message.
const (
	typeRequest      = 0
	typeResponse     = 1
	typeNotification = 2
)

// New returns a MessagePack-RPC codec configured by opts. The codec
// registered by this package is New().
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

// Name returns "msgpack", the codec's registry key.
func (c *Codec) Name() string { return "msgpack" }

// MediaTypes returns "application/msgpack", the type a server answers with,
// followed by the aliases "application/x-msgpack" and
// "application/vnd.msgpack". The slice is the caller's to keep.
func (c *Codec) MediaTypes() []string {
	return []string{"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
}

// Sniff reports whether a message starting with first is MessagePack-RPC:
// every message is an array, so its first byte is a fixarray (0x90-0x9f), an
// array 16 (0xdc) or an array 32 (0xdd) header.
func (c *Codec) Sniff(first byte) bool {
	return first >= 0x90 && first <= 0x9f || first == 0xdc || first == 0xdd
}

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
	return &wire.DepthError{Codec: "msgpack", Max: c.maxDepth}
}
func invalidRequest(msg string) *wire.Error {
	return &wire.Error{Code: wire.CodeInvalidRequest, Message: "invalid request: " + msg}
}
