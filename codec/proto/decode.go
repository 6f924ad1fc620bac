package proto

import (
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// decoder is one call of decodeValue that goes through the compiled
// functions: the codec, the budget that the natural values it makes are
// charged to, and a copy of the Value decoded.
type decoder struct {
	c  *Codec
	nb *nat.Budget
	k  kind
}

// decodeValue decodes the Value k into dst, a non-nil pointer, charging the
// natural values it makes to nb. The common destinations are decoded here
// directly; any other goes through its compiled typeCodec.
func (c *Codec) decodeValue(k *kind, dst any, nb *nat.Budget) error {
	switch d := dst.(type) {
	case *int64:
		if d != nil {
			return set(d, k, int64Elem)
		}
	case *int:
		if d != nil {
			return set(d, k, intElem)
		}
	case *uint64:
		if d != nil {
			return set(d, k, uint64Elem)
		}
	case *float64:
		if d != nil {
			return set(d, k, float64Elem)
		}
	case *string:
		if d != nil {
			return set(d, k, stringElem)
		}
	case *bool:
		if d != nil {
			return set(d, k, boolElem)
		}
	case *any:
		if d != nil {
			x, err := natural(k, nb)
			if err == nil {
				*d = x
			}
			return err
		}
	case *[]any:
		if d != nil {
			return naturalSlice(k, d, nb)
		}
	case *map[string]any:
		if d != nil {
			return naturalMapInto(k, d, nb)
		}
	case *[]byte:
		if d != nil {
			return set(d, k, bytesElem)
		}
	case *[]int64:
		if d != nil {
			return set(d, k, int64s)
		}
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("proto: cannot decode into %T, not a non-nil pointer", dst)
	}
	// The compiled functions are called through function values, through
	// which k would escape; a copy does, so that the fast paths above cost
	// their callers no allocation.
	d := &decoder{c: c, nb: nb, k: *k}
	return codecFor(rv.Type().Elem()).decode(d, &d.k, rv.Elem())
}

func isNull(k *kind) bool { return k.num == 0 || k.num == fNull }

// The plans of the destinations that decodeValue decodes directly.
var (
	int64Plan   = wire.PlanOf(reflect.TypeFor[int64]())
	intPlan     = wire.PlanOf(reflect.TypeFor[int]())
	uint64Plan  = wire.PlanOf(reflect.TypeFor[uint64]())
	float64Plan = wire.PlanOf(reflect.TypeFor[float64]())
	stringPlan  = wire.PlanOf(reflect.TypeFor[string]())
	boolPlan    = wire.PlanOf(reflect.TypeFor[bool]())
	bytesPlan   = wire.PlanOf(reflect.TypeFor[[]byte]())
	int64sPlan  = wire.PlanOf(int64sType)
	timePlan    = wire.PlanOf(timeType)
)

// intOf returns the integer k holds, which must fit p, a plan of a
// number. Null is 0.
func intOf(k *kind, p *wire.Plan) (int64, error) {
	switch k.num {
	case fInt:
		x := protowire.DecodeZigZag(k.u)
		return x, p.CheckInt(x)
	case fUint:
		return int64(k.u), p.CheckUint(k.u)
	case 0, fNull:
		return 0, nil
	}
	return 0, p.Mismatch(kindName(k))
}

// uintOf is intOf for unsigned integers.
func uintOf(k *kind, p *wire.Plan) (uint64, error) {
	switch k.num {
	case fUint:
		return k.u, p.CheckUint(k.u)
	case fInt:
		x := protowire.DecodeZigZag(k.u)
		return uint64(x), p.CheckInt(x)
	case 0, fNull:
		return 0, nil
	}
	return 0, p.Mismatch(kindName(k))
}

// floatOf returns the number k holds as a float that fits p, a plan of a
// float. Integers convert to the nearest float. Null is 0.
func floatOf(k *kind, p *wire.Plan) (float64, error) {
	switch k.num {
	case fDouble:
		f := math.Float64frombits(k.u)
		return f, p.CheckFloat(f)
	case fInt:
		return float64(protowire.DecodeZigZag(k.u)), nil
	case fUint:
		return float64(k.u), nil
	case 0, fNull:
		return 0, nil
	}
	return 0, p.Mismatch(kindName(k))
}

// int64s decodes a list of integers (packed or not) into a new []int64.
func int64s(k *kind) ([]int64, error) {
	switch k.num {
	case 0, fNull:
		return nil, nil
	case fIntList, fList, fDoubleList: // a double fails, as an element
	default:
		return nil, int64sPlan.Mismatch(kindName(k))
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
		x, err := intOf(&e, int64Plan)
		if err != nil {
			return nil, wire.AtIndex(err, i)
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

// set stores in *d what elem decodes from k, leaving *d alone on error.
func set[T any](d *T, k *kind, elem elemFunc[T]) error {
	x, err := elem(k)
	if err == nil {
		*d = x
	}
	return err
}

// decWith returns the reflective decoder of a type whose values elem
// decodes and store stores.
func decWith[T any](elem elemFunc[T], store func(reflect.Value, T)) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		x, err := elem(k)
		if err == nil {
			store(v, x)
		}
		return err
	}
}

// mismatch is the error of a Value that a value of v's type cannot hold.
func mismatch(k *kind, v reflect.Value) error {
	return wire.PlanOf(v.Type()).Mismatch(kindName(k))
}

func decByteArray(p *wire.Plan) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		switch k.num {
		case fBytes, fMessage:
			if len(k.bytes()) != p.Len {
				return p.Mismatch(kindName(k) + " of " + strconv.Itoa(len(k.bytes())))
			}
			for i, b := range k.bytes() {
				v.Index(i).SetUint(uint64(b))
			}
		case 0, fNull:
			v.SetZero()
		default:
			return p.Mismatch(kindName(k))
		}
		return nil
	}
}

// decList decodes a list into a slice or an array of the plan p, whose
// elements elem decodes.
func decList(p *wire.Plan, elem *typeCodec) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		switch k.num {
		case fList, fIntList, fDoubleList:
		case 0, fNull:
			v.SetZero()
			return nil
		default:
			return p.Mismatch(kindName(k))
		}
		n := count(k)
		// A slice of interfaces is a list of natural values, whatever its
		// type, charged as naturalList charges one.
		if p.Kind == wire.KindSlice && p.Elem.Kind == wire.KindInterface && !d.nb.Container(n, nat.Array(n)) {
			return d.nb.Err("proto")
		}
		if p.Kind == wire.KindSlice {
			v.Set(reflect.MakeSlice(p.Type, n, n))
		} else if n != p.Len {
			return p.Mismatch("list of " + strconv.Itoa(n))
		}
		l := elemsOf(k)
		var e kind
		for i := 0; l.next(&e); i++ {
			if err := elem.decode(d, &e, v.Index(i)); err != nil {
				return wire.AtIndex(err, i)
			}
		}
		return nil
	}
}

// decMap decodes a map into a map with string keys, which it fills when it
// is not nil. Of entries with the same key, the last counts.
func decMap(elem *typeCodec) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		switch k.num {
		case fMap:
		case 0, fNull:
			v.SetZero()
			return nil
		default:
			return mismatch(k, v)
		}
		t := v.Type()
		hint := mapHint(k)
		natural := t.Elem().Kind() == reflect.Interface
		if natural {
			// A map of natural values, charged and made as naturalMap
			// makes one.
			hint = countEntries(k)
			if !d.nb.Container(hint, nat.Map(hint)) {
				return d.nb.Err("proto")
			}
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, hint))
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
			if err := elem.decode(d, &e, ev); err != nil {
				return wire.AtKey(err, string(key))
			}
			if natural && !d.nb.TakeN(0, nat.Key(len(key))) {
				return d.nb.Err("proto")
			}
			kv.SetString(string(key))
			v.SetMapIndex(kv, ev)
		}
		return nil
	}
}

// decStruct decodes a map into a struct of the plan p. It sets the fields
// the map has and leaves the others alone; unknown keys are ignored.
// fields are sorted by name, as encoders write them, so the next entry's
// field is looked for first after the last one found; sorted maps the
// plan's fields to them.
func decStruct(p *wire.Plan, fields []structField, sorted []int) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		switch k.num {
		case fMap:
		case 0, fNull:
			v.SetZero()
			return nil
		default:
			return p.Mismatch(kindName(k))
		}
		next := 0 // where in fields to look first
		decField := func(key []byte, e *kind) error {
			var f *structField
			if next < len(fields) && fields[next].Name == string(key) {
				f = &fields[next]
				next++
			} else if i := p.Lookup(key, -1); i >= 0 && sorted[i] >= 0 {
				f = &fields[sorted[i]]
				next = sorted[i] + 1
			} else {
				return nil
			}
			if err := f.codec.decode(d, e, f.Into(v)); err != nil {
				return wire.AtField(err, f.Name)
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
	return func(d *decoder, k *kind, v reflect.Value) error {
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
		return final.decode(d, k, v)
	}
}

// decInterface decodes into an interface of the plan p the natural value
// of k.
func decInterface(p *wire.Plan) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		x, err := natural(k, d.nb)
		if err != nil {
			return err
		}
		return p.SetNatural(v, x, kindName(k))
	}
}

// decMessagePtr decodes a message_value (or bytes_value) into a pointer to
// a protobuf message, allocating it when nil.
func decMessagePtr(d *decoder, k *kind, v reflect.Value) error {
	if isNull(k) {
		v.SetZero()
		return nil
	}
	if k.num != fMessage && k.num != fBytes {
		return mismatch(k, v)
	}
	if v.IsNil() {
		v.Set(reflect.New(v.Type().Elem()))
	}
	return d.c.unmarshal(k.bytes(), v.Interface().(pb.Message))
}

// decMessageStruct decodes into a protobuf message held by value.
func decMessageStruct(d *decoder, k *kind, v reflect.Value) error {
	m := v.Addr().Interface().(pb.Message)
	if isNull(k) {
		pb.Reset(m)
		return nil
	}
	if k.num != fMessage && k.num != fBytes {
		return mismatch(k, v)
	}
	return d.c.unmarshal(k.bytes(), m)
}

// unmarshal decodes b into m, with the codec's depth limit as the
// recursion limit.
func (c *Codec) unmarshal(b []byte, m pb.Message) error {
	if err := (pb.UnmarshalOptions{RecursionLimit: c.maxDepth}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("proto: message %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}
