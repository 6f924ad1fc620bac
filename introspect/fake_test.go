package introspect_test

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// fakeCodec is a small wire format that lets these tests drive the service
// through a codec without depending on the real ones: a request is
// {"method":..., "id":n, "params":[...] or {...}}, a reply {"id":n, "result":...}
// or {"id":n, "error":{"code":c, "message":m}}. Like a tree-decoding codec
// (XML-RPC), it decodes params into natural values first, which is what
// system.multicall's entries arrive as.
type fakeCodec struct{}

var _ rpc.Codec = fakeCodec{}

type fakeMessage struct {
	Method string             `json:"method,omitempty"`
	ID     uint64             `json:"id"`
	Params stdjson.RawMessage `json:"params,omitempty"`
	Result stdjson.RawMessage `json:"result,omitempty"`
	Error  *fakeError         `json:"error,omitempty"`
}

type fakeError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (fakeCodec) Name() string { return "fake" }

// natural decodes JSON into natural values: integers as int64, other numbers
// as float64.
func natural(b []byte) (any, error) {
	d := stdjson.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return fixNumbers(v), nil
}

func fixNumbers(v any) any {
	switch x := v.(type) {
	case stdjson.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fixNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fixNumbers(x[k])
		}
	}
	return v
}

func (fakeCodec) DecodeRequest(msg []byte, req *wire.Request) error {
	var m fakeMessage
	if err := stdjson.Unmarshal(msg, &m); err != nil {
		return &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
	}
	req.ID.Raw = strconv.AppendUint(nil, m.ID, 10)
	req.Method = m.Method
	if len(m.Params) == 0 {
		return nil
	}
	p, err := natural(m.Params)
	if err != nil {
		return &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
	}
	switch p := p.(type) {
	case []any:
		req.Params = positional(p)
	case map[string]any:
		req.Params = named(p)
	default:
		return &wire.Error{Code: wire.CodeInvalidRequest, Message: "params is neither an array nor an object"}
	}
	return nil
}

func (fakeCodec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	id, _ := strconv.ParseUint(string(resp.ID.Raw), 10, 64)
	m := fakeMessage{ID: id}
	if resp.Error != nil {
		m.Error = &fakeError{Code: int(resp.Error.Code), Message: resp.Error.Message}
	} else {
		r, err := stdjson.Marshal(resp.Result)
		if err != nil {
			return dst, err
		}
		m.Result = r
	}
	b, err := stdjson.Marshal(m)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (fakeCodec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	var p any = call.Args
	if call.Named != nil {
		p = call.Named
	}
	raw, err := stdjson.Marshal(p)
	if err != nil {
		return dst, err
	}
	b, err := stdjson.Marshal(fakeMessage{Method: call.Method, ID: call.ID.Seq, Params: raw})
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (fakeCodec) DecodeReply(msg []byte, r *wire.Reply) error {
	var m fakeMessage
	if err := stdjson.Unmarshal(msg, &m); err != nil {
		return err
	}
	r.ID.Seq = m.ID
	switch {
	case m.Error != nil:
		r.Error = &wire.Error{Code: m.Error.Code, Message: m.Error.Message}
	case m.Result != nil:
		r.Result = fakeValue(m.Result)
	default:
		return errors.New("fake: reply holds neither result nor error")
	}
	return nil
}

type fakeValue []byte

func (v fakeValue) Decode(dst any) error {
	n, err := natural(v)
	if err != nil {
		return err
	}
	return decodeNatural(n, dst)
}

// decodeNatural stores a natural value into dst through encoding/json,
// keeping integers as int64 where dst holds interfaces.
func decodeNatural(v any, dst any) error {
	b, err := stdjson.Marshal(v)
	if err != nil {
		return err
	}
	d := stdjson.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(dst); err != nil {
		return err
	}
	switch p := dst.(type) {
	case *any:
		*p = fixNumbers(*p)
	case *[]any:
		fixNumbers(*p)
	case *map[string]any:
		fixNumbers(*p)
	}
	return nil
}

// positional is a wire.Params over natural values.
type positional []any

func (p positional) Len() int                      { return len(p) }
func (p positional) DecodeAt(i int, dst any) error { return decodeNatural(p[i], dst) }
func (positional) Names() []string                 { return nil }
func (positional) DecodeNamed(string, any) error   { return errors.New("positional params only") }

type named map[string]any

func (named) Len() int                                 { return -1 }
func (named) DecodeAt(int, any) error                  { return errors.New("named params only") }
func (p named) DecodeNamed(name string, dst any) error { return decodeNatural(p[name], dst) }
func (p named) Names() []string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	return out
}

// newServer returns a server that speaks the fake codec, with the methods
// that register adds (when not nil) and the introspection service.
func newServer(t testing.TB, register func(*rpc.Server) error, opts ...introspect.Option) *rpc.Server {
	t.Helper()
	return newServerWith(t, nil, register, opts...)
}

func newServerWith(t testing.TB, sopts []rpc.Option, register func(*rpc.Server) error, opts ...introspect.Option) *rpc.Server {
	t.Helper()
	s, err := rpc.NewServer(append([]rpc.Option{rpc.WithCodecs(fakeCodec{})}, sopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if register != nil {
		if err := register(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := introspect.Register(s, opts...); err != nil {
		t.Fatal(err)
	}
	return s
}

// call calls method on s through the fake codec and decodes the result into
// result.
func call(t testing.TB, s *rpc.Server, method string, result any, params ...any) error {
	t.Helper()
	c, err := rpc.NewClient(rpc.InProcess(s), fakeCodec{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Call(context.Background(), method, result, params...)
}

// mustCall is call that fails the test on an error.
func mustCall(t testing.TB, s *rpc.Server, method string, result any, params ...any) {
	t.Helper()
	if err := call(t, s, method, result, params...); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// errorCode returns the code of err, an *rpc.Error, failing the test when it
// is anything else.
func errorCode(t testing.TB, err error) rpc.Code {
	t.Helper()
	var e *rpc.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want an *rpc.Error", err, err)
	}
	return e.Code
}
