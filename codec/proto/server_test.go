package proto_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/rpc"
	pb "google.golang.org/protobuf/proto"
)

// Point is a struct param; its fields travel as a map.
type Point struct {
	X     int64  `json:"x"`
	Y     int64  `json:"y"`
	Label string `json:"label,omitempty"`
}

// notes records the notifications a test server received.
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) add(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, s)
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.got...)
}

// newServer returns a server with the proto codec only, the methods the
// tests call, and a client of it over the in-process transport.
func newServer(t testing.TB) (*rpc.Server, *proto.Codec, *rpc.Client, *notes) {
	t.Helper()
	c := proto.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	n := &notes{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("add", func(a, b int64) (int64, error) { return a + b, nil }))
	must(s.Register("subtract", func(a, b int64) (int64, error) { return a - b, nil },
		rpc.WithParamNames("minuend", "subtrahend")))
	must(s.Register("sum", func(xs ...int64) (int64, error) {
		var t int64
		for _, x := range xs {
			t += x
		}
		return t, nil
	}))
	must(s.Register("echo", func(v any) (any, error) { return v, nil }))
	must(s.Register("echoInts", func(xs []int64) ([]int64, error) { return xs, nil }))
	must(s.Register("list", func(xs ...any) ([]any, error) { return xs, nil }))
	must(s.Register("len", func(v any) (int, error) {
		switch x := v.(type) {
		case []any:
			return len(x), nil
		case map[string]any:
			return len(x), nil
		case string:
			return len(x), nil
		case []byte:
			return len(x), nil
		}
		return -1, nil
	}))
	must(s.Register("lenInts", func(xs []int64) (int, error) { return len(xs), nil }))
	must(s.Register("lenMap", func(m map[string]int) (int, error) { return len(m), nil }))
	must(s.Register("point", func(p Point) (Point, error) { p.X, p.Y = p.Y, p.X; return p, nil }))
	must(s.Register("thing", func(ctx context.Context, th *testpb.Thing) (*testpb.Thing, error) {
		out := pb.Clone(th).(*testpb.Thing)
		out.Id++
		out.Name = "re: " + th.GetName()
		return out, nil
	}))
	must(s.Register("things", func(ths []*testpb.Thing) (int, error) { return len(ths), nil }))
	must(s.Register("update", func(ctx context.Context, a, b int64) error { n.add("update"); return nil }))
	must(s.Register("fail", func() error {
		return &rpc.Error{Code: 42, Message: "boom", Data: map[string]any{"big": int64(math.MaxInt64), "why": "because"}}
	}))
	must(s.Register("failThing", func() error {
		return &rpc.Error{Code: 7, Message: "with details", Data: &testpb.Thing{Id: -3, Name: "detail"}}
	}))
	must(s.Register("failThings", func() error {
		return &rpc.Error{Code: 7, Message: "with details", Data: []pb.Message{&testpb.Thing{Id: 1}, &testpb.Thing{Id: 2}}}
	}))
	must(s.Register("plainfail", func() error { return errors.New("plain failure") }))
	must(s.Register("badutf8", func() (string, error) { return "bad\xff", nil }))
	must(s.Register("badmessage", func() error { return &rpc.Error{Code: 9, Message: "bad\xffmessage"} }))
	must(s.Register("chan", func() (any, error) { return make(chan int), nil }))
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, cl, n
}

// marshal encodes a generated message deterministically.
func marshal(t testing.TB, m pb.Message) []byte {
	t.Helper()
	b, err := pb.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve serves req and parses the response with the generated types.
func serve(t testing.TB, s *rpc.Server, c rpc.Codec, req []byte) *polyrpcpb.Response {
	t.Helper()
	out := s.ServeMessage(context.Background(), c, req, nil)
	var resp polyrpcpb.Response
	if err := pb.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %x: %v", out, err)
	}
	return &resp
}

// Value builders for requests written with the generated types.
func vInt(x int64) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_IntValue{IntValue: x}}
}
func vUint(x uint64) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_UintValue{UintValue: x}}
}
func vStr(s string) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_StringValue{StringValue: s}}
}
func vDouble(f float64) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_DoubleValue{DoubleValue: f}}
}
func vBool(b bool) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_BoolValue{BoolValue: b}}
}
func vNull() *polyrpcpb.Value { return &polyrpcpb.Value{Kind: &polyrpcpb.Value_NullValue{}} }
func vList(vs ...*polyrpcpb.Value) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_ListValue{ListValue: &polyrpcpb.List{Values: vs}}}
}
func vMap(m map[string]*polyrpcpb.Value) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_MapValue{MapValue: &polyrpcpb.Map{Fields: m}}}
}
func vInts(xs ...int64) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_IntList{IntList: &polyrpcpb.Int64List{Values: xs}}}
}
func vMessage(t testing.TB, m pb.Message) *polyrpcpb.Value {
	return &polyrpcpb.Value{Kind: &polyrpcpb.Value_MessageValue{MessageValue: marshal(t, m)}}
}

func TestServe(t *testing.T) {
	t.Parallel()
	s, c, _, _ := newServer(t)
	thing := &testpb.Thing{Id: 41, Name: "x", Blob: []byte{0, 1}, Nums: []int64{-1, math.MaxInt64}, Labels: map[string]string{"a": "b"}}
	tests := []struct {
		name string
		req  *polyrpcpb.Request
		want *polyrpcpb.Response
	}{
		{"positional",
			&polyrpcpb.Request{Id: 1, Method: "subtract", Params: []*polyrpcpb.Value{vInt(42), vInt(23)}},
			&polyrpcpb.Response{Id: 1, Result: vInt(19)}},
		{"named",
			&polyrpcpb.Request{Id: 3, Method: "subtract", Named: &polyrpcpb.Map{Fields: map[string]*polyrpcpb.Value{
				"subtrahend": vInt(23), "minuend": vInt(42)}}},
			&polyrpcpb.Response{Id: 3, Result: vInt(19)}},
		{"named struct",
			&polyrpcpb.Request{Id: 4, Method: "point", Named: &polyrpcpb.Map{Fields: map[string]*polyrpcpb.Value{
				"x": vInt(1), "y": vInt(2), "label": vStr("p")}}},
			&polyrpcpb.Response{Id: 4, Result: vMap(map[string]*polyrpcpb.Value{"x": vInt(2), "y": vInt(1), "label": vStr("p")})}},
		{"struct param ignores unknown keys",
			&polyrpcpb.Request{Id: 4, Method: "point", Params: []*polyrpcpb.Value{vMap(map[string]*polyrpcpb.Value{
				"x": vInt(1), "unknown": vBool(true)})}},
			&polyrpcpb.Response{Id: 4, Result: vMap(map[string]*polyrpcpb.Value{"x": vInt(0), "y": vInt(1)})}},
		{"uint param into int64",
			&polyrpcpb.Request{Id: 5, Method: "add", Params: []*polyrpcpb.Value{vUint(1 << 62), vInt(-1)}},
			&polyrpcpb.Response{Id: 5, Result: vInt(1<<62 - 1)}},
		{"variadic none",
			&polyrpcpb.Request{Id: 6, Method: "sum"},
			&polyrpcpb.Response{Id: 6, Result: vInt(0)}},
		{"variadic many",
			&polyrpcpb.Request{Id: 7, Method: "sum", Params: []*polyrpcpb.Value{vInt(1), vInt(2), vInt(3), vInt(4), vInt(5), vInt(6), vInt(7)}},
			&polyrpcpb.Response{Id: 7, Result: vInt(28)}},
		{"packed ints",
			&polyrpcpb.Request{Id: 8, Method: "echoInts", Params: []*polyrpcpb.Value{vInts(1, -2, math.MinInt64)}},
			&polyrpcpb.Response{Id: 8, Result: vInts(1, -2, math.MinInt64)}},
		{"list of ints into []int64",
			&polyrpcpb.Request{Id: 9, Method: "echoInts", Params: []*polyrpcpb.Value{vList(vInt(1), vUint(2))}},
			&polyrpcpb.Response{Id: 9, Result: vInts(1, 2)}},
		{"message",
			&polyrpcpb.Request{Id: 10, Method: "thing", Params: []*polyrpcpb.Value{vMessage(t, thing)}},
			&polyrpcpb.Response{Id: 10, Result: vMessage(t, &testpb.Thing{Id: 42, Name: "re: x", Blob: thing.Blob, Nums: thing.Nums, Labels: thing.Labels})}},
		{"list of messages",
			&polyrpcpb.Request{Id: 12, Method: "things", Params: []*polyrpcpb.Value{vList(vMessage(t, thing), vNull(), vMessage(t, thing))}},
			&polyrpcpb.Response{Id: 12, Result: vInt(3)}},
		{"null message",
			&polyrpcpb.Request{Id: 13, Method: "echo", Params: []*polyrpcpb.Value{{}}},
			&polyrpcpb.Response{Id: 13, Result: vNull()}},
		{"id zero is left out",
			&polyrpcpb.Request{Method: "add", Params: []*polyrpcpb.Value{vInt(1), vInt(2)}},
			&polyrpcpb.Response{Result: vInt(3)}},
		{"max id",
			&polyrpcpb.Request{Id: math.MaxUint64, Method: "add", Params: []*polyrpcpb.Value{vInt(1), vInt(2)}},
			&polyrpcpb.Response{Id: math.MaxUint64, Result: vInt(3)}},
		{"error with data",
			&polyrpcpb.Request{Id: 14, Method: "fail"},
			&polyrpcpb.Response{Id: 14, Error: &polyrpcpb.Error{Code: 42, Message: "boom",
				Data: vMap(map[string]*polyrpcpb.Value{"big": vInt(math.MaxInt64), "why": vStr("because")})}}},
		{"plain error",
			&polyrpcpb.Request{Id: 15, Method: "plainfail"},
			&polyrpcpb.Response{Id: 15, Error: &polyrpcpb.Error{Code: int64(rpc.CodeApplication), Message: "plain failure"}}},
		{"method not found",
			&polyrpcpb.Request{Id: 16, Method: "nope"},
			&polyrpcpb.Response{Id: 16, Error: &polyrpcpb.Error{Code: int64(rpc.CodeMethodNotFound), Message: "method not found: nope"}}},
		{"error message not UTF-8",
			&polyrpcpb.Request{Id: 17, Method: "badmessage"},
			&polyrpcpb.Response{Id: 17, Error: &polyrpcpb.Error{Code: 9, Message: "bad\uFFFDmessage"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := serve(t, s, c, marshal(t, tt.req))
			if !pb.Equal(got, tt.want) {
				t.Errorf("response\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestServeErrors checks the codes of requests that fail.
func TestServeErrors(t *testing.T) {
	t.Parallel()
	s, c, _, _ := newServer(t)
	tests := []struct {
		name   string
		req    []byte
		code   rpc.Code
		echoID uint64
	}{
		{"wrong type", marshal(t, &polyrpcpb.Request{Id: 1, Method: "add", Params: []*polyrpcpb.Value{vStr("1"), vInt(2)}}), rpc.CodeInvalidParams, 1},
		{"double into int", marshal(t, &polyrpcpb.Request{Id: 1, Method: "add", Params: []*polyrpcpb.Value{vDouble(1), vInt(2)}}), rpc.CodeInvalidParams, 1},
		{"uint beyond int64", marshal(t, &polyrpcpb.Request{Id: 1, Method: "add", Params: []*polyrpcpb.Value{vUint(1 << 63), vInt(2)}}), rpc.CodeInvalidParams, 1},
		{"too few params", marshal(t, &polyrpcpb.Request{Id: 2, Method: "add", Params: []*polyrpcpb.Value{vInt(1)}}), rpc.CodeInvalidParams, 2},
		{"unknown named param", marshal(t, &polyrpcpb.Request{Id: 3, Method: "subtract", Named: &polyrpcpb.Map{Fields: map[string]*polyrpcpb.Value{"x": vInt(1)}}}), rpc.CodeInvalidParams, 3},
		{"bad message bytes", marshal(t, &polyrpcpb.Request{Id: 4, Method: "thing", Params: []*polyrpcpb.Value{{Kind: &polyrpcpb.Value_MessageValue{MessageValue: []byte{0xff}}}}}), rpc.CodeInvalidParams, 4},
		{"map into message", marshal(t, &polyrpcpb.Request{Id: 5, Method: "thing", Params: []*polyrpcpb.Value{vMap(nil)}}), rpc.CodeInvalidParams, 5},
		{"no method", marshal(t, &polyrpcpb.Request{Id: 6}), rpc.CodeInvalidRequest, 6},
		{"both params", marshal(t, &polyrpcpb.Request{Id: 7, Method: "add", Params: []*polyrpcpb.Value{vInt(1)}, Named: &polyrpcpb.Map{}}), rpc.CodeInvalidRequest, 7},
		{"empty message", nil, rpc.CodeInvalidRequest, 0},
		{"JSON", []byte(`{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}`), rpc.CodeParseError, 0},
		{"truncated", marshal(t, &polyrpcpb.Request{Id: 8, Method: "add", Params: []*polyrpcpb.Value{vInt(1), vInt(2)}})[:10], rpc.CodeParseError, 8},
		{"method not UTF-8", []byte("\x08\x09\x12\x02a\xff"), rpc.CodeParseError, 9},
		{"string param not UTF-8", []byte("\x08\x0a\x12\x04echo\x1a\x03\x32\x01\xff"), rpc.CodeParseError, 10},
		{"invalid wire type", []byte("\x08\x0b\x12\x04echo\x0f"), rpc.CodeParseError, 11},
		{"field number 0", []byte("\x08\x0c\x12\x04echo\x00\x00"), rpc.CodeParseError, 12},
		{"unclosed group", []byte("\x08\x0d\x12\x04echo\x33\x08\x01"), rpc.CodeParseError, 13},
		{"result not encodable", marshal(t, &polyrpcpb.Request{Id: 14, Method: "chan"}), rpc.CodeInternal, 14},
		{"result not UTF-8", marshal(t, &polyrpcpb.Request{Id: 15, Method: "badutf8"}), rpc.CodeInternal, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := serve(t, s, c, tt.req)
			if got.Error == nil || rpc.Code(got.Error.Code) != tt.code || got.Id != tt.echoID || got.Result != nil {
				t.Errorf("response %v, want error %d with id %d", got, tt.code, tt.echoID)
			}
		})
	}
}

// TestServeUnknownFields checks that fields the schema does not know, at
// every level, are skipped, as protobuf does.
func TestServeUnknownFields(t *testing.T) {
	t.Parallel()
	s, c, _, _ := newServer(t)
	unknown := []byte("\xa0\x06\x01" + // field 100, varint
		"\xaa\x06\x03abc" + // field 101, bytes
		"\xb5\x06\x01\x02\x03\x04" + // field 102, fixed32
		"\xbb\x06\x08\x01\xbc\x06" + // field 103, a group holding a varint
		"\x15\x01\x02\x03\x04") // field 2, fixed32: a known number, the wrong wire type
	req := &polyrpcpb.Request{Id: 1, Method: "echo", Params: []*polyrpcpb.Value{
		vList(vInt(1), vMap(map[string]*polyrpcpb.Value{"a": vStr("b")}), vInts(1, 2)),
	}}
	// Append the unknown fields to every message of the request.
	req.ProtoReflect().SetUnknown(unknown)
	v := req.Params[0]
	v.ProtoReflect().SetUnknown(unknown)
	list := v.GetListValue()
	list.ProtoReflect().SetUnknown(unknown)
	for _, e := range list.Values {
		e.ProtoReflect().SetUnknown(unknown)
	}
	list.Values[1].GetMapValue().ProtoReflect().SetUnknown(unknown)
	list.Values[2].GetIntList().ProtoReflect().SetUnknown(unknown)
	got := serve(t, s, c, marshal(t, req))
	want := &polyrpcpb.Response{Id: 1, Result: vList(vInt(1), vMap(map[string]*polyrpcpb.Value{"a": vStr("b")}), vList(vInt(1), vInt(2)))}
	if !pb.Equal(got, want) {
		t.Errorf("response\n got %v\nwant %v", got, want)
	}
}

// TestServeIDVerbatim checks that the id is echoed as the request encoded
// it, even as a varint longer than it needs to be.
func TestServeIDVerbatim(t *testing.T) {
	t.Parallel()
	s, c, _, _ := newServer(t)
	for _, id := range [][]byte{{0x00}, {0x01}, {0x81, 0x00}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		req := append(append([]byte{0x08}, id...), "\x12\x03sum"...)
		out := s.ServeMessage(context.Background(), c, req, nil)
		want := append(append([]byte{0x08}, id...), 0x12, 0x02, 0x18, 0x00) // result int_value 0
		if !bytes.Equal(out, want) {
			t.Errorf("id % x: response % x, want % x", id, out, want)
		}
	}
	// Of two ids, the last counts.
	out := s.ServeMessage(context.Background(), c, []byte("\x08\x05\x12\x03sum\x08\x07"), nil)
	if want := []byte("\x08\x07\x12\x02\x18\x00"); !bytes.Equal(out, want) {
		t.Errorf("response % x, want % x", out, want)
	}
}

func TestServeNotification(t *testing.T) {
	t.Parallel()
	s, c, client, n := newServer(t)
	req := marshal(t, &polyrpcpb.Request{Method: "update", Params: []*polyrpcpb.Value{vInt(1), vInt(2)}, Notification: true})
	if out := s.ServeMessage(context.Background(), c, req, nil); len(out) != 0 {
		t.Errorf("notification answered with % x", out)
	}
	if err := client.Notify(context.Background(), "update", 3, 4); err != nil {
		t.Fatal(err)
	}
	// A notification that fails is not answered either.
	req = marshal(t, &polyrpcpb.Request{Method: "nope", Notification: true})
	if out := s.ServeMessage(context.Background(), c, req, nil); len(out) != 0 {
		t.Errorf("failed notification answered with % x", out)
	}
	if got := n.list(); len(got) != 2 {
		t.Errorf("notifications %v, want two updates", got)
	}
}
