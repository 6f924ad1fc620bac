package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// decodeAs decodes raw, one JSON value, into a new value of dst's type the
// way a server decodes a param: through DecodeRequest and DecodeAt.
func decodeAs(t testing.TB, raw string, typ reflect.Type) (reflect.Value, error) {
	t.Helper()
	var req wire.Request
	msg := `{"jsonrpc":"2.0","method":"m","params":[` + raw + `],"id":1}`
	if err := json.New().DecodeRequest([]byte(msg), &req); err != nil {
		t.Fatalf("DecodeRequest(%s): %v", msg, err)
	}
	v := reflect.New(typ)
	return v.Elem(), req.Params.DecodeAt(0, v.Interface())
}

// natural is the reference for numbers in interface slots: a whole number
// within int64 is an int64, within uint64 a uint64, anything else a
// float64; computed with math/big, independently of the codec.
func natural(v any) (any, bool) {
	switch x := v.(type) {
	case stdjson.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if ok && r.IsInt() {
			n := r.Num()
			if n.IsInt64() {
				return n.Int64(), true
			}
			if n.IsUint64() {
				return n.Uint64(), true
			}
		}
		f, err := x.Float64()
		return f, err == nil
	case []any:
		for i := range x {
			var ok bool
			if x[i], ok = natural(x[i]); !ok {
				return nil, false
			}
		}
	case map[string]any:
		for k := range x {
			var ok bool
			if x[k], ok = natural(x[k]); !ok {
				return nil, false
			}
		}
	}
	return v, true
}

// reference decodes raw with encoding/json; for interface types, with
// UseNumber and natural numbers. ok is false when encoding/json fails.
func reference(raw string, typ reflect.Type) (reflect.Value, bool) {
	v := reflect.New(typ)
	if typ.Kind() == reflect.Interface || typ == reflect.TypeFor[[]any]() || typ == reflect.TypeFor[map[string]any]() {
		d := stdjson.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if d.Decode(v.Interface()) != nil {
			return v.Elem(), false
		}
		n, ok := natural(v.Elem().Interface())
		if !ok {
			return v.Elem(), false
		}
		out := reflect.New(typ).Elem()
		if n != nil {
			out.Set(reflect.ValueOf(n))
		}
		return out, true
	}
	return v.Elem(), stdjson.Unmarshal([]byte(raw), v.Interface()) == nil
}

type plainStruct struct {
	A int64   `json:"a"`
	B string  `json:"b,omitempty"`
	C []int32 `json:"c"`
	D *bool
}

type anyStruct struct {
	A any            `json:"a"`
	M map[string]any `json:"m"`
	L []any          `json:"l"`
	P *anyStruct     `json:"p"`
}

// compareTypes are the destination types the differential tests try.
var compareTypes = []reflect.Type{
	reflect.TypeFor[any](),
	reflect.TypeFor[[]any](),
	reflect.TypeFor[map[string]any](),
	reflect.TypeFor[int64](),
	reflect.TypeFor[int](),
	reflect.TypeFor[int32](),
	reflect.TypeFor[int8](),
	reflect.TypeFor[uint64](),
	reflect.TypeFor[uint](),
	reflect.TypeFor[float64](),
	reflect.TypeFor[float32](),
	reflect.TypeFor[string](),
	reflect.TypeFor[bool](),
	reflect.TypeFor[*int64](),
	reflect.TypeFor[[]int64](),
	reflect.TypeFor[[]string](),
	reflect.TypeFor[map[string]int](),
	reflect.TypeFor[[]byte](),
	reflect.TypeFor[stdjson.RawMessage](),
	reflect.TypeFor[time.Time](),
	reflect.TypeFor[plainStruct](),
}

var compareValues = []string{
	`0`, `-0`, `1`, `-1`, `127`, `128`, `2147483647`, `2147483648`, `-2147483649`,
	`9007199254740993`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775808`,
	`-9223372036854775809`, `18446744073709551615`, `18446744073709551616`, `123456789012345678901234567890`,
	`1.0`, `1.5`, `-2.5e3`, `1e3`, `1E-2`, `0.000001`, `1e308`, `1e309`, `-1e400`, `4.9e-324`, `1e-400`,
	`"a"`, `""`, `"é\u00e9\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800x"`, "\"\xff\xfe\"", `"\u0000\/\b\f\n\r\t"`,
	`"2024-01-02T03:04:05Z"`, `"aGVsbG8="`, `true`, `false`, `null`,
	`[]`, `[1,"x",null,[true]]`, `[9223372036854775808]`, `{}`, `{"a":1,"b":"x","a":2}`, `{"a":{"b":[1e2,-3]}}`,
	`{"a":5,"c":[1,2],"D":true,"extra":1}`, `{"A":7,"b":"B"}`, `{"a":"x"}`, `{"c":[2147483648]}`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, raw := range compareValues {
		for _, typ := range compareTypes {
			t.Run(raw+"/"+typ.String(), func(t *testing.T) {
				t.Parallel()
				got, err := decodeAs(t, raw, typ)
				want, ok := reference(raw, typ)
				if ok != (err == nil) {
					t.Fatalf("error %v, encoding/json succeeds: %v", err, ok)
				}
				if ok && !reflect.DeepEqual(got.Interface(), want.Interface()) {
					t.Errorf("got %#v, want %#v", got.Interface(), want.Interface())
				}
			})
		}
	}
}

func TestDecodeInterfaceSlots(t *testing.T) {
	t.Parallel()
	raw := `{"a":9007199254740993,"m":{"x":[18446744073709551615,1.5]},"l":[-9223372036854775808,{"k":1e2}],"p":{"a":2.5}}`
	got, err := decodeAs(t, raw, reflect.TypeFor[anyStruct]())
	if err != nil {
		t.Fatal(err)
	}
	want := anyStruct{
		A: int64(9007199254740993),
		M: map[string]any{"x": []any{uint64(math.MaxUint64), 1.5}},
		L: []any{int64(math.MinInt64), map[string]any{"k": int64(100)}},
		P: &anyStruct{A: 2.5},
	}
	if !reflect.DeepEqual(got.Interface(), want) {
		t.Errorf("got %#v\nwant %#v", got.Interface(), want)
	}

	// Maps and arrays of interfaces, and interfaces behind embedded structs.
	type Inner struct{ V any }
	type outer struct {
		Inner
		Arr [2]any
		Map map[string][]any
	}
	got, err = decodeAs(t, `{"V":9007199254740993,"Arr":[1,2.5],"Map":{"k":[9007199254740995]}}`, reflect.TypeFor[outer]())
	if err != nil {
		t.Fatal(err)
	}
	wantOuter := outer{Inner: Inner{V: int64(9007199254740993)}, Arr: [2]any{int64(1), 2.5}, Map: map[string][]any{"k": {int64(9007199254740995)}}}
	if !reflect.DeepEqual(got.Interface(), wantOuter) {
		t.Errorf("got %#v\nwant %#v", got.Interface(), wantOuter)
	}

	// A number out of float64 range inside an interface slot is an error.
	if _, err := decodeAs(t, `{"a":1e999}`, reflect.TypeFor[anyStruct]()); err == nil {
		t.Error("1e999 decoded into an interface slot")
	}
}

func TestDecodeIntoNonPointer(t *testing.T) {
	t.Parallel()
	var r wire.Reply
	if err := json.New().DecodeReply([]byte(`{"jsonrpc":"2.0","result":1,"id":1}`), &r); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, dst := range []any{n, (*int)(nil), (*any)(nil), (*string)(nil), nil} {
		if err := r.Result.Decode(dst); err == nil {
			t.Errorf("Decode(%T) succeeded", dst)
		}
	}
}

// encodeStd is what the codec's results must match byte for byte.
func encodeStd(v any) (string, error) {
	var b bytes.Buffer
	e := stdjson.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// encodeResult returns the result as the codec encodes it in a response.
func encodeResult(v any) (string, error) {
	out, err := json.New().AppendResponse(nil, &wire.Response{Dialect: json.Dialect2, Result: v})
	if err != nil {
		return "", err
	}
	s := strings.TrimPrefix(string(out), `{"jsonrpc":"2.0","result":`)
	return strings.TrimSuffix(s, `,"id":null}`), nil
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, 0, -1, int8(-128), int16(300), int32(-5), int64(math.MinInt64), uint8(255), uint16(7),
		uint32(math.MaxUint32), uint(9), uint64(math.MaxUint64),
		0.0, math.Copysign(0, -1), 1.0, 0.1, 1e20, 1e21, 1e-6, 1e-7, 123456789.123456789, math.MaxFloat64,
		math.SmallestNonzeroFloat64, float32(0.1), float32(1e21), float32(1e-7), float32(3.4e38),
		"", "plain", "quote\" backslash\\ slash/", "\b\f\n\r\t\x00\x01\x1f\x7f", "<html> & 'x'",
		"é ü 😀", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
		[]any(nil), []any{}, []any{1, "a", nil, []any{2.5, false}}, []any{map[string]any{"b": 1, "a": 2}},
		map[string]any{"z": 1, "a": []any{}}, []int{1, 2}, []byte("bytes"), Point{X: 1, Label: "<"},
		&Point{}, stdjson.Number("12"), stdjson.RawMessage(`{"a" : 1}`), time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	for _, v := range values {
		t.Run(fmt.Sprintf("%T(%v)", v, v), func(t *testing.T) {
			t.Parallel()
			got, err := encodeResult(v)
			want, wantErr := encodeStd(v)
			if (err != nil) != (wantErr != nil) || got != want {
				t.Errorf("got %s (%v), want %s (%v)", got, err, want, wantErr)
			}
		})
	}
}

func TestEncodeRandomFloatsAndStrings(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		for _, v := range []any{f, float32(f), f * 1e-300, float64(float32(f))} {
			got, _ := encodeResult(v)
			if want, _ := encodeStd(v); got != want {
				t.Fatalf("%T %v: got %s, want %s", v, v, got, want)
			}
		}
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		got, _ := encodeResult(string(b))
		if want, _ := encodeStd(string(b)); got != want {
			t.Fatalf("%q: got %s, want %s", b, got, want)
		}
	}
}
