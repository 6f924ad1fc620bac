package rpc

import (
	"fmt"
	"sort"
	"sync"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Codec is a wire format: JSON-RPC, XML-RPC, msgpack-rpc or protobuf. The
// codec packages (codec/json and the others) implement it; an application
// only picks one, with the package's New function or with LookupCodec, and
// hands it to a client or a server.
//
// A codec never owns a byte stream: framing is the transport's job, so every
// method works on one whole message. Implementations are stateless and safe
// for concurrent use. Optional abilities (batches, media types, sniffing)
// are the small interfaces of package wire, found by type assertion.
type Codec interface {
	// Name is the codec's registry key: "json", "xml", "msgpack", "proto".
	Name() string

	// DecodeRequest decodes one request or notification from msg into req.
	// Params stay encoded until the server knows the method's parameter
	// types; req.Params may refer to msg, which the caller keeps unchanged
	// until the response has been encoded. On failure it returns a
	// *wire.Error (CodeParseError, CodeInvalidRequest or CodeLimitExceeded)
	// and sets req.ID and req.Dialect as far as they could be read, so that
	// the error reply can echo them.
	DecodeRequest(msg []byte, req *wire.Request) error
	// AppendResponse appends the encoded response to dst. An error means that
	// resp.Result cannot be encoded in this format; dst is then returned
	// unchanged in length.
	AppendResponse(dst []byte, resp *wire.Response) ([]byte, error)

	// AppendCall appends the encoded request or notification to dst. It
	// must not keep call, which the client reuses.
	AppendCall(dst []byte, call *wire.Call) ([]byte, error)
	// DecodeReply decodes one reply from msg into r. r.Result may refer to
	// msg, which the caller keeps unchanged until it has decoded the result.
	DecodeReply(msg []byte, r *wire.Reply) error
}

var codecs = struct {
	sync.RWMutex
	m map[string]Codec
}{m: map[string]Codec{}}

// RegisterCodec makes a codec available to servers created afterwards and to
// LookupCodec. The codec packages register themselves when imported. It
// panics if c is nil or its name is taken, as registration happens in init
// functions where a clash is a programming error.
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
