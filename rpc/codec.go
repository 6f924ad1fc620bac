package rpc

import (
	"bufio"
	"fmt"
	"sort"
	"sync"
)

// Codec is a wire format: it turns messages into requests and replies and
// back. A codec never owns a byte stream; framing is the transport's job, so
// every method works on one whole message.
//
// Implementations are stateless and safe for concurrent use. Each codec
// package registers its codec with RegisterCodec in an init function.
type Codec interface {
	// Name is the codec's registry key: "json", "xml", "msgpack", "proto".
	Name() string
	ServerCodec
	ClientCodec
}

// ServerCodec is the half of a codec that a server uses.
type ServerCodec interface {
	// DecodeRequest decodes one request or notification from msg into req.
	// Params stay encoded until the server knows the method's parameter types;
	// req.Params may refer to msg, which the caller keeps unchanged until the
	// response has been encoded. On failure it returns an *Error
	// (CodeParseError or CodeInvalidRequest) and sets req.ID and req.Dialect
	// as far as they could be read, so the error reply can echo them.
	DecodeRequest(msg []byte, req *Request) error
	// AppendResponse appends the encoded response to dst. An error means that
	// resp.Result cannot be encoded in this format; dst is then returned
	// unchanged in length.
	AppendResponse(dst []byte, resp *Response) ([]byte, error)
}

// ClientCodec is the half of a codec that a client uses.
type ClientCodec interface {
	// AppendCall appends the encoded request or notification to dst. It
	// must not keep call, which the client reuses.
	AppendCall(dst []byte, call *Call) ([]byte, error)
	// DecodeReply decodes one reply from msg into r. r.Result may refer to
	// msg, which the caller keeps unchanged until it has decoded the result.
	DecodeReply(msg []byte, r *Reply) error
}

// BatchCodec is implemented by codecs whose messages can hold several calls
// (JSON-RPC batches). The same two methods serve servers and clients.
type BatchCodec interface {
	Codec
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

// Unordered is implemented by codecs whose messages carry no call id
// (XML-RPC). A stream transport answers such calls in the order they arrived,
// and a stream client sends one at a time on each stream, opening more
// streams for concurrent calls (see NewStreamClient).
type Unordered interface {
	Unordered() bool
}

// ID identifies a call within a connection. The core treats it as opaque: a
// server copies it from the request to the response; a client numbers its
// calls with Seq and matches replies by it.
type ID struct {
	// Raw is the id exactly as it stood in the request (codec encoded); a
	// server's codec echoes it verbatim. Nil when the request had none.
	Raw []byte
	// Seq is the client's number for the call. A codec encodes it in
	// AppendCall and parses it back from the reply in DecodeReply.
	Seq uint64
}

// Request is a request as a server decoded it.
type Request struct {
	Method string
	ID     ID
	// Notification is set for a call that expects no reply.
	Notification bool
	// Dialect is a codec-defined variant of its protocol (JSON-RPC 1.0 or
	// 2.0), copied from request to response.
	Dialect uint8
	// Params is nil when the request carried none.
	Params Params
}

// Response is a response that a server encodes.
type Response struct {
	ID      ID
	Dialect uint8
	// Result is the handler's result; ignored when Error is set.
	Result any
	Error  *Error
}

// Call is a request that a client encodes.
type Call struct {
	Method       string
	ID           ID
	Notification bool
	// Args are positional params; Named, when not nil, is sent instead as
	// named params (a map with string keys, or a struct).
	Args  []any
	Named any
}

// Reply is a reply as a client decoded it.
type Reply struct {
	ID     ID
	Result Value // nil when Error is set
	Error  *Error
}

// Params is the encoded parameter list of a request, decoded one parameter at
// a time into the types the method wants. It is used by one goroutine at a
// time. What it stores in a destination must not refer to the message's
// bytes: transports reuse the message's buffer once the call is served.
type Params interface {
	// Len is the number of positional params, or -1 for named params.
	Len() int
	// DecodeAt decodes positional param i into dst, a non-nil pointer.
	DecodeAt(i int, dst any) error
	// Names lists the names of named params in message order.
	Names() []string
	// DecodeNamed decodes the named param into dst, a non-nil pointer.
	DecodeNamed(name string, dst any) error
}

// Value is one encoded value, decoded once its Go type is known.
type Value interface {
	// Decode decodes the value into dst, a non-nil pointer. What it stores
	// in dst must not refer to the message's bytes: the client reuses the
	// message's buffer once Decode returns.
	Decode(dst any) error
}

var codecs = struct {
	sync.RWMutex
	m map[string]Codec
}{m: map[string]Codec{}}

// RegisterCodec makes a codec available to servers and clients created
// afterwards. It panics if c is nil or its name is taken, as registration
// happens in init functions where a clash is a programming error.
func RegisterCodec(c Codec) {
	if c == nil {
		panic("rpc: RegisterCodec of nil codec")
	}
	codecs.Lock()
	defer codecs.Unlock()
	if _, dup := codecs.m[c.Name()]; dup {
		panic(fmt.Sprintf("rpc: RegisterCodec called twice for %q", c.Name()))
	}
	codecs.m[c.Name()] = c
}

// LookupCodec returns the registered codec with the given name.
func LookupCodec(name string) (Codec, bool) {
	codecs.RLock()
	defer codecs.RUnlock()
	c, ok := codecs.m[name]
	return c, ok
}

// Codecs returns the registered codecs sorted by name.
func Codecs() []Codec {
	codecs.RLock()
	defer codecs.RUnlock()
	out := make([]Codec, 0, len(codecs.m))
	for _, c := range codecs.m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}
