package msgpack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
	mp "github.com/vmihailenco/msgpack/v5"
)

// sameValue is reflect.DeepEqual that takes NaN as equal to NaN and
// compares times as instants with their location.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestEchoNatural sends values through a client, the in-process transport,
// a server method taking and returning any, and back: what a value
// becomes in natural Go types.
func TestEchoNatural(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"true", true, true},
		{"false", false, false},
		{"zero", 0, int64(0)},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64)},
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"uint64 just beyond int64", uint64(math.MaxInt64) + 1, uint64(math.MaxInt64) + 1},
		{"small uint64", uint64(5), int64(5)},
		{"2^53+1", int64(1<<53 + 1), int64(1<<53 + 1)},
		{"-2^53-1", int64(-1<<53 - 1), int64(-1<<53 - 1)},
		{"int8", int8(-128), int64(-128)},
		{"uint32 max", uint32(math.MaxUint32), int64(math.MaxUint32)},
		{"float64", 0.1, 0.1},
		{"float64 negative zero", math.Copysign(0, -1), math.Copysign(0, -1)},
		{"float64 max", math.MaxFloat64, math.MaxFloat64},
		{"float64 smallest", math.SmallestNonzeroFloat64, math.SmallestNonzeroFloat64},
		{"float64 infinity", math.Inf(-1), math.Inf(-1)},
		{"float64 NaN", math.NaN(), math.NaN()},
		{"float32", float32(0.1), float64(float32(0.1))},
		{"whole float stays a float", 2.0, 2.0},
		{"empty string", "", ""},
		{"unicode", "wörld 😀 \u2028 日本", "wörld 😀 \u2028 日本"},
		{"string with every byte", allBytes(), allBytes()},
		{"long string", strings.Repeat("x", 70000), strings.Repeat("x", 70000)},
		{"empty binary", []byte{}, []byte{}},
		{"binary", []byte{0, 1, 0xfe, 0xff, 'a'}, []byte{0, 1, 0xfe, 0xff, 'a'}},
		{"nil binary", []byte(nil), nil},
		{"empty array", []any{}, []any{}},
		{"empty map", map[string]any{}, map[string]any{}},
		{"array", []any{1, "a", nil, true, []byte("b"), 1.5}, []any{int64(1), "a", nil, true, []byte("b"), 1.5}},
		{"typed slice", []int16{1, -2}, []any{int64(1), int64(-2)}},
		{"map", map[string]any{"a": map[string]any{"b": []any{}}, "": nil}, map[string]any{"a": map[string]any{"b": []any{}}, "": nil}},
		{"typed map", map[string]uint8{"x": 255}, map[string]any{"x": int64(255)}},
		{"struct", Point{X: 1, Y: 2}, map[string]any{"x": int64(1), "y": int64(2)}},
		{"50 levels", nested(50), nested(50)},
		{"time with zone and nanoseconds", time.Date(2024, 2, 29, 23, 59, 58, 123456789, zone),
			time.Date(2024, 2, 29, 18, 29, 58, 123456789, time.UTC)},
		{"time, 32-bit timestamp", time.Unix(1700000000, 0), time.Unix(1700000000, 0).UTC()},
		{"time, epoch", time.Unix(0, 0), time.Unix(0, 0).UTC()},
		{"time, 64-bit timestamp", time.Unix(1<<34-1, 999999999), time.Unix(1<<34-1, 999999999).UTC()},
		{"time, 96-bit timestamp before 1970", time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"time, 96-bit timestamp after 2514", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"zero time", time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got any
			if err := cl.Call(context.Background(), "echo", &got, tt.in); err != nil {
				t.Fatal(err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

// Record has fields of many kinds, one of them in an embedded struct.
type Record struct {
	Embedded
	Name     string         `json:"name"`
	Count    uint16         `json:"count,omitempty"`
	Ratio    float32        `json:"ratio"`
	When     time.Time      `json:"when"`
	Blob     []byte         `json:"blob"`
	Tags     []string       `json:"tags,omitempty"`
	Attrs    map[string]int `json:"attrs"`
	Any      any            `json:"any"`
	Next     *Record        `json:"next,omitempty"`
	Skipped  string         `json:"-"`
	Untagged int
	Nested   map[string][]Item `json:"nested,omitempty"`
	hidden   int
}

// Embedded's fields are promoted into Record's map.
type Embedded struct {
	ID    int64 `json:"id"`
	Owner string
}

// Item is a small struct inside a map of slices.
type Item struct {
	Key string `json:"key"`
}

// Celsius is a named float type.
type Celsius float64

// Temperature has MessagePack methods of its own: the library encodes it
// as a string such as "21.5C".
type Temperature struct{ C float64 }

func (t Temperature) EncodeMsgpack(e *mp.Encoder) error {
	return e.EncodeString(fmt.Sprintf("%gC", t.C))
}

func (t *Temperature) DecodeMsgpack(d *mp.Decoder) error {
	s, err := d.DecodeString()
	if err != nil {
		return err
	}
	_, err = fmt.Sscanf(s, "%gC", &t.C)
	return err
}

// Broken writes malformed MessagePack from its own method.
type Broken struct{}

func (Broken) MarshalMsgpack() ([]byte, error) { return []byte{0x92, 0x01}, nil }

func registerEcho[T any](t *testing.T, s *rpc.Server, name string) {
	t.Helper()
	if err := s.Register(name, func(v T) (T, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
}

// echoTyped calls the echo method for T with in and decodes into a T.
func echoTyped[T any](t *testing.T, cl *rpc.Client, name string, in T) T {
	t.Helper()
	var out T
	if err := cl.Call(context.Background(), name, &out, in); err != nil {
		t.Fatalf("%s(%v): %v", name, in, err)
	}
	return out
}

// TestEchoTyped sends values to methods with typed params and results.
func TestEchoTyped(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	registerEcho[int8](t, s, "int8")
	registerEcho[int16](t, s, "int16")
	registerEcho[int32](t, s, "int32")
	registerEcho[int64](t, s, "int64")
	registerEcho[int](t, s, "int")
	registerEcho[uint8](t, s, "uint8")
	registerEcho[uint16](t, s, "uint16")
	registerEcho[uint32](t, s, "uint32")
	registerEcho[uint64](t, s, "uint64")
	registerEcho[uint](t, s, "uint")
	registerEcho[float32](t, s, "float32")
	registerEcho[float64](t, s, "float64")
	registerEcho[Celsius](t, s, "celsius")
	registerEcho[bool](t, s, "bool")
	registerEcho[string](t, s, "string")
	registerEcho[[]byte](t, s, "bytes")
	registerEcho[[4]byte](t, s, "array4")
	registerEcho[time.Time](t, s, "time")
	registerEcho[Record](t, s, "record")
	registerEcho[*Point](t, s, "pointer")
	registerEcho[map[string]int](t, s, "map")
	registerEcho[[]string](t, s, "strings")
	registerEcho[[][]int64](t, s, "matrix")
	registerEcho[Temperature](t, s, "temperature")
	registerEcho[[]Temperature](t, s, "temperatures")
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}

	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", name, got, want)
		}
	}
	for _, v := range []int8{math.MinInt8, -1, 0, math.MaxInt8} {
		check("int8", echoTyped(t, cl, "int8", v), v)
	}
	check("int16", echoTyped(t, cl, "int16", int16(math.MinInt16)), int16(math.MinInt16))
	check("int32", echoTyped(t, cl, "int32", int32(math.MaxInt32)), int32(math.MaxInt32))
	for _, v := range []int64{math.MinInt64, -1 << 53, 1<<53 + 1, math.MaxInt64} {
		check("int64", echoTyped(t, cl, "int64", v), v)
	}
	check("int", echoTyped(t, cl, "int", math.MinInt), math.MinInt)
	check("uint8", echoTyped(t, cl, "uint8", uint8(math.MaxUint8)), uint8(math.MaxUint8))
	check("uint16", echoTyped(t, cl, "uint16", uint16(math.MaxUint16)), uint16(math.MaxUint16))
	check("uint32", echoTyped(t, cl, "uint32", uint32(math.MaxUint32)), uint32(math.MaxUint32))
	for _, v := range []uint64{0, 1<<53 + 1, math.MaxInt64 + 1, math.MaxUint64} {
		check("uint64", echoTyped(t, cl, "uint64", v), v)
	}
	check("uint", echoTyped(t, cl, "uint", uint(math.MaxUint)), uint(math.MaxUint))
	check("float32", echoTyped(t, cl, "float32", float32(math.MaxFloat32)), float32(math.MaxFloat32))
	check("float32 smallest", echoTyped(t, cl, "float32", float32(math.SmallestNonzeroFloat32)), float32(math.SmallestNonzeroFloat32))
	check("float64", echoTyped(t, cl, "float64", 1e-300), 1e-300)
	check("celsius", echoTyped(t, cl, "celsius", Celsius(-40)), Celsius(-40))
	check("bool", echoTyped(t, cl, "bool", true), true)
	check("string", echoTyped(t, cl, "string", ""), "")
	check("string", echoTyped(t, cl, "string", "😀\x00\xff"), "😀\x00\xff")
	check("bytes", echoTyped(t, cl, "bytes", []byte{}), []byte{})
	check("bytes nil", echoTyped(t, cl, "bytes", []byte(nil)), []byte(nil))
	check("bytes", echoTyped(t, cl, "bytes", []byte{0, 0xff}), []byte{0, 0xff})
	check("array4", echoTyped(t, cl, "array4", [4]byte{1, 2, 3, 4}), [4]byte{1, 2, 3, 4})
	when := time.Date(2031, 7, 1, 12, 0, 0, 5, time.FixedZone("", -7*3600))
	check("time", echoTyped(t, cl, "time", when), when.UTC())
	check("pointer", echoTyped(t, cl, "pointer", &Point{X: 3}), &Point{X: 3})
	check("nil pointer", echoTyped[*Point](t, cl, "pointer", nil), (*Point)(nil))
	check("map", echoTyped(t, cl, "map", map[string]int{"a": 1, "": -1}), map[string]int{"a": 1, "": -1})
	check("empty map", echoTyped(t, cl, "map", map[string]int{}), map[string]int{})
	check("strings", echoTyped(t, cl, "strings", []string{"a", ""}), []string{"a", ""})
	check("matrix", echoTyped(t, cl, "matrix", [][]int64{{1}, {}, nil}), [][]int64{{1}, {}, nil})
	check("temperature", echoTyped(t, cl, "temperature", Temperature{21.5}), Temperature{21.5})
	check("temperatures", echoTyped(t, cl, "temperatures", []Temperature{{1}, {-2.5}}), []Temperature{{1}, {-2.5}})

	rec := Record{
		Embedded: Embedded{ID: -7, Owner: "me"},
		Name:     "r", Ratio: 0.5, When: when.UTC(), Blob: []byte{9},
		Tags:  []string{"t"},
		Attrs: map[string]int{"k": 2}, Any: map[string]any{"deep": []any{int64(1), "two"}},
		Next:    &Record{Name: "next", When: time.Unix(0, 0).UTC()},
		Skipped: "not sent", Untagged: 5, hidden: 6,
		Nested: map[string][]Item{"i": {{Key: "k"}}},
	}
	got := echoTyped(t, cl, "record", rec)
	rec.Skipped, rec.hidden = "", 0
	check("record", got, rec)

	// A value the library writes from its own method must be valid.
	if err := s.Register("broken", func() (Broken, error) { return Broken{}, nil }); err != nil {
		t.Fatal(err)
	}
	var e *rpc.Error
	if err := cl.Call(context.Background(), "broken", nil); !errors.As(err, &e) || e.Code != rpc.CodeInternal {
		t.Errorf("broken marshaler: %v, want an internal error", err)
	}
}

// TestTemperatureWire checks that a type with its own methods travels as
// those methods say.
func TestTemperatureWire(t *testing.T) {
	t.Parallel()
	got, err := msgpack.New().AppendResponse(nil, &wire.Response{ID: wire.ID{Raw: []byte{1}}, Result: Temperature{21.5}})
	if err != nil {
		t.Fatal(err)
	}
	if want := pack(t, reply(1, nil, "21.5C")); string(got) != string(want) {
		t.Errorf("got % x, want % x", got, want)
	}
}

// TestStructNames checks that structs travel under the names encoding/json
// gives their fields, as in the other codecs.
func TestStructNames(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	for _, v := range []any{
		Record{},
		Record{Count: 1, Tags: []string{}, Next: &Record{}, Nested: map[string][]Item{}},
		Point{X: 1},
		struct {
			A int `json:"a,omitempty"`
			B int `json:",omitempty"`
			Embedded
			Item `json:"item"`
		}{},
	} {
		b, err := c.AppendResponse(nil, &wire.Response{Result: v})
		if err != nil {
			t.Fatal(err)
		}
		var r wire.Reply
		var got map[string]any
		if err := c.DecodeReply(b, &r); err != nil || r.Result.Decode(&got) != nil {
			t.Fatalf("%T: %v", v, err)
		}
		js, _ := json.Marshal(v)
		var want map[string]any
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(keys(got), keys(want)) {
			t.Errorf("%T: keys %q, encoding/json %q", v, keys(got), keys(want))
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestInvalidParamValues sends params that do not fit the method's types.
func TestInvalidParamValues(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	registerEcho[int8](t, s, "int8")
	registerEcho[uint8](t, s, "uint8")
	registerEcho[int64](t, s, "int64")
	registerEcho[uint64](t, s, "uint64")
	registerEcho[int](t, s, "int")
	registerEcho[float32](t, s, "float32")
	registerEcho[string](t, s, "string")
	registerEcho[bool](t, s, "bool")
	registerEcho[[]byte](t, s, "bytes")
	registerEcho[[4]byte](t, s, "array4")
	registerEcho[time.Time](t, s, "time")
	registerEcho[Point](t, s, "point")
	registerEcho[map[string]int](t, s, "map")
	registerEcho[[]int8](t, s, "int8s")
	registerEcho[any](t, s, "any")
	tests := []struct {
		method string
		param  any
		msg    string
	}{
		{"int8", 128, "128 is out of the range of an 8-bit integer"},
		{"int8", -129, "-129 is out of the range of an 8-bit integer"},
		{"uint8", -1, "-1 is out of the range of an unsigned 8-bit integer"},
		{"uint8", 256, "256 is out of the range of an unsigned 8-bit integer"},
		{"int64", uint64(math.MaxUint64), "18446744073709551615 is out of the range of a 64-bit integer"},
		{"int", uint64(math.MaxInt64) + 1, "9223372036854775808 is out of the range of a 64-bit integer"},
		{"uint64", int64(math.MinInt64), "-9223372036854775808 is out of the range of an unsigned 64-bit integer"},
		{"int64", 1.5, "cannot use float as a 64-bit integer"},
		{"int64", 2.0, "cannot use float as a 64-bit integer"},
		{"float32", 1e300, "1e+300 is out of the range of a 32-bit float"},
		{"string", 1, "cannot use integer as string"},
		{"bool", 1, "cannot use integer as boolean"},
		{"bytes", true, "cannot use boolean as binary"},
		{"array4", []byte{1, 2, 3}, "cannot use binary of 3 bytes as binary of 4 bytes"},
		{"time", 1, "cannot use integer as time"},
		{"time", "yesterday", "msgpack: string of 9 bytes is not an RFC 3339 time"},
		{"point", []any{1, 2}, "cannot use array as object"},
		{"point", map[string]any{"x": "1"}, "x: cannot use string as a 64-bit integer"},
		{"map", map[int]int{1: 1}, "msgpack: map key is an integer; only string keys are supported"},
		{"map", map[string]any{"a": "b"}, `["a"]: cannot use string as a 64-bit integer`},
		{"int8s", []any{1, 1000}, "[1]: 1000 is out of the range of an 8-bit integer"},
		{"any", map[int]int{1: 1}, "msgpack: map key is an integer; only string keys are supported"},
		{"any", &mp.RawMessage{0xd4, 0x05, 0x00}, "msgpack: extension type 5 has no Go value; only timestamps (type -1) decode"},
	}
	for _, tt := range tests {
		got := serve(s, c, pack(t, []any{0, 1, tt.method, []any{tt.param}}))
		want := pack(t, reply(1, &wireError{Code: -32602, Message: "invalid params: param 1: " + tt.msg}, nil))
		if string(got) != string(want) {
			var r wire.Reply
			_ = c.DecodeReply(got, &r)
			t.Errorf("%s(%v): got %v, want %q", tt.method, tt.param, r.Error, tt.msg)
		}
	}

	// Timestamps with nanoseconds beyond a second, or of a size the
	// specification does not define, are refused.
	for _, ts := range []string{"d7 ff ff ff ff ff 00 00 00 00", "c7 0c ff 3b 9a ca 00 00 00 00 00 00 00 00 00", "d5 ff 00 01"} {
		msg := append(hexb("94 00 01 a4 74 69 6d 65 91"), hexb(ts)...)
		var r wire.Reply
		if err := c.DecodeReply(serve(s, c, msg), &r); err != nil || r.Error == nil || r.Error.Code != wire.CodeInvalidParams {
			t.Errorf("timestamp %s: %v %v", ts, r.Error, err)
		}
	}
}

// Color is a named string whose text form differs from its value.
type Color string

func (c Color) MarshalText() ([]byte, error) { return []byte("color:" + string(c)), nil }

func (c *Color) UnmarshalText(b []byte) error {
	s, ok := strings.CutPrefix(string(b), "color:")
	if !ok {
		return fmt.Errorf("not a color: %q", b)
	}
	*c = Color(s)
	return nil
}

// TestMethodsEverywhere checks that a type's own methods are used wherever
// the type appears: alone, in a slice, in a map, in a struct field.
func TestMethodsEverywhere(t *testing.T) {
	t.Parallel()
	type palette struct {
		Main   Color            `json:"main"`
		Others []Color          `json:"others"`
		ByName map[string]Color `json:"by_name"`
	}
	c := msgpack.New()
	p := palette{Main: "red", Others: []Color{"green"}, ByName: map[string]Color{"sky": "blue"}}
	got, err := c.AppendResponse(nil, &wire.Response{Result: p})
	if err != nil {
		t.Fatal(err)
	}
	want := pack(t, []any{1, nil, nil, map[string]any{"main": "color:red", "others": []any{"color:green"},
		"by_name": map[string]any{"sky": "color:blue"}}})
	var r wire.Reply
	var natural any
	if err := c.DecodeReply(got, &r); err != nil || r.Result.Decode(&natural) != nil {
		t.Fatal(err)
	}
	var wantReply wire.Reply
	var wantNatural any
	if err := c.DecodeReply(want, &wantReply); err != nil || wantReply.Result.Decode(&wantNatural) != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(natural, wantNatural) {
		t.Errorf("got %#v, want %#v", natural, wantNatural)
	}
	var back palette
	if err := r.Result.Decode(&back); err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("decoded %#v, %v; want %#v", back, err, p)
	}
}

// TestResponseID checks that a response carries the msgid verbatim, and
// nil for bytes that are not one value.
func TestResponseID(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	for raw, want := range map[string]string{
		"01":                         "01",
		"a1 78":                      "a1 78",
		"cf ff ff ff ff ff ff ff ff": "cf ff ff ff ff ff ff ff ff",
		"92 01 02":                   "92 01 02",
		"80":                         "80",
		"90":                         "90",
		"a0":                         "a0",
		"":                           "c0",
		"01 02":                      "c0",
		"a2 78":                      "c0",
		"c1":                         "c0",
	} {
		got, err := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Raw: hexb(raw)}, Result: true})
		if err != nil {
			t.Fatal(err)
		}
		if w := append(append(hexb("94 01"), hexb(want)...), 0xc0, 0xc3); !reflect.DeepEqual(got, w) {
			t.Errorf("id %q: % x, want % x", raw, got, w)
		}
	}
}
