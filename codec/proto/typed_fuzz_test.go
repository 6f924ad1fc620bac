package proto_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// Named twins of the types with typed decoders and encoders: the codec
// handles a named type through reflect, so a value decoded into a twin and
// into its type must agree.
type (
	twinStrings  []string
	twinBools    []bool
	twinInts     []int
	twinInt64s   []int64
	twinFloats   []float64
	twinAnys     []any
	twinStrMap   map[string]string
	twinBoolMap  map[string]bool
	twinIntMap   map[string]int
	twinInt64Map map[string]int64
	twinFloatMap map[string]float64
	twinAnyMap   map[string]any
)

// typedPairs are a pointer to each type and to its twin.
func typedPairs() [][2]any {
	return [][2]any{
		{new([]string), new(twinStrings)},
		{new([]bool), new(twinBools)},
		{new([]int), new(twinInts)},
		{new([]int64), new(twinInt64s)},
		{new([]float64), new(twinFloats)},
		{new([]any), new(twinAnys)},
		{new(map[string]string), new(twinStrMap)},
		{new(map[string]bool), new(twinBoolMap)},
		{new(map[string]int), new(twinIntMap)},
		{new(map[string]int64), new(twinInt64Map)},
		{new(map[string]float64), new(twinFloatMap)},
		{new(map[string]any), new(twinAnyMap)},
	}
}

// abc is decoded into from maps whose keys are short, so that the fuzzer
// finds its fields.
type abc struct {
	A any `json:"a"`
	B any `json:"b"`
	C any `json:"c"`
	D any `json:"d"`
}

// paramOf returns the request whose one param is the Value payload v.
func paramOf(v []byte) []byte {
	msg := []byte("\x08\x01\x12\x01m")
	msg = protowire.AppendTag(msg, 3, protowire.BytesType)
	return protowire.AppendBytes(msg, v)
}

// FuzzTypedDecoders decodes any valid Value into each type with a typed
// decoder and into its named twin, and checks that they agree, on the
// value and on the encoding the value gets back; and into a struct,
// checking its fields against the map that the Value holds.
func FuzzTypedDecoders(f *testing.F) {
	c := proto.New(proto.WithMaxDepth(fuzzDepth))
	seed := func(x any) {
		msg, err := c.AppendCall(nil, &wire.Call{Method: "m", ID: wire.ID{Seq: 1}, Args: []any{x}})
		if err != nil {
			f.Fatal(err)
		}
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil {
			f.Fatal(err)
		}
		// The Value is the payload of the params field, at the end.
		_, _, n := protowire.ConsumeField(msg)
		_, _, m := protowire.ConsumeField(msg[n:])
		_, _, l := protowire.ConsumeTag(msg[n+m:])
		v, _ := protowire.ConsumeBytes(msg[n+m+l:])
		f.Add(v)
	}
	seed([]string{"a", "", "ü"})
	seed([]any{1, "x", 2.5, nil, true})
	seed([]float64{1, -0.5})
	seed([]int64{1, -1 << 40})
	seed(map[string]any{"a": 1, "b": "x", "c": []any{1}, "d": nil, "e": 2.5})
	seed(map[string]int64{"a": 1, "b": -2})
	seed(map[string]string{"a": "x", "c": "y"})
	seed(time.Date(2024, 5, 6, 7, 8, 9, 10, time.FixedZone("", 3600)))
	seed(nil)
	f.Add([]byte("\x52\x0c\x0a\x0a\x0a\x01a\x12\x02\x18\x02\x12\x00")) // an entry's value given twice
	f.Add([]byte("\x52\x05\x0a\x03\x0a\x01b\x52\x07\x0a\x05\x0a\x01a\x12\x00"))

	f.Fuzz(func(t *testing.T, v []byte) {
		var req wire.Request
		if c.DecodeRequest(paramOf(v), &req) != nil {
			return
		}
		// The params of a request share one budget for their natural
		// values; each decode here gets a request of its own.
		fresh := func() wire.Params {
			var req wire.Request
			if err := c.DecodeRequest(paramOf(v), &req); err != nil {
				t.Fatal(err)
			}
			return req.Params
		}
		for _, pair := range typedPairs() {
			fast, slow := pair[0], pair[1]
			errFast, errSlow := fresh().DecodeAt(0, fast), fresh().DecodeAt(0, slow)
			if (errFast == nil) != (errSlow == nil) {
				t.Fatalf("%T: %v; %T: %v", fast, errFast, slow, errSlow)
			}
			if errFast != nil {
				continue
			}
			fv := reflect.ValueOf(fast).Elem()
			sv := reflect.ValueOf(slow).Elem().Convert(fv.Type())
			if a, b := fmt.Sprintf("%#v", fv), fmt.Sprintf("%#v", sv); a != b {
				t.Fatalf("%T: %s; %T: %s", fast, a, slow, b)
			}
			ef, errF := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Seq: 1}, Result: fv.Interface()})
			es, errS := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Seq: 1}, Result: reflect.ValueOf(slow).Elem().Interface()})
			if (errF == nil) != (errS == nil) || !bytes.Equal(ef, es) {
				t.Fatalf("%T encodes as % x (%v), %T as % x (%v)", fast, ef, errF, slow, es, errS)
			}
		}

		// A time, against the natural value.
		var nat any
		if err := fresh().DecodeAt(0, &nat); tooMany(err) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		var tm time.Time
		err := req.Params.DecodeAt(0, &tm)
		switch x := nat.(type) {
		case time.Time:
			if err != nil || !same(tm, x) {
				t.Fatalf("time %v (%v), natural %v", tm, err, x)
			}
		case nil:
			if err != nil || !tm.IsZero() {
				t.Fatalf("null as a time: %v (%v)", tm, err)
			}
		default:
			if err == nil {
				t.Fatalf("%#v decoded as time %v", nat, tm)
			}
		}

		// A struct, against the map.
		var s abc
		err = fresh().DecodeAt(0, &s)
		m, isMap := nat.(map[string]any)
		switch {
		case nat == nil:
			if err != nil || s != (abc{}) {
				t.Fatalf("null as a struct: %+v (%v)", s, err)
			}
		case !isMap:
			if err == nil {
				t.Fatalf("%#v decoded as struct %+v", nat, s)
			}
		case err != nil:
			t.Fatalf("map %#v as a struct: %v", m, err)
		default:
			for i, key := range []string{"a", "b", "c", "d"} {
				if got := reflect.ValueOf(s).Field(i).Interface(); !same(got, m[key]) {
					t.Fatalf("field %s = %#v, the map has %#v", key, got, m[key])
				}
			}
		}
	})
}
