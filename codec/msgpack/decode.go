package msgpack

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// This file decodes one validated value into a Go value of a known type.
// The common basic destinations are decoded without reflection; the rest
// by a reflective walk that checks every integer against the range of its
// destination, names struct fields as wire.StructFields does and fills
// interface slots with natural values. A nil value leaves a destination
// that cannot be nil unchanged, and makes a pointer, slice, map or
// interface nil. A str decodes into a []byte and a bin into a string,
// for older peers that have only one of the two.

// setInt decodes raw into a signed integer of the plan p, leaving d alone
// for a nil value.
func setInt[T ~int | ~int32 | ~int64](d *T, raw []byte, p *wire.Plan) error {
	v, ok, err := decodeInt(raw, p)
	if ok {
		*d = T(v)
	}
	return err
}

// setUint is setInt for unsigned integers.
func setUint[T ~uint | ~uint32 | ~uint64](d *T, raw []byte, p *wire.Plan) error {
	v, ok, err := decodeUint(raw, p)
	if ok {
		*d = T(v)
	}
	return err
}

// The plans of the destinations that decodeValue decodes directly.
var (
	int64Plan   = wire.PlanOf(reflect.TypeFor[int64]())
	intPlan     = wire.PlanOf(reflect.TypeFor[int]())
	int32Plan   = wire.PlanOf(reflect.TypeFor[int32]())
	uint64Plan  = wire.PlanOf(reflect.TypeFor[uint64]())
	uintPlan    = wire.PlanOf(reflect.TypeFor[uint]())
	uint32Plan  = wire.PlanOf(reflect.TypeFor[uint32]())
	float64Plan = wire.PlanOf(reflect.TypeFor[float64]())
	stringPlan  = wire.PlanOf(reflect.TypeFor[string]())
	boolPlan    = wire.PlanOf(reflect.TypeFor[bool]())
	bytesPlan   = wire.PlanOf(reflect.TypeFor[[]byte]())
)

// decodeValue decodes raw, exactly one value that skim has validated, into
// dst, a non-nil pointer.
func decodeValue(raw []byte, dst any, nb *nat.Budget) error {
	switch d := dst.(type) {
	case *any:
		if d != nil {
			v, _, err := decodeNatural(raw, 0, nb)
			if err == nil {
				*d = v
			}
			return err
		}
	case *string:
		if d != nil {
			var h head
			err := readHead(raw, 0, &h)
			switch {
			case err != nil:
				return err
			case h.kind == kindStr || h.kind == kindBin:
				*d = string(raw[h.off:h.end()])
			case h.kind != kindNil:
				return stringPlan.Mismatch(h.kind.String())
			}
			return nil
		}
	case *int64:
		if d != nil {
			return setInt(d, raw, int64Plan)
		}
	case *int:
		if d != nil {
			return setInt(d, raw, intPlan)
		}
	case *int32:
		if d != nil {
			return setInt(d, raw, int32Plan)
		}
	case *uint64:
		if d != nil {
			return setUint(d, raw, uint64Plan)
		}
	case *uint:
		if d != nil {
			return setUint(d, raw, uintPlan)
		}
	case *uint32:
		if d != nil {
			return setUint(d, raw, uint32Plan)
		}
	case *float64:
		if d != nil {
			v, ok, err := decodeFloat(raw)
			if ok {
				*d = v
			}
			return err
		}
	case *bool:
		if d != nil {
			var h head
			err := readHead(raw, 0, &h)
			switch {
			case err != nil:
				return err
			case h.kind == kindBool:
				*d = h.bool
			case h.kind != kindNil:
				return boolPlan.Mismatch(h.kind.String())
			}
			return nil
		}
	case *[]byte:
		if d != nil {
			var h head
			err := readHead(raw, 0, &h)
			switch {
			case err != nil:
				return err
			case h.kind == kindStr || h.kind == kindBin:
				*d = bytes.Clone(raw[h.off:h.end()])
			case h.kind == kindNil:
				*d = nil
			case h.kind == kindArray:
				return decodeReflectAll(raw, dst, nb)
			default:
				return bytesPlan.Mismatch(h.kind.String())
			}
			return nil
		}
	case *[]int64:
		if d != nil {
			return decodeInt64s(raw, d, nb)
		}
	case *[]any:
		if d != nil && (raw[0] == fmtNil || isArray(raw[0])) {
			v, _, err := decodeNatural(raw, 0, nb)
			if err == nil {
				*d, _ = v.([]any)
			}
			return err
		}
	case *map[string]any:
		if d != nil && raw[0] == fmtNil {
			*d = nil
			return nil
		}
		if d != nil && *d == nil && isMap(raw[0]) {
			v, _, err := decodeNatural(raw, 0, nb)
			if err == nil {
				*d = v.(map[string]any)
			}
			return err
		}
	}
	return decodeReflectAll(raw, dst, nb)
}

func isArray(c byte) bool {
	return c >= fmtFixarray && c < fmtFixstr || c == fmtArray16 || c == fmtArray32
}

func isMap(c byte) bool { return c >= fmtFixmap && c < fmtFixarray || c == fmtMap16 || c == fmtMap32 }

func decodeReflectAll(raw []byte, dst any, nb *nat.Budget) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("msgpack: cannot decode into %T, not a non-nil pointer", dst)
	}
	_, err := decodeReflect(raw, 0, wire.PlanOf(rv.Type()).Elem, rv.Elem(), nb)
	return err
}

// decodeInt decodes an integer into a signed integer of the plan p. ok
// reports whether a value was decoded: nil decodes nothing.
func decodeInt(raw []byte, p *wire.Plan) (v int64, ok bool, err error) {
	var h head
	err = readHead(raw, 0, &h)
	switch {
	case err != nil:
	case h.kind == kindNil:
	case h.kind == kindInt:
		err = p.CheckInt(h.i)
	case h.kind == kindUint:
		err = p.CheckUint(h.u)
	default:
		err = p.Mismatch(h.kind.String())
	}
	return h.i, err == nil && h.kind == kindInt, err
}

// decodeUint decodes an integer into an unsigned integer of the plan p.
func decodeUint(raw []byte, p *wire.Plan) (v uint64, ok bool, err error) {
	var h head
	err = readHead(raw, 0, &h)
	switch {
	case err != nil:
	case h.kind == kindNil:
	case h.kind == kindInt:
		h.u, err = uint64(h.i), p.CheckInt(h.i)
	case h.kind == kindUint:
		err = p.CheckUint(h.u)
	default:
		err = p.Mismatch(h.kind.String())
	}
	return h.u, err == nil && (h.kind == kindInt || h.kind == kindUint), err
}

// decodeFloat decodes a float or an integer into a float64.
func decodeFloat(raw []byte) (float64, bool, error) {
	var h head
	err := readHead(raw, 0, &h)
	if err != nil {
		return 0, false, err
	}
	switch h.kind {
	case kindNil:
		return 0, false, nil
	case kindFloat32, kindFloat64:
		return h.f, true, nil
	case kindInt:
		return float64(h.i), true, nil
	case kindUint:
		return float64(h.u), true, nil
	}
	return 0, false, float64Plan.Mismatch(h.kind.String())
}

// decodeReflect decodes the validated value at b[i] into v, a settable
// value of the plan p, and returns the offset after it.
func decodeReflect(b []byte, i int, p *wire.Plan, v reflect.Value, nb *nat.Budget) (int, error) {
	var h head
	err := readHead(b, i, &h)
	if err != nil {
		return i, err
	}
	if h.kind == kindNil {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
			v.SetZero()
		}
		return h.off, nil
	}
	if p.Kind == wire.KindTime {
		tm, err := timeFrom(b, &h, p)
		if err != nil {
			return i, err
		}
		v.Set(reflect.ValueOf(tm))
		return valueEnd(b, i, &h), nil
	}
	if m := decodeUse(p.Type); m != noMethods && v.CanAddr() {
		end := skip(b, i)
		if m == textMethods {
			return end, decodeText(b, &h, p, v.Addr().Interface())
		}
		return end, decodeLibrary(b[i:end], v.Addr().Interface())
	}
	switch p.Kind {
	case wire.KindPointer:
		if v.IsNil() {
			v.Set(reflect.New(p.Type.Elem()))
		}
		return decodeReflect(b, i, p.Elem, v.Elem(), nb)
	case wire.KindInterface:
		x, next, err := decodeNatural(b, i, nb)
		if err != nil {
			return next, err
		}
		return next, p.SetNatural(v, x, h.kind.String())
	case wire.KindBool:
		if h.kind == kindBool {
			v.SetBool(h.bool)
			return h.off, nil
		}
	case wire.KindInt, wire.KindUint, wire.KindFloat:
		switch h.kind {
		case kindInt:
			return h.off, p.SetInt(v, h.i)
		case kindUint:
			return h.off, p.SetUint(v, h.u)
		case kindFloat32, kindFloat64:
			if p.Kind == wire.KindFloat {
				return h.off, p.SetFloat(v, h.f)
			}
		}
	case wire.KindString:
		if h.kind == kindStr || h.kind == kindBin {
			v.SetString(string(b[h.off:h.end()]))
			return h.end(), nil
		}
	case wire.KindBytes, wire.KindSlice:
		if (h.kind == kindStr || h.kind == kindBin) && p.Kind == wire.KindBytes {
			v.SetBytes(bytes.Clone(b[h.off:h.end()]))
			return h.end(), nil
		}
		if h.kind == kindArray {
			// A slice of interfaces is a natural array, whatever its type:
			// its elements are natural values.
			if p.Elem.Kind == wire.KindInterface && !nb.Container(h.n, nat.Array(h.n)) {
				return i, nb.Err("msgpack")
			}
			s := reflect.MakeSlice(p.Type, h.n, h.n)
			j := h.off
			for k := range h.n {
				if j, err = decodeReflect(b, j, p.Elem, s.Index(k), nb); err != nil {
					return j, wire.AtIndex(err, k)
				}
			}
			v.Set(s)
			return j, nil
		}
	case wire.KindByteArray, wire.KindArray:
		return decodeArray(b, i, &h, p, v, nb)
	case wire.KindMap:
		if h.kind == kindMap {
			return decodeMap(b, &h, p, v, nb)
		}
	case wire.KindStruct:
		if h.kind == kindMap {
			return decodeStruct(b, &h, p, v, nb)
		}
	}
	return i, p.Mismatch(h.kind.String())
}

// valueEnd is the offset after the value whose header h was read at b[i].
func valueEnd(b []byte, i int, h *head) int {
	switch h.kind {
	case kindStr, kindBin, kindExt:
		return h.end()
	case kindArray, kindMap:
		return skip(b, i)
	}
	return h.off
}

// timeFrom decodes a timestamp, or a str holding an RFC 3339 time as some
// peers send, into a time.Time.
func timeFrom(b []byte, h *head, p *wire.Plan) (time.Time, error) {
	switch {
	case h.kind == kindExt && h.ext == extTimestamp:
		return decodeTimestamp(b[h.off:h.end()])
	case h.kind == kindExt:
		return time.Time{}, extError(h.ext)
	case h.kind == kindStr:
		s := b[h.off:h.end()]
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return t, fmt.Errorf("msgpack: string of %d bytes is not an RFC 3339 time", len(s))
		}
		return t, nil
	}
	return time.Time{}, p.Mismatch(h.kind.String())
}

func decodeArray(b []byte, i int, h *head, p *wire.Plan, v reflect.Value, nb *nat.Budget) (int, error) {
	switch {
	case (h.kind == kindStr || h.kind == kindBin) && p.Kind == wire.KindByteArray:
		if h.n != p.Len {
			return i, p.Mismatch(h.kind.String() + " of " + strconv.Itoa(h.n) + " bytes")
		}
		for k, c := range b[h.off:h.end()] {
			v.Index(k).SetUint(uint64(c))
		}
		return h.end(), nil
	case h.kind == kindArray && h.n != p.Len:
		return i, p.Mismatch("array of " + strconv.Itoa(h.n))
	case h.kind == kindArray:
		j := h.off
		var err error
		for k := range h.n {
			if j, err = decodeReflect(b, j, p.Elem, v.Index(k), nb); err != nil {
				return j, wire.AtIndex(err, k)
			}
		}
		return j, nil
	}
	return i, p.Mismatch(h.kind.String())
}

func decodeMap(b []byte, h *head, p *wire.Plan, v reflect.Value, nb *nat.Budget) (int, error) {
	t := p.Type
	kt := t.Key()
	hint := min(h.n, 64)
	natural := p.Elem.Kind == wire.KindInterface
	if natural {
		// A map of natural values, charged and made as decodeNatural does.
		if !nb.Container(h.n, nat.Map(h.n)) {
			return h.off, nb.Err("msgpack")
		}
		hint = h.n
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, hint))
	}
	e := reflect.New(t.Elem()).Elem()
	j := h.off
	for range h.n {
		key, next, err := mapKey(b, j)
		if err != nil {
			return j, err
		}
		e.SetZero()
		if j, err = decodeReflect(b, next, p.Elem, e, nb); err != nil {
			return j, wire.AtKey(err, key)
		}
		if natural && !nb.TakeN(0, nat.Key(len(key))) {
			return j, nb.Err("msgpack")
		}
		k := reflect.ValueOf(key)
		if kt != k.Type() {
			k = k.Convert(kt)
		}
		v.SetMapIndex(k, e)
	}
	return j, nil
}

// decodeStruct fills the fields of a struct from a map, by the exact names
// of the plan's fields; keys that name no field are skipped.
func decodeStruct(b []byte, h *head, p *wire.Plan, v reflect.Value, nb *nat.Budget) (int, error) {
	j, next := h.off, 0
	for range h.n {
		var kh head
		err := readHead(b, j, &kh)
		if err != nil {
			return j, err
		}
		if kh.kind != kindStr {
			return j, fmt.Errorf("msgpack: map key is %s %s; only string keys are supported", article(kh.kind), kh.kind)
		}
		k := p.Lookup(b[kh.off:kh.end()], next)
		if k < 0 {
			j = skip(b, kh.end())
			continue
		}
		f := &p.Fields[k]
		next = k + 1
		if j, err = decodeReflect(b, kh.end(), f.Plan, f.Into(v), nb); err != nil {
			return j, wire.AtField(err, f.Name)
		}
	}
	return j, nil
}

// intAt decodes the value of b[s.off:s.end] when it is an integer within
// int64.
func intAt(b []byte, s span) (int64, bool) {
	var h head
	err := readHead(b, s.off, &h)
	if err != nil || h.kind != kindInt {
		return 0, false
	}
	return h.i, true
}
