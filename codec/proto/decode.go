package proto

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// decodeValue decodes the Value k into dst, a non-nil pointer. The common
// destinations are decoded here directly; any other goes through its
// compiled typeCodec.
func (c *Codec) decodeValue(k *kind, dst any) error {
	switch d := dst.(type) {
	case *int64:
		if d != nil {
			x, err := intOf(k, 64)
			if err == nil {
				*d = x
			}
			return err
		}
	case *int:
		if d != nil {
			x, err := intOf(k, strconv.IntSize)
			if err == nil {
				*d = int(x)
			}
			return err
		}
	case *uint64:
		if d != nil {
			x, err := uintOf(k, 64)
			if err == nil {
				*d = x
			}
			return err
		}
	case *float64:
		if d != nil {
			x, err := floatOf(k, 64)
			if err == nil {
				*d = x
			}
			return err
		}
	case *string:
		if d != nil {
			switch k.num {
			case fString:
				*d = string(k.bytes())
				return nil
			case 0, fNull:
				*d = ""
				return nil
			}
			return typeError(k, "string")
		}
	case *bool:
		if d != nil {
			switch k.num {
			case fBool:
				*d = k.u != 0
				return nil
			case 0, fNull:
				*d = false
				return nil
			}
			return typeError(k, "bool")
		}
	case *any:
		if d != nil {
			*d = natural(k)
			return nil
		}
	case *[]byte:
		if d != nil {
			switch k.num {
			case fBytes, fMessage:
				*d = append(make([]byte, 0, len(k.bytes())), k.bytes()...)
				return nil
			case 0, fNull:
				*d = nil
				return nil
			}
			return typeError(k, "[]byte")
		}
	case *[]int64:
		if d != nil {
			x, err := int64s(k)
			if err == nil {
				*d = x
			}
			return err
		}
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("proto: cannot decode into %T, not a non-nil pointer", dst)
	}
	// The compiled functions are called through function values, through
	// which k would escape; a copy does, so that the fast paths above cost
	// their callers no allocation.
	kk := *k
	return codecFor(rv.Type().Elem()).decode(c, &kk, rv.Elem())
}

func isNull(k *kind) bool { return k.num == 0 || k.num == fNull }

func typeError(k *kind, goType any) error {
	return fmt.Errorf("proto: cannot decode %s into %v", kindName(k), goType)
}

// intOf returns the integer k holds, which must fit in a signed integer of
// the given bits. Null is 0.
func intOf(k *kind, bits uint) (int64, error) {
	var x int64
	switch k.num {
	case fInt:
		x = protowire.DecodeZigZag(k.u)
	case fUint:
		if k.u > math.MaxInt64 {
			return 0, fmt.Errorf("proto: %d overflows int%d", k.u, bits)
		}
		x = int64(k.u)
	case 0, fNull:
		return 0, nil
	default:
		return 0, typeError(k, "int"+strconv.Itoa(int(bits)))
	}
	if bits < 64 && (x < -1<<(bits-1) || x > 1<<(bits-1)-1) {
		return 0, fmt.Errorf("proto: %d overflows int%d", x, bits)
	}
	return x, nil
}

// uintOf returns the integer k holds, which must fit in an unsigned integer
// of the given bits. Null is 0.
func uintOf(k *kind, bits uint) (uint64, error) {
	var x uint64
	switch k.num {
	case fUint:
		x = k.u
	case fInt:
		i := protowire.DecodeZigZag(k.u)
		if i < 0 {
			return 0, fmt.Errorf("proto: %d overflows uint%d", i, bits)
		}
		x = uint64(i)
	case 0, fNull:
		return 0, nil
	default:
		return 0, typeError(k, "uint"+strconv.Itoa(int(bits)))
	}
	if bits < 64 && x > 1<<bits-1 {
		return 0, fmt.Errorf("proto: %d overflows uint%d", x, bits)
	}
	return x, nil
}

// floatOf returns the number k holds as a float of the given bits. Integers
// convert to the nearest float. Null is 0.
func floatOf(k *kind, bits int) (float64, error) {
	var f float64
	switch k.num {
	case fDouble:
		f = math.Float64frombits(k.u)
	case fInt:
		f = float64(protowire.DecodeZigZag(k.u))
	case fUint:
		f = float64(k.u)
	case 0, fNull:
		return 0, nil
	default:
		return 0, typeError(k, "float"+strconv.Itoa(bits))
	}
	if bits == 32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
		return 0, fmt.Errorf("proto: %v overflows float32", f)
	}
	return f, nil
}

// int64s decodes a list of integers (packed or not) into a new []int64.
func int64s(k *kind) ([]int64, error) {
	switch k.num {
	case 0, fNull:
		return nil, nil
	case fIntList, fList, fDoubleList: // a double fails, as an element
	default:
		return nil, typeError(k, "[]int64")
	}
	out := make([]int64, count(k))
	if k.num == fIntList {
		// The common case, without the generality of elems.
		i := 0
		var f field
		for it := k.m.fields(); it.next(&f); {
			switch {
			case f.num != fPackedValues:
			case f.typ == protowire.VarintType:
				out[i] = protowire.DecodeZigZag(f.u)
				i++
			case f.typ == protowire.BytesType:
				i += decodePacked(out[i:], f.raw)
			}
		}
		return out, nil
	}
	l := elemsOf(k)
	var e kind
	for i := 0; l.next(&e); i++ {
		if e.num == fInt {
			out[i] = protowire.DecodeZigZag(e.u)
			continue
		}
		x, err := intOf(&e, 64)
		if err != nil {
			return nil, indexError(i, err)
		}
		out[i] = x
	}
	return out, nil
}

// decodePacked decodes the validated packed sint64s p into out, which has
// room for them, and returns their number. It inlines what
// protowire.ConsumeVarint does, without the checks that validation made.
func decodePacked(out []int64, p []byte) int {
	i := 0
	for len(p) > 0 {
		var v uint64
		j := 0
		for s := uint(0); ; s += 7 {
			c := p[j]
			j++
			v |= uint64(c&0x7f) << s
			if c < 0x80 {
				break
			}
		}
		p = p[j:]
		out[i] = protowire.DecodeZigZag(v)
		i++
	}
	return i
}

// indexError names the list element an error is about.
func indexError(i int, err error) error {
	return fmt.Errorf("[%d]: %w", i, err)
}

func decBool(c *Codec, k *kind, v reflect.Value) error {
	switch k.num {
	case fBool:
		v.SetBool(k.u != 0)
	case 0, fNull:
		v.SetBool(false)
	default:
		return typeError(k, v.Type())
	}
	return nil
}

func decInt(c *Codec, k *kind, v reflect.Value) error {
	x, err := intOf(k, uint(v.Type().Bits()))
	if err != nil {
		return err
	}
	v.SetInt(x)
	return nil
}

func decUint(c *Codec, k *kind, v reflect.Value) error {
	x, err := uintOf(k, uint(v.Type().Bits()))
	if err != nil {
		return err
	}
	v.SetUint(x)
	return nil
}

func decFloat(c *Codec, k *kind, v reflect.Value) error {
	f, err := floatOf(k, v.Type().Bits())
	if err != nil {
		return err
	}
	v.SetFloat(f)
	return nil
}

func decString(c *Codec, k *kind, v reflect.Value) error {
	switch k.num {
	case fString:
		v.SetString(string(k.bytes()))
	case 0, fNull:
		v.SetString("")
	default:
		return typeError(k, v.Type())
	}
	return nil
}

func decBytes(c *Codec, k *kind, v reflect.Value) error {
	switch k.num {
	case fBytes, fMessage:
		v.SetBytes(append(make([]byte, 0, len(k.bytes())), k.bytes()...))
	case 0, fNull:
		v.SetZero()
	default:
		return typeError(k, v.Type())
	}
	return nil
}

func decByteArray(c *Codec, k *kind, v reflect.Value) error {
	switch k.num {
	case fBytes, fMessage:
		if len(k.bytes()) != v.Len() {
			return fmt.Errorf("proto: %d bytes for %v", len(k.bytes()), v.Type())
		}
		for i, b := range k.bytes() {
			v.Index(i).SetUint(uint64(b))
		}
	case 0, fNull:
		v.SetZero()
	default:
		return typeError(k, v.Type())
	}
	return nil
}

func decTime(c *Codec, k *kind, v reflect.Value) error {
	switch k.num {
	case fTime:
		v.Set(reflect.ValueOf(timeOf(&k.m)))
	case 0, fNull:
		v.Set(reflect.ValueOf(time.Time{}))
	default:
		return typeError(k, v.Type())
	}
	return nil
}

func decInt64s(c *Codec, k *kind, v reflect.Value) error {
	x, err := int64s(k)
	if err != nil {
		return err
	}
	v.Set(reflect.ValueOf(x))
	return nil
}

// decList decodes a list into a slice or an array of the element type.
func decList(elem *typeCodec) decodeFunc {
	return func(c *Codec, k *kind, v reflect.Value) error {
		switch k.num {
		case fList, fIntList, fDoubleList:
		case 0, fNull:
			v.SetZero()
			return nil
		default:
			return typeError(k, v.Type())
		}
		n := count(k)
		if v.Kind() == reflect.Slice {
			v.Set(reflect.MakeSlice(v.Type(), n, n))
		} else if n != v.Len() {
			return fmt.Errorf("proto: %d elements for %v", n, v.Type())
		}
		l := elemsOf(k)
		var e kind
		for i := 0; l.next(&e); i++ {
			if err := elem.decode(c, &e, v.Index(i)); err != nil {
				return indexError(i, err)
			}
		}
		return nil
	}
}

// decMap decodes a map into a map with string keys, which it fills when it
// is not nil. Of entries with the same key, the last counts.
func decMap(elem *typeCodec) decodeFunc {
	return func(c *Codec, k *kind, v reflect.Value) error {
		switch k.num {
		case fMap:
		case 0, fNull:
			v.SetZero()
			return nil
		default:
			return typeError(k, v.Type())
		}
		t := v.Type()
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, mapHint(k)))
		}
		// One key, element and kind serve every entry: SetMapIndex copies.
		kv, ev := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		es := entriesOf(k)
		var key []byte
		var val wireMsg
		var e kind
		for es.next(&key, &val) {
			e = kindOf(&val)
			ev.SetZero()
			if err := elem.decode(c, &e, ev); err != nil {
				return fmt.Errorf("[%q]: %w", key, err)
			}
			kv.SetString(string(key))
			v.SetMapIndex(kv, ev)
		}
		return nil
	}
}

// decStruct decodes a map into a struct, by the names of rpc.StructFields.
// It sets the fields the map has and leaves the others alone; unknown keys
// are ignored. fields are sorted by name, as encoders write them, so the
// next entry's field is looked for first after the last one found.
func decStruct(fields []structField, byName map[string]*structField) decodeFunc {
	return func(c *Codec, k *kind, v reflect.Value) error {
		switch k.num {
		case fMap:
		case 0, fNull:
			v.SetZero()
			return nil
		default:
			return typeError(k, v.Type())
		}
		next := 0 // where in fields to look first
		decField := func(key []byte, e *kind) error {
			var f *structField
			if next < len(fields) && fields[next].name == string(key) {
				f = &fields[next]
			} else if f = byName[string(key)]; f == nil {
				return nil
			}
			next = f.pos + 1
			fv := v.Field(f.index[0])
			if len(f.index) > 1 {
				fv = v.FieldByIndex(f.index)
			}
			if err := f.codec.decode(c, e, fv); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			return nil
		}
		var e kind
		if k.m.plain() {
			// The usual map, in one part, read here without the
			// generality of entries.
			var fl field
			for b := k.m.b; len(b) > 0; {
				n := readField(b, &fl)
				if n < 0 { // validated messages do not get here
					break
				}
				b = b[n:]
				if fl.num != fMapFields || fl.typ != protowire.BytesType {
					continue
				}
				key, val, ok := plainEntry(fl.raw)
				if !ok {
					var m wireMsg
					key, m = entry(fl.raw)
					e = kindOf(&m)
				} else {
					e = kindOfPayload(val)
				}
				if err := decField(key, &e); err != nil {
					return err
				}
			}
			return nil
		}
		es := entriesOf(k)
		var key []byte
		var val wireMsg
		for es.next(&key, &val) {
			e = kindOf(&val)
			if err := decField(key, &e); err != nil {
				return err
			}
		}
		return nil
	}
}

// decPointer decodes through hops pointers, allocating the nil ones; null
// sets the outermost pointer to nil.
func decPointer(hops int, final *typeCodec) decodeFunc {
	return func(c *Codec, k *kind, v reflect.Value) error {
		if isNull(k) {
			v.SetZero()
			return nil
		}
		for range hops {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		return final.decode(c, k, v)
	}
}

var errInterface = errors.New("proto: cannot decode into an interface with methods")

// decInterface decodes into an empty interface the natural value of k.
func decInterface(c *Codec, k *kind, v reflect.Value) error {
	if v.NumMethod() != 0 {
		return errInterface
	}
	x := natural(k)
	if x == nil {
		v.SetZero()
		return nil
	}
	v.Set(reflect.ValueOf(x))
	return nil
}

// decMessagePtr decodes a message_value (or bytes_value) into a pointer to
// a protobuf message, allocating it when nil.
func decMessagePtr(c *Codec, k *kind, v reflect.Value) error {
	if isNull(k) {
		v.SetZero()
		return nil
	}
	if k.num != fMessage && k.num != fBytes {
		return typeError(k, v.Type())
	}
	if v.IsNil() {
		v.Set(reflect.New(v.Type().Elem()))
	}
	return c.unmarshal(k.bytes(), v.Interface().(pb.Message))
}

// decMessageStruct decodes into a protobuf message held by value.
func decMessageStruct(c *Codec, k *kind, v reflect.Value) error {
	m := v.Addr().Interface().(pb.Message)
	if isNull(k) {
		pb.Reset(m)
		return nil
	}
	if k.num != fMessage && k.num != fBytes {
		return typeError(k, v.Type())
	}
	return c.unmarshal(k.bytes(), m)
}

// unmarshal decodes b into m, with the codec's depth limit as the
// recursion limit.
func (c *Codec) unmarshal(b []byte, m pb.Message) error {
	if err := (pb.UnmarshalOptions{RecursionLimit: c.maxDepth}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("proto: message %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}
