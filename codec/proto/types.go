package proto

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// This file compiles, once per Go type, the functions that decode a Value
// into a value of that type and encode one of its values as a Value.

// decodeFunc decodes the Value k into v, which is settable, in the decode d.
type decodeFunc func(d *decoder, k *kind, v reflect.Value) error

// encodeFunc appends the fields of a Value holding v at nesting level depth;
// hops counts the interfaces dereferenced since the last list or map.
type encodeFunc func(c *Codec, dst []byte, v reflect.Value, depth, hops int) ([]byte, error)

// typeCodec holds the compiled functions of one type. They are built on
// first use, so that a recursive type refers to its own typeCodec.
type typeCodec struct {
	t    reflect.Type
	once sync.Once
	dec  decodeFunc
	enc  encodeFunc
}

var typeCodecs sync.Map // reflect.Type → *typeCodec

// codecFor returns the typeCodec of t, without building it.
func codecFor(t reflect.Type) *typeCodec {
	if tc, ok := typeCodecs.Load(t); ok {
		return tc.(*typeCodec)
	}
	tc, _ := typeCodecs.LoadOrStore(t, &typeCodec{t: t})
	return tc.(*typeCodec)
}

func (tc *typeCodec) decode(d *decoder, k *kind, v reflect.Value) error {
	tc.once.Do(tc.build)
	return tc.dec(d, k, v)
}

func (tc *typeCodec) encode(c *Codec, dst []byte, v reflect.Value, depth, hops int) ([]byte, error) {
	tc.once.Do(tc.build)
	return tc.enc(c, dst, v, depth, hops)
}

var (
	messageType = reflect.TypeFor[pb.Message]()
	timeType    = reflect.TypeFor[time.Time]()
	int64sType  = reflect.TypeFor[[]int64]()
	anyMapType  = reflect.TypeFor[map[string]any]()
)

// maxHops bounds the interfaces dereferenced in a row, without a list or
// map between them, so that an interface that holds a pointer to itself is
// refused instead of followed forever.
const maxHops = 32

func (tc *typeCodec) build() {
	t := tc.t
	p := wire.PlanOf(t)
	defer func() {
		if typed, ok := typedDecoders[t]; ok {
			tc.dec = typed(tc.dec)
		}
		tc.enc = typedEncoder(t, tc.enc)
	}()
	switch {
	case t.Kind() == reflect.Pointer && t.Implements(messageType):
		tc.dec, tc.enc = decMessagePtr, encMessagePtr
		return
	case t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(messageType):
		tc.dec, tc.enc = decMessageStruct, encMessageStruct
		return
	}
	switch p.Kind {
	case wire.KindTime:
		tc.dec, tc.enc = decWith(timeElem, setValue), encTime
	case wire.KindBool:
		tc.dec, tc.enc = decWith(boolElem, reflect.Value.SetBool), encBool
	case wire.KindInt:
		tc.dec, tc.enc = decWith(func(k *kind) (int64, error) { return intOf(k, p) }, reflect.Value.SetInt), encInt
	case wire.KindUint:
		tc.dec, tc.enc = decWith(func(k *kind) (uint64, error) { return uintOf(k, p) }, reflect.Value.SetUint), encUint
	case wire.KindFloat:
		tc.dec, tc.enc = decWith(func(k *kind) (float64, error) { return floatOf(k, p) }, reflect.Value.SetFloat), encFloat
	case wire.KindString:
		tc.dec, tc.enc = decWith(stringElem, reflect.Value.SetString), encString
	case wire.KindBytes:
		tc.dec, tc.enc = decWith(bytesElem, reflect.Value.SetBytes), encBytes
	case wire.KindByteArray:
		tc.dec, tc.enc = decByteArray(p), encByteArray
	case wire.KindSlice, wire.KindArray:
		if t == int64sType {
			tc.dec, tc.enc = decWith(int64s, setValue), encPackedInts
		} else {
			tc.dec, tc.enc = decList(p, codecFor(t.Elem())), encSeq(p.Elem, codecFor(t.Elem()))
		}
	case wire.KindMap:
		tc.dec, tc.enc = decMap(codecFor(t.Elem())), encMap(codecFor(t.Elem()))
	case wire.KindStruct:
		tc.buildStruct(p)
	case wire.KindPointer:
		// What the pointers lead to: a message, which its pointer
		// encodes, or the end of the chain, which the plan bounds.
		hops, q := 1, p.Elem
		for q.Kind == wire.KindPointer && !q.Type.Implements(messageType) {
			hops, q = hops+1, q.Elem
		}
		tc.dec, tc.enc = decPointer(hops, codecFor(q.Type)), encPointer(hops, codecFor(q.Type))
	case wire.KindInterface:
		tc.dec, tc.enc = decInterface(p), encInterface
	default:
		tc.dec = func(*decoder, *kind, reflect.Value) error { return p.Unsupported() }
		tc.enc = func(_ *Codec, dst []byte, _ reflect.Value, _, _ int) ([]byte, error) { return dst, p.Unsupported() }
	}
}

// structField is a struct field that travels as a map entry.
type structField struct {
	*wire.Field
	decl     int // the field's position in the plan's Fields
	codec    *typeCodec
	keyField []byte // the map entry's key field
}

// buildStruct compiles a struct type: a map whose keys are the names of
// the plan's fields, written in sorted order so that the encoding is
// deterministic.
func (tc *typeCodec) buildStruct(p *wire.Plan) {
	var fields []structField
	for i := range p.Fields {
		f := &p.Fields[i]
		if !utf8.ValidString(f.Name) {
			continue // cannot be a protobuf map key
		}
		fields = append(fields, structField{Field: f, decl: i, codec: codecFor(f.Type)})
	}
	slices.SortFunc(fields, func(a, b structField) int { return strings.Compare(a.Name, b.Name) })
	// sorted maps a field's position in the plan to its position here.
	sorted := make([]int, len(p.Fields))
	for i := range sorted {
		sorted[i] = -1
	}
	for i := range fields {
		fields[i].keyField = protowire.AppendString([]byte{tagLen1}, fields[i].Name)
		sorted[fields[i].decl] = i
	}
	tc.dec, tc.enc = decStruct(p, fields, sorted), encStruct(fields)
}
