package proto

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// This file compiles, once per Go type, the functions that decode a Value
// into a value of that type and encode one of its values as a Value.

// decodeFunc decodes the Value k into v, which is settable.
type decodeFunc func(c *Codec, k *kind, v reflect.Value) error

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

func (tc *typeCodec) decode(c *Codec, k *kind, v reflect.Value) error {
	tc.once.Do(tc.build)
	return tc.dec(c, k, v)
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

// maxPointerChain bounds a type's chain of pointer types (**T has two), so
// that a type such as `type P *P` is refused instead of followed forever.
const maxPointerChain = 32

// maxHops bounds the interfaces dereferenced in a row, without a list or
// map between them, so that an interface that holds a pointer to itself is
// refused instead of followed forever.
const maxHops = 32

func (tc *typeCodec) build() {
	t := tc.t
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
	case t == timeType:
		tc.dec, tc.enc = decTime, encTime
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		tc.dec, tc.enc = decBool, encBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		tc.dec, tc.enc = decInt, encInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		tc.dec, tc.enc = decUint, encUint
	case reflect.Float32, reflect.Float64:
		tc.dec, tc.enc = decFloat, encFloat
	case reflect.String:
		tc.dec, tc.enc = decString, encString
	case reflect.Slice:
		et := t.Elem()
		switch {
		case et.Kind() == reflect.Uint8:
			tc.dec, tc.enc = decBytes, encBytes
		case t == int64sType:
			tc.dec, tc.enc = decInt64s, encPackedInts
		default:
			tc.dec, tc.enc = decList(codecFor(et)), encSeq(codecFor(et))
		}
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			tc.dec, tc.enc = decByteArray, encByteArray
		} else {
			tc.dec, tc.enc = decList(codecFor(t.Elem())), encSeq(codecFor(t.Elem()))
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			tc.unsupported(fmt.Sprintf("map key type %v is not a string type", t.Key()))
			return
		}
		tc.dec, tc.enc = decMap(codecFor(t.Elem())), encMap(codecFor(t.Elem()))
	case reflect.Struct:
		tc.buildStruct()
	case reflect.Pointer:
		hops, final := 0, t
		for final.Kind() == reflect.Pointer && !final.Implements(messageType) {
			if hops++; hops > maxPointerChain {
				tc.unsupported(fmt.Sprintf("type %v is a chain of more than %d pointers", t, maxPointerChain))
				return
			}
			final = final.Elem()
		}
		tc.dec, tc.enc = decPointer(hops, codecFor(final)), encPointer(hops, codecFor(final))
	case reflect.Interface:
		tc.dec, tc.enc = decInterface, encInterface
	default:
		tc.unsupported(fmt.Sprintf("type %v cannot travel in a Value", t))
	}
}

// unsupported makes both functions fail with msg.
func (tc *typeCodec) unsupported(msg string) {
	err := fmt.Errorf("proto: %s", msg)
	tc.dec = func(*Codec, *kind, reflect.Value) error { return err }
	tc.enc = func(_ *Codec, dst []byte, _ reflect.Value, _, _ int) ([]byte, error) { return dst, err }
}

// structField is a struct field that travels as a map entry.
type structField struct {
	name      string
	index     []int
	omitEmpty bool
	codec     *typeCodec
	pos       int    // in the sorted fields
	keyField  []byte // the map entry's key field
}

// buildStruct compiles a struct type: a map whose keys are the field names
// that rpc.StructFields gives, written in sorted order so that the encoding
// is deterministic.
func (tc *typeCodec) buildStruct() {
	var fields []structField
	for _, f := range rpc.StructFields(tc.t) {
		if !utf8.ValidString(f.Name) {
			continue // cannot be a protobuf map key
		}
		fields = append(fields, structField{name: f.Name, index: f.Index, omitEmpty: f.OmitEmpty, codec: codecFor(f.Type)})
	}
	slices.SortFunc(fields, func(a, b structField) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	byName := make(map[string]*structField, len(fields))
	for i := range fields {
		fields[i].pos = i
		fields[i].keyField = protowire.AppendString([]byte{tagLen1}, fields[i].name)
		byName[fields[i].name] = &fields[i]
	}
	tc.dec, tc.enc = decStruct(fields, byName), encStruct(fields)
}
