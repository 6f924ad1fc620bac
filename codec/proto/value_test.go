package proto_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

type (
	Celsius float64
	Name    string
	Tags    map[Name]int
	Inner   struct {
		When time.Time `json:"when"`
		Ptr  *int      `json:"ptr"`
	}
	Embedded struct {
		E int `json:"e"`
	}
	Outer struct {
		Embedded
		Name   Name           `json:"name"`
		Temp   Celsius        `json:"temp"`
		Inner  Inner          `json:"inner"`
		List   []Inner        `json:"list"`
		Map    map[string]any `json:"map"`
		Skip   string         `json:"-"`
		Empty  string         `json:"empty,omitempty"`
		Any    any            `json:"any"`
		hidden int
	}
)

// echoOf returns a handler that returns its param.
func echoOf[T any]() func(T) (T, error) { return func(v T) (T, error) { return v, nil } }

// roundTrip registers an echo of T, calls it with in and decodes the
// result into a T.
func roundTrip[T any](t *testing.T, c *proto.Codec, in T) (T, error) {
	t.Helper()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("echo", echoOf[T]()); err != nil {
		t.Fatal(err)
	}
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	err = cl.Call(context.Background(), "echo", &out, in)
	return out, err
}

// check round-trips in and compares the result with in, or with want when
// given.
func check[T any](t *testing.T, name string, in T, want ...T) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		got, err := roundTrip(t, proto.New(), in)
		if err != nil {
			t.Fatal(err)
		}
		w := in
		if len(want) > 0 {
			w = want[0]
		}
		if !equalValue(reflect.ValueOf(&got).Elem(), reflect.ValueOf(&w).Elem()) {
			t.Errorf("got %#v, want %#v", got, w)
		}
	})
}

// equalValue is reflect.DeepEqual that compares protobuf messages with
// proto.Equal.
func equalValue(a, b reflect.Value) bool {
	if a.IsValid() && a.Type().Implements(messageType) && a.Type() == b.Type() {
		return pb.Equal(a.Interface().(pb.Message), b.Interface().(pb.Message))
	}
	if a.IsValid() && a.Kind() == reflect.Slice && a.Type() == b.Type() && a.Type().Elem().Implements(messageType) {
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

var messageType = reflect.TypeFor[pb.Message]()

func TestRoundTripTypes(t *testing.T) {
	t.Parallel()
	one := 1
	check(t, "int64 max", int64(math.MaxInt64))
	check(t, "int64 min", int64(math.MinInt64))
	check(t, "2^53+1", int64(1<<53+1))
	check(t, "int zero", 0)
	check(t, "int8 min", int8(math.MinInt8))
	check(t, "int32 max", int32(math.MaxInt32))
	check(t, "uint64 max", uint64(math.MaxUint64))
	check(t, "uint8 max", uint8(math.MaxUint8))
	check(t, "uint", uint(12345))
	check(t, "float64", 0.1)
	check(t, "float64 max", math.MaxFloat64)
	check(t, "float64 smallest", math.SmallestNonzeroFloat64)
	check(t, "float64 -0", math.Copysign(0, -1))
	check(t, "float64 +Inf", math.Inf(1))
	check(t, "float32", float32(0.1))
	check(t, "bool true", true)
	check(t, "bool false", false)
	check(t, "empty string", "")
	check(t, "unicode", "wörld 😀 \u2028 \x00 <&>")
	check(t, "empty bytes", []byte{})
	check(t, "nil bytes", []byte(nil))
	check(t, "bytes", []byte{0, 1, 0xff})
	check(t, "byte array", [4]byte{1, 2, 3, 4})
	check(t, "int64s", []int64{math.MinInt64, -1, 0, 1, math.MaxInt64})
	check(t, "empty int64s", []int64{})
	check(t, "nil int64s", []int64(nil))
	check(t, "ints", []int{1, -2, 3})
	check(t, "uint32s", []uint32{0, math.MaxUint32})
	check(t, "uint64s", []uint64{0, math.MaxUint64})
	check(t, "float64s", []float64{0.5, -1, math.Inf(-1)})
	check(t, "float32s", []float32{0.5, -1})
	check(t, "strings", []string{"a", "", "é"})
	check(t, "int array", [3]int{1, 2, 3})
	check(t, "empty map", map[string]int{})
	check(t, "nil map", map[string]int(nil))
	check(t, "map", map[string]int{"b": 2, "a": 1, "": 0})
	check(t, "named types", Tags{"x": 1})
	check(t, "named float", Celsius(-40))
	check(t, "struct", Point{X: 1, Y: -2, Label: "p"})
	check(t, "struct pointer", &Point{X: 1})
	check(t, "nil struct pointer", (*Point)(nil))
	check(t, "int pointer", &one)
	check(t, "pointer to pointer", func() **int { p := &one; return &p }())
	check(t, "nested struct", Outer{
		Embedded: Embedded{E: 5},
		Name:     "n",
		Temp:     21.5,
		Inner:    Inner{When: time.Date(2024, 2, 29, 12, 0, 0, 5, time.UTC), Ptr: &one},
		List:     []Inner{{}, {Ptr: &one}},
		Map:      map[string]any{"a": []any{int64(1), "x", nil, true}, "b": map[string]any{}},
		Any:      int64(7),
	})
	check(t, "skipped and hidden fields", Outer{Skip: "s", hidden: 1}, Outer{})
	check(t, "time with zone and nanos", time.Date(2001, 2, 3, 4, 5, 6, 789012345, time.FixedZone("", 5*3600+30*60)))
	check(t, "time UTC", time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC))
	check(t, "time far", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	check(t, "any nil", any(nil))
	check(t, "any list", any([]any{int64(1), 2.5, "x", []byte("b"), nil, false, map[string]any{"k": []any{}}}))
	check(t, "50 levels", nested(50))
	check(t, "message", &testpb.Thing{Id: -1, Name: "é", Blob: []byte{0}, Nums: []int64{1}, Labels: map[string]string{"a": ""}, Child: &testpb.Thing{Big: math.MaxUint64}})
	check(t, "messages", []*testpb.Thing{{Id: 1}, nil, {Name: "x"}})
	check(t, "nil message", (*testpb.Thing)(nil))
}

// nested returns n levels of lists around a string: n Values deep.
func nested(n int) any {
	var v any = "deep"
	for range n - 1 {
		v = []any{v}
	}
	return v
}

// TestMessageClient checks that a client passes a message and decodes one
// into a message it holds, by pointer or by value.
func TestMessageClient(t *testing.T) {
	t.Parallel()
	_, _, client, _ := newServer(t)
	in := &testpb.Thing{Id: 1, Name: "n", Child: &testpb.Thing{Id: 2}}
	want := &testpb.Thing{Id: 2, Name: "re: n", Child: &testpb.Thing{Id: 2}}
	var byValue testpb.Thing
	byValue.Name = "overwritten"
	if err := client.Call(context.Background(), "thing", &byValue, in); err != nil || !pb.Equal(&byValue, want) {
		t.Errorf("by value: %v, %v", &byValue, err)
	}
	var byPointer *testpb.Thing
	if err := client.Call(context.Background(), "thing", &byPointer, in); err != nil || !pb.Equal(byPointer, want) {
		t.Errorf("by pointer: %v, %v", byPointer, err)
	}
	reused := &testpb.Thing{Big: 5}
	if err := client.Call(context.Background(), "thing", reused, in); err != nil || !pb.Equal(reused, want) {
		t.Errorf("into a message: %v, %v", reused, err)
	}
}

// TestRoundTripTime checks what of a time survives: the instant, the
// offset and the nanoseconds, but not the zone's name.
func TestRoundTripTime(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	in := time.Date(2024, 1, 15, 10, 30, 0, 123456789, berlin)
	out, err := roundTrip(t, proto.New(), in)
	if err != nil {
		t.Fatal(err)
	}
	_, off := out.Zone()
	if !out.Equal(in) || off != 3600 || out.Nanosecond() != 123456789 || out.Format(time.RFC3339Nano) != in.Format(time.RFC3339Nano) {
		t.Errorf("got %v, want %v", out, in)
	}
}

// TestNatural checks the natural Go types that a Value decodes into in an
// interface.
func TestNatural(t *testing.T) {
	t.Parallel()
	when := time.Date(2020, 5, 6, 7, 8, 9, 10, time.FixedZone("", -7200))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"int8", int8(-5), int64(-5)},
		{"uint64 small", uint64(5), int64(5)},
		{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"float32", float32(0.5), 0.5},
		{"bool", true, true},
		{"string", "s", "s"},
		{"bytes", []byte{1}, []byte{1}},
		{"empty bytes", []byte{}, []byte{}},
		{"time", when, when},
		{"int64s", []int64{1, -1}, []any{int64(1), int64(-1)}},
		{"float64s", []float64{1.5}, []any{1.5}},
		{"empty list", []string{}, []any{}},
		{"map", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{"struct", Point{X: 1, Y: 2}, map[string]any{"x": int64(1), "y": int64(2)}},
		{"message", &testpb.Thing{Id: 1}, []byte{0x08, 0x02}},
		{"nil pointer", (*int)(nil), nil},
	}
	s, _, client, _ := newServer(t)
	_ = s
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got any
			if err := client.Call(context.Background(), "echo", &got, tt.in); err != nil {
				t.Fatal(err)
			}
			if gt, ok := got.(time.Time); ok {
				if wt := tt.want.(time.Time); !gt.Equal(wt) || gt.Format(time.RFC3339Nano) != wt.Format(time.RFC3339Nano) {
					t.Errorf("got %v, want %v", gt, wt)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestDecodeErrors checks that a Value refuses Go types it does not fit.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	_, _, client, _ := newServer(t)
	// The errors say where and what was wanted in the protocol's terms,
	// never by Go type names.
	tests := []struct {
		name string
		in   any
		dst  any
		want string
	}{
		{"string into int", "1", new(int64), "cannot use string as a 64-bit integer"},
		{"int into string", 1, new(string), "cannot use integer as string"},
		{"double into int", 1.0, new(int), "cannot use double as a 64-bit integer"},
		{"300 into int8", 300, new(int8), "300 is out of the range of an 8-bit integer"},
		{"-1 into uint", -1, new(uint), "-1 is out of the range of an unsigned 64-bit integer"},
		{"uint64 max into int64", uint64(math.MaxUint64), new(int64), "18446744073709551615 is out of the range of a 64-bit integer"},
		{"256 into uint8", 256, new(uint8), "256 is out of the range of an unsigned 8-bit integer"},
		{"1e300 into float32", 1e300, new(float32), "1e+300 is out of the range of a 32-bit float"},
		{"string into bool", "true", new(bool), "cannot use string as boolean"},
		{"list into map", []int{1}, new(map[string]int), "cannot use list as object"},
		{"map into slice", map[string]int{}, new([]int), "cannot use map as array"},
		{"bad element", []any{1, "x"}, new([]int), "[1]: cannot use string as a 64-bit integer"},
		{"bad struct field", map[string]any{"x": "1"}, new(Point), "x: cannot use string as a 64-bit integer"},
		{"wrong array length", []int{1, 2}, new([3]int), "cannot use list of 2 as array of 3"},
		{"wrong byte array length", []byte{1, 2}, new([3]byte), "cannot use bytes of 2 as binary of 3 bytes"},
		{"string into bytes", "x", new([]byte), "cannot use string as binary"},
		{"int into time", 1, new(time.Time), "cannot use integer as time"},
		{"int into message", 1, new(*testpb.Thing), "cannot use integer as object"},
		{"int into interface with methods", 1, new(error), "cannot use integer as an interface with methods"},
		{"into a channel", 1, new(chan int), "a channel cannot be encoded or decoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := client.Call(context.Background(), "echo", tt.dst, tt.in)
			var e *rpc.Error
			if err == nil || errors.As(err, &e) {
				t.Errorf("decoding %#v into %T: error %v, want a decoding error", tt.in, tt.dst, err)
			}
			if want := "rpc: decoding the result of echo: " + tt.want; err == nil || err.Error() != want {
				t.Errorf("error %v\nwant  %s", err, want)
			}
		})
	}
}

// TestEncodeErrors checks values that a Value cannot hold.
func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	type P *P
	var p P
	p = &p
	self := new(any)
	*self = self
	_, c, client, _ := newServer(t)
	for _, in := range []any{
		make(chan int),
		func() {},
		complex(1, 2),
		"bad\xff",
		map[string]int{"bad\xff": 1},
		map[int]int{1: 1},
		[]any{"bad\xff"},
		p,
		self,
		nested(proto.DefaultMaxDepth + 1),
	} {
		err := client.Call(context.Background(), "echo", nil, in)
		if err == nil || !strings.HasPrefix(err.Error(), "rpc: encoding echo") {
			t.Errorf("%T: error %v, want an encoding error", in, err)
		}
		if _, err := c.AppendResponse(nil, &wire.Response{Result: in}); err == nil {
			t.Errorf("%T: AppendResponse succeeded", in)
		}
	}
}

func TestNamedParams(t *testing.T) {
	t.Parallel()
	_, _, client, _ := newServer(t)
	ctx := context.Background()
	var d int64
	if err := client.CallNamed(ctx, "subtract", &d, map[string]int64{"minuend": 42, "subtrahend": 23}); err != nil || d != 19 {
		t.Errorf("map: %d, %v", d, err)
	}
	if err := client.CallNamed(ctx, "subtract", &d, struct {
		M int64 `json:"minuend"`
		S int64 `json:"subtrahend"`
	}{10, 3}); err != nil || d != 7 {
		t.Errorf("struct: %d, %v", d, err)
	}
	var p Point
	if err := client.CallNamed(ctx, "point", &p, (*Point)(nil)); err != nil || p != (Point{}) {
		t.Errorf("nil pointer: %+v, %v", p, err)
	}
	if err := client.CallNamed(ctx, "point", &p, map[string]any{"x": 1, "label": "l"}); err != nil || p != (Point{Y: 1, Label: "l"}) {
		t.Errorf("struct param: %+v, %v", p, err)
	}
	if err := client.CallNamed(ctx, "point", &p, []int{1}); err == nil {
		t.Error("a list as named params: no error")
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	_, _, client, _ := newServer(t)
	ctx := context.Background()
	tests := []struct {
		method string
		code   rpc.Code
		msg    string
		data   any
	}{
		{"fail", 42, "boom", map[string]any{"big": int64(math.MaxInt64), "why": "because"}},
		{"plainfail", rpc.CodeApplication, "plain failure", nil},
		{"nope", rpc.CodeMethodNotFound, "method not found: nope", nil},
		{"failThing", 7, "with details", &testpb.Thing{Id: -3, Name: "detail"}},
		{"failThings", 7, "with details", []pb.Message{&testpb.Thing{Id: 1}, &testpb.Thing{Id: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			err := client.Call(ctx, tt.method, nil)
			var e *rpc.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *rpc.Error", err)
			}
			if e.Code != tt.code || e.Message != tt.msg || !equalData(e.Data, tt.data) {
				t.Errorf("error %d %q %#v, want %d %q %#v", e.Code, e.Message, e.Data, tt.code, tt.msg, tt.data)
			}
		})
	}
	var n int64
	if err := client.Call(ctx, "add", &n, "1", 2); !errors.Is(err, rpc.ErrInvalidParams) {
		t.Errorf("invalid params: %v", err)
	}
}

// equalData compares error data, messages with proto.Equal.
func equalData(a, b any) bool {
	switch x := a.(type) {
	case pb.Message:
		y, ok := b.(pb.Message)
		return ok && pb.Equal(x, y)
	case []pb.Message:
		y, ok := b.([]pb.Message)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pb.Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestUnknownDetail checks that a detail of a type the program lacks stays
// an Any.
func TestUnknownDetail(t *testing.T) {
	t.Parallel()
	c := proto.New()
	// Response{id 1, error{code 3, details [Any{type_url, value}]}}
	msg := []byte("\x08\x01\x1a\x19\x08\x06\x22\x15\x0a\x0fexample.com/a.B\x12\x02\x08\x01")
	var r wire.Reply
	if err := c.DecodeReply(msg, &r); err != nil {
		t.Fatal(err)
	}
	want := &anypb.Any{TypeUrl: "example.com/a.B", Value: []byte{8, 1}}
	if r.Error == nil || r.Error.Code != 3 || !equalData(r.Error.Data, want) {
		t.Errorf("error %+v, want code 3 with %v", r.Error, want)
	}
}

// TestDepth checks the depth limit on both ends, and that it holds however
// high it is set, without the recursion overflowing the stack.
func TestDepth(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 50, proto.DefaultMaxDepth, proto.MaxDepth} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			t.Parallel()
			c := proto.New(proto.WithMaxDepth(max))
			if got, err := roundTrip(t, c, nested(max)); err != nil || !reflect.DeepEqual(got, nested(max)) {
				t.Errorf("%d levels: %v", max, err)
			}
			if _, err := roundTrip(t, c, nested(max+1)); err == nil {
				t.Errorf("%d levels encoded", max+1)
			}
			// The server refuses a request one level too deep, and a client a
			// reply.
			var req wire.Request
			err := c.DecodeRequest(requestWith(deepValue(max+1)), &req)
			if e, ok := err.(*wire.Error); !ok || e.Code != wire.CodeLimitExceeded {
				t.Errorf("%d levels decoded: %v", max+1, err)
			}
			var r wire.Reply
			if err := c.DecodeReply(responseWith(deepValue(max+1)), &r); err == nil {
				t.Errorf("reply of %d levels decoded", max+1)
			}
			if err := c.DecodeReply(responseWith(deepValue(max)), &r); err != nil {
				t.Errorf("reply of %d levels: %v", max, err)
			}
		})
	}
}

// deepValue encodes a Value of n levels: lists around an int. It works
// outwards to find the lengths, then writes the headers inwards, so that
// a million levels cost no more than their bytes.
func deepValue(n int) []byte {
	valueLen := make([]int, n) // the length of the Value at each level, innermost first
	valueLen[0] = 2
	for i := 1; i < n; i++ {
		list := 1 + protowire.SizeBytes(valueLen[i-1])
		valueLen[i] = 1 + protowire.SizeBytes(list)
	}
	b := make([]byte, 0, valueLen[n-1])
	for i := n - 1; i > 0; i-- {
		b = protowire.AppendVarint(append(b, 0x4a), uint64(1+protowire.SizeBytes(valueLen[i-1]))) // Value.list_value
		b = protowire.AppendVarint(append(b, 0x0a), uint64(valueLen[i-1]))                        // List.values
	}
	return append(b, 0x18, 0x02) // int_value 1
}

// requestWith encodes a request to echo with the Value v as its param.
func requestWith(v []byte) []byte {
	return protowire.AppendBytes([]byte("\x08\x01\x12\x04echo\x1a"), v)
}

// responseWith encodes a response with the Value v as its result.
func responseWith(v []byte) []byte {
	return protowire.AppendBytes([]byte("\x08\x01\x12"), v)
}

// TestMessageRecursionLimit checks that a message param is unmarshalled
// with the codec's depth limit as protobuf-go's recursion limit.
func TestMessageRecursionLimit(t *testing.T) {
	t.Parallel()
	deep := func(n int) *testpb.Thing {
		th := &testpb.Thing{Id: 1}
		for range n - 1 {
			th = &testpb.Thing{Child: th}
		}
		return th
	}
	for _, max := range []int{20, 200} {
		c := proto.New(proto.WithMaxDepth(max))
		if _, err := roundTrip(t, c, deep(max)); err != nil {
			t.Errorf("limit %d: %d messages deep: %v", max, max, err)
		}
		_, err := roundTrip(t, c, deep(max+1))
		if !errors.Is(err, rpc.ErrInvalidParams) || !strings.Contains(err.Error(), "exceeded maximum recursion depth") {
			t.Errorf("limit %d: %d messages deep: %v", max, max+1, err)
		}
	}
}
