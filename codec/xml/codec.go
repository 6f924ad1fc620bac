package xml

import (
	"errors"
	"fmt"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Codec is the XML-RPC codec. It is stateless and safe for concurrent use.
type Codec struct {
	maxDepth int
}

var (
	_ rpc.Codec       = (*Codec)(nil)
	_ wire.MediaTyper = (*Codec)(nil)
	_ wire.Sniffer    = (*Codec)(nil)
	_ wire.InOrder    = (*Codec)(nil)
	_ wire.Params     = (*request)(nil)
	_ wire.Value      = (*reply)(nil)
)

// Errors for calls that XML-RPC cannot express.
var (
	// ErrNamedParams is returned for a call with named params: XML-RPC
	// params are positional only.
	ErrNamedParams = errors.New("xml: XML-RPC has no named params")
	// ErrNotification is returned for a notification: every XML-RPC call
	// gets a response, which a stream transport would otherwise leave
	// unread.
	ErrNotification = errors.New("xml: XML-RPC has no notifications")
)

// New returns a codec with the given options applied to the defaults.
func New(opts ...Option) *Codec {
	c := &Codec{maxDepth: DefaultMaxDepth}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

func init() { rpc.RegisterCodec(New()) }

// Name returns "xml", the codec's registry key.
func (c *Codec) Name() string { return "xml" }

// MediaTypes returns "text/xml", what the XML-RPC specification prescribes
// and what a server answers with, and the alias "application/xml".
func (c *Codec) MediaTypes() []string { return []string{"text/xml", "application/xml"} }

// Sniff reports whether a message starting with first may be XML-RPC.
func (c *Codec) Sniff(first byte) bool { return first == '<' }

// InOrder reports true: XML-RPC messages carry no call id, so replies are
// matched to calls by their order.
func (c *Codec) InOrder() bool { return true }

// request is a parsed methodCall: its params, decoded on demand. A few
// nodes and params live inline, so that small calls cost one allocation.
type request struct {
	doc
	idx         []int32 // node of each param
	inlineIdx   [4]int32
	inlineNodes [8]node
}

// DecodeRequest parses a methodCall. Malformed XML is wire.CodeParseError;
// XML that is not a methodCall, or holds an unknown type or an invalid
// scalar, is wire.CodeInvalidRequest; values nested deeper than the codec's
// limit are wire.CodeLimitExceeded; an encoding other than UTF-8 (or
// ISO-8859-1, which is transcoded) is the fault-interop code -32701. The
// params stay in msg until decoded, so msg must not change meanwhile.
func (c *Codec) DecodeRequest(msg []byte, req *wire.Request) error {
	r := &request{}
	p := parser{maxDepth: c.maxDepth}
	p.init(msg, r.inlineNodes[:0], r.inlineIdx[:0])
	name, err := p.methodCall()
	if err != nil {
		return toRPCError(err)
	}
	req.Method = name
	if len(p.params) > 0 {
		r.doc = doc{b: p.b, nodes: p.nodes}
		r.idx = p.params
		req.Params = r
	}
	return nil
}

func toRPCError(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return se.rpcError()
	}
	return &wire.Error{Code: wire.CodeParseError, Message: "parse error: " + err.Error()}
}

// Len returns the number of params.
func (r *request) Len() int { return len(r.idx) }

// DecodeAt decodes param i into dst.
func (r *request) DecodeAt(i int, dst any) error {
	if i < 0 || i >= len(r.idx) {
		return fmt.Errorf("xml: no param %d", i)
	}
	return r.decodeInto(int(r.idx[i]), dst)
}

// Names returns nil: XML-RPC params are positional.
func (r *request) Names() []string { return nil }

// DecodeNamed fails: XML-RPC params are positional.
func (r *request) DecodeNamed(string, any) error { return ErrNamedParams }

const (
	xmlDecl          = `<?xml version="1.0"?>`
	responseStart    = xmlDecl + `<methodResponse><params><param>`
	responseEnd      = `</param></params></methodResponse>`
	faultStart       = xmlDecl + `<methodResponse><fault><value><struct><member><name>faultCode</name>`
	faultStringStart = `</member><member><name>faultString</name><value><string>`
	faultEnd         = `</string></value></member></struct></value></fault></methodResponse>`
)

// AppendResponse appends a methodResponse: the result as its one param (a
// result-less method's as <nil/>), or the error as a fault whose struct
// holds exactly faultCode and faultString. XML-RPC has no room for
// wire.Error.Data, so it is dropped; characters of the message that XML
// cannot carry become U+FFFD rather than lose the fault.
func (c *Codec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	n := len(dst)
	if e := resp.Error; e != nil {
		b := append(dst, faultStart...)
		b = appendInt(b, int64(e.Code))
		b = append(b, faultStringStart...)
		b, _ = appendText(b, e.Message, true)
		return append(b, faultEnd...), nil
	}
	b := append(dst, responseStart...)
	b, err := c.appendValue(b, resp.Result, 0)
	if err != nil {
		return dst[:n], err
	}
	return append(b, responseEnd...), nil
}

// AppendCall appends a methodCall with call.Args as its params. Named
// params (ErrNamedParams) and notifications (ErrNotification) have no
// XML-RPC form.
func (c *Codec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	n := len(dst)
	switch {
	case call.Named != nil:
		return dst, ErrNamedParams
	case call.Notification:
		return dst, ErrNotification
	case call.Method == "":
		return dst, errors.New("xml: empty method name")
	}
	b := append(dst, xmlDecl+`<methodCall><methodName>`...)
	b, err := appendText(b, call.Method, false)
	if err != nil {
		return dst[:n], fmt.Errorf("method name: %w", err)
	}
	b = append(b, `</methodName><params>`...)
	for k, a := range call.Args {
		b = append(b, `<param>`...)
		if b, err = c.appendValue(b, a, 0); err != nil {
			return dst[:n], fmt.Errorf("param %d: %w", k+1, err)
		}
		b = append(b, `</param>`...)
	}
	return append(b, `</params></methodCall>`...), nil
}

// reply is a parsed methodResponse; as an wire.Value it is its result.
type reply struct {
	doc
	result      int // node of the result
	inlineNodes [8]node
}

// DecodeReply parses a methodResponse. A fault becomes r.Error, an
// *wire.Error with the fault's code and string; a response without a param
// leaves r.Result nil. r.Result refers to msg until decoded.
func (c *Codec) DecodeReply(msg []byte, r *wire.Reply) error {
	rp := &reply{}
	p := parser{maxDepth: c.maxDepth}
	var idx [1]int32
	p.init(msg, rp.inlineNodes[:0], idx[:0])
	fault, err := p.methodResponse()
	if err != nil {
		return err
	}
	rp.doc = doc{b: p.b, nodes: p.nodes}
	if fault >= 0 {
		r.Error, err = rp.fault(fault)
		return err
	}
	if len(p.params) == 1 {
		rp.result = int(p.params[0])
		r.Result = rp
	}
	return nil
}

// Decode decodes the result into dst, a non-nil pointer.
func (r *reply) Decode(dst any) error { return r.decodeInto(r.result, dst) }
