package msgpack

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// This file encodes Go values, appending straight into the caller's buffer.
// Integers take the smallest format that holds them (non-negative ones the
// unsigned formats, as most MessagePack libraries write them), strings are
// str and byte slices bin, time.Time is the timestamp extension, structs are
// maps named by wire.StructFields, and map keys are written in sorted order
// so that the same value always encodes to the same bytes. Types with
// encoding methods of their own are encoded by them (see methods.go).

var (
	timeType    = reflect.TypeFor[time.Time]()
	stringType  = reflect.TypeFor[string]()
	int64Type   = reflect.TypeFor[int64]()
	intType     = reflect.TypeFor[int]()
	errTooLarge = errors.New("msgpack: value longer than 4 GiB")
)

// appendValue appends the encoding of v to dst. v may open containers up to
// budget levels deep, itself included. On error the bytes after len(dst)
// are garbage; callers cut back to their own length.
func appendValue(dst []byte, v any, budget int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, fmtNil), nil
	case string:
		return appendStr(dst, x)
	case bool:
		return appendBool(dst, x), nil
	case int:
		return appendInt(dst, int64(x)), nil
	case int64:
		return appendInt(dst, x), nil
	case int32:
		return appendInt(dst, int64(x)), nil
	case int16:
		return appendInt(dst, int64(x)), nil
	case int8:
		return appendInt(dst, int64(x)), nil
	case uint:
		return appendUint(dst, uint64(x)), nil
	case uint64:
		return appendUint(dst, x), nil
	case uint32:
		return appendUint(dst, uint64(x)), nil
	case uint16:
		return appendUint(dst, uint64(x)), nil
	case uint8:
		return appendUint(dst, uint64(x)), nil
	case float64:
		return appendFloat64(dst, x), nil
	case float32:
		return appendFloat32(dst, x), nil
	case []byte:
		if x == nil {
			return append(dst, fmtNil), nil
		}
		return appendBin(dst, x)
	case time.Time:
		return appendTime(dst, x), nil
	case []int64:
		return appendInt64s(dst, x), nil
	case []any:
		if x == nil {
			return append(dst, fmtNil), nil
		}
		if budget < 1 {
			return dst, errDeep
		}
		dst = appendArrayHeader(dst, len(x))
		for _, e := range x {
			var err error
			if dst, err = appendValue(dst, e, budget-1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		if x == nil {
			return append(dst, fmtNil), nil
		}
		if budget < 1 {
			return dst, errDeep
		}
		return appendNaturalMap(dst, x, budget)
	}
	return appendReflect(dst, reflect.ValueOf(v), budget)
}

// errDeep reports a value nested beyond the depth limit: a result the
// peer's codec would refuse, or a cyclic value.
var errDeep = errors.New("msgpack: value nested too deeply (or cyclic)")

// appendNaturalMap appends a map[string]any with its keys in sorted order.
func appendNaturalMap(dst []byte, m map[string]any, budget int) ([]byte, error) {
	var buf [16]string
	keys := buf[:0]
	if len(m) > len(buf) {
		keys = make([]string, 0, len(m))
	}
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = appendMapHeader(dst, len(keys))
	for _, k := range keys {
		var err error
		if dst, err = appendStr(dst, k); err != nil {
			return dst, err
		}
		if dst, err = appendValue(dst, m[k], budget-1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendReflect encodes the values appendValue has no direct case for.
func appendReflect(dst []byte, v reflect.Value, budget int) ([]byte, error) {
	if !v.IsValid() {
		return append(dst, fmtNil), nil
	}
	return appendPlan(dst, wire.PlanOf(v.Type()), v, budget)
}

// appendPlan appends v, a value of the plan p.
func appendPlan(dst []byte, p *wire.Plan, v reflect.Value, budget int) ([]byte, error) {
	if p.Kind == wire.KindTime && v.CanInterface() {
		return appendTime(dst, v.Interface().(time.Time)), nil
	}
	if u := encodeUse(p.Type); u.m != noMethods {
		if out, ok, err := appendMethods(dst, v, u, budget); ok {
			return out, err
		}
	}
	switch p.Kind {
	case wire.KindPointer:
		if v.IsNil() {
			return append(dst, fmtNil), nil
		}
		if k := p.Elem.Kind; k == wire.KindPointer || k == wire.KindInterface {
			// Pointers do not nest on the wire, but a cycle of pointers and
			// interfaces that passes through no container would recurse
			// forever: such steps count against the budget.
			if budget < 1 {
				return dst, errDeep
			}
			budget--
		}
		return appendPlan(dst, p.Elem, v.Elem(), budget)
	case wire.KindInterface:
		if v.IsNil() {
			return append(dst, fmtNil), nil
		}
		if e := v.Elem(); e.CanInterface() {
			return appendValue(dst, e.Interface(), budget)
		}
		return appendReflect(dst, v.Elem(), budget)
	case wire.KindBool:
		return appendBool(dst, v.Bool()), nil
	case wire.KindInt:
		return appendInt(dst, v.Int()), nil
	case wire.KindUint:
		return appendUint(dst, v.Uint()), nil
	case wire.KindFloat:
		if p.Bits == 32 {
			return appendFloat32(dst, float32(v.Float())), nil
		}
		return appendFloat64(dst, v.Float()), nil
	case wire.KindString:
		return appendStr(dst, v.String())
	case wire.KindBytes:
		if v.IsNil() {
			return append(dst, fmtNil), nil
		}
		return appendBin(dst, v.Bytes())
	case wire.KindByteArray:
		if v.CanAddr() {
			return appendBin(dst, v.Bytes())
		}
		b := make([]byte, v.Len())
		reflect.Copy(reflect.ValueOf(b), v)
		return appendBin(dst, b)
	case wire.KindSlice:
		if v.IsNil() {
			return append(dst, fmtNil), nil
		}
		return appendList(dst, p, v, budget)
	case wire.KindArray:
		return appendList(dst, p, v, budget)
	case wire.KindMap:
		if v.IsNil() {
			return append(dst, fmtNil), nil
		}
		return appendMap(dst, p, v, budget)
	case wire.KindStruct:
		return appendStruct(dst, p, v, budget)
	}
	return dst, p.Unsupported()
}

func appendList(dst []byte, p *wire.Plan, v reflect.Value, budget int) ([]byte, error) {
	if budget < 1 {
		return dst, errDeep
	}
	n := v.Len()
	dst = appendArrayHeader(dst, n)
	for i := range n {
		var err error
		if dst, err = appendElem(dst, p.Elem, v.Index(i), budget-1); err != nil {
			return dst, wire.AtIndex(err, i)
		}
	}
	return dst, nil
}

// appendElem appends an element of a container, a value of the plan p,
// taking the direct path for the types appendValue knows.
func appendElem(dst []byte, p *wire.Plan, e reflect.Value, budget int) ([]byte, error) {
	switch p.Kind {
	case wire.KindInterface:
		if e.IsNil() {
			return append(dst, fmtNil), nil
		}
		if e.CanInterface() {
			return appendValue(dst, e.Elem().Interface(), budget)
		}
	case wire.KindString:
		if p.Type == stringType {
			return appendStr(dst, e.String())
		}
	case wire.KindInt:
		if p.Type == int64Type || p.Type == intType {
			return appendInt(dst, e.Int()), nil
		}
	}
	// Named types may have methods that the library must call.
	return appendPlan(dst, p, e, budget)
}

func appendMap(dst []byte, p *wire.Plan, v reflect.Value, budget int) ([]byte, error) {
	if budget < 1 {
		return dst, errDeep
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	for iter := v.MapRange(); iter.Next(); {
		entries = append(entries, entry{iter.Key().String(), iter.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	dst = appendMapHeader(dst, len(entries))
	for _, e := range entries {
		var err error
		if dst, err = appendStr(dst, e.key); err != nil {
			return dst, err
		}
		if dst, err = appendElem(dst, p.Elem, e.val, budget-1); err != nil {
			return dst, wire.AtKey(err, e.key)
		}
	}
	return dst, nil
}

// appendStruct encodes a struct as a map of the plan's fields, leaving out
// the absent ones (see wire.Field.Of).
func appendStruct(dst []byte, p *wire.Plan, v reflect.Value, budget int) ([]byte, error) {
	if budget < 1 {
		return dst, errDeep
	}
	dst = appendMapHeader(dst, p.Present(v))
	for i := range p.Fields {
		f := &p.Fields[i]
		fv, ok := f.Of(v)
		if !ok {
			continue
		}
		var err error
		if dst, err = appendStr(dst, f.Name); err != nil {
			return dst, err
		}
		if dst, err = appendElem(dst, f.Plan, fv, budget-1); err != nil {
			return dst, wire.AtField(err, f.Name)
		}
	}
	return dst, nil
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, fmtTrue)
	}
	return append(dst, fmtFalse)
}

// appendInt appends v in the smallest format: a non-negative v as an
// unsigned integer.
func appendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, fmtInt8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, fmtInt16), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, fmtInt32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, fmtInt64), uint64(v))
}

// appendUint appends v in the smallest unsigned format.
func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= fmtPosFixintMax:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, fmtUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, fmtUint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, fmtUint32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, fmtUint64), v)
}

func appendFloat32(dst []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, fmtFloat32), math.Float32bits(f))
}

func appendFloat64(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, fmtFloat64), math.Float64bits(f))
}

func appendStr[S ~string | ~[]byte](dst []byte, s S) ([]byte, error) {
	n := len(s)
	switch {
	case n <= 31:
		dst = append(dst, fmtFixstr|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, fmtStr8, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, fmtStr16), uint16(n))
	case uint64(n) <= math.MaxUint32:
		dst = binary.BigEndian.AppendUint32(append(dst, fmtStr32), uint32(n))
	default:
		return dst, errTooLarge
	}
	return append(dst, s...), nil
}

func appendBin(dst []byte, b []byte) ([]byte, error) {
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		dst = append(dst, fmtBin8, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, fmtBin16), uint16(n))
	case uint64(n) <= math.MaxUint32:
		dst = binary.BigEndian.AppendUint32(append(dst, fmtBin32), uint32(n))
	default:
		return dst, errTooLarge
	}
	return append(dst, b...), nil
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(dst, fmtFixarray|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, fmtArray16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, fmtArray32), uint32(n))
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(dst, fmtFixmap|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, fmtMap16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, fmtMap32), uint32(n))
}

// appendTime appends t as a timestamp extension in its smallest form:
// 32 bits for whole seconds from 1970 to 2106, 64 bits for seconds with
// nanoseconds from 1970 to 2514, 96 bits otherwise. The instant survives;
// the location does not.
func appendTime(dst []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), uint64(t.Nanosecond())
	if sec >= 0 && sec < 1<<34 {
		data := nsec<<34 | uint64(sec)
		if data <= math.MaxUint32 {
			return binary.BigEndian.AppendUint32(append(dst, fmtFixext4, 0xff), uint32(data))
		}
		return binary.BigEndian.AppendUint64(append(dst, fmtFixext8, 0xff), data)
	}
	dst = append(dst, fmtExt8, 12, 0xff)
	dst = binary.BigEndian.AppendUint32(dst, uint32(nsec))
	return binary.BigEndian.AppendUint64(dst, uint64(sec))
}
