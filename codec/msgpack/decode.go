package msgpack

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// This file decodes one validated value into a Go value of a known type.
// The common basic destinations are decoded without reflection; the rest
// by a reflective walk that checks every integer against the range of its
// destination, names struct fields as rpc.StructFields does and fills
// interface slots with natural values. A nil value leaves a destination
// that cannot be nil unchanged, and makes a pointer, slice, map or
// interface nil. A str decodes into a []byte and a bin into a string,
// for older peers that have only one of the two.

// setInt decodes raw into a signed integer of bits bits, leaving d alone
// for a nil value.
func setInt[T ~int | ~int32 | ~int64](d *T, raw []byte, bits int, name string) error {
	v, ok, err := decodeInt(raw, bits, name)
	if ok {
		*d = T(v)
	}
	return err
}

// setUint is setInt for unsigned integers.
func setUint[T ~uint | ~uint32 | ~uint64](d *T, raw []byte, bits int, name string) error {
	v, ok, err := decodeUint(raw, bits, name)
	if ok {
		*d = T(v)
	}
	return err
}

// decodeValue decodes raw, exactly one value that skim has validated, into
// dst, a non-nil pointer.
func decodeValue(raw []byte, dst any) error {
	switch d := dst.(type) {
	case *any:
		if d != nil {
			v, _, err := decodeNatural(raw, 0)
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
				return typeError(h.kind, "string")
			}
			return nil
		}
	case *int64:
		if d != nil {
			return setInt(d, raw, 64, "int64")
		}
	case *int:
		if d != nil {
			return setInt(d, raw, strconv.IntSize, "int")
		}
	case *int32:
		if d != nil {
			return setInt(d, raw, 32, "int32")
		}
	case *uint64:
		if d != nil {
			return setUint(d, raw, 64, "uint64")
		}
	case *uint:
		if d != nil {
			return setUint(d, raw, strconv.IntSize, "uint")
		}
	case *uint32:
		if d != nil {
			return setUint(d, raw, 32, "uint32")
		}
	case *float64:
		if d != nil {
			v, ok, err := decodeFloat(raw, "float64")
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
				return typeError(h.kind, "bool")
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
				return decodeReflectAll(raw, dst)
			default:
				return typeError(h.kind, "[]byte")
			}
			return nil
		}
	case *[]int64:
		if d != nil {
			return decodeInt64s(raw, d)
		}
	case *[]any:
		if d != nil && (raw[0] == fmtNil || isArray(raw[0])) {
			v, _, err := decodeNatural(raw, 0)
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
			v, _, err := decodeNatural(raw, 0)
			if err == nil {
				*d = v.(map[string]any)
			}
			return err
		}
	}
	return decodeReflectAll(raw, dst)
}

func isArray(c byte) bool {
	return c >= fmtFixarray && c < fmtFixstr || c == fmtArray16 || c == fmtArray32
}

func isMap(c byte) bool { return c >= fmtFixmap && c < fmtFixarray || c == fmtMap16 || c == fmtMap32 }

func decodeReflectAll(raw []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("msgpack: cannot decode into %T, not a non-nil pointer", dst)
	}
	_, err := decodeReflect(raw, 0, rv.Elem())
	return err
}

func typeError(k kind, goType any) error {
	return fmt.Errorf("msgpack: cannot decode %s into %v", k, goType)
}

func overflowError(h *head, goType any) error {
	if h.kind == kindUint {
		return fmt.Errorf("msgpack: %d overflows %v", h.u, goType)
	}
	return fmt.Errorf("msgpack: %d overflows %v", h.i, goType)
}

// decodeInt decodes an integer into a signed integer of the given size. ok
// reports whether a value was decoded: nil decodes nothing.
func decodeInt(raw []byte, bits int, goType string) (v int64, ok bool, err error) {
	var h head
	err = readHead(raw, 0, &h)
	switch {
	case err != nil:
		return 0, false, err
	case h.kind == kindNil:
		return 0, false, nil
	case h.kind == kindUint:
		return 0, false, overflowError(&h, goType)
	case h.kind != kindInt:
		return 0, false, typeError(h.kind, goType)
	case bits < 64 && (h.i < -1<<(bits-1) || h.i >= 1<<(bits-1)):
		return 0, false, overflowError(&h, goType)
	}
	return h.i, true, nil
}

// decodeUint decodes an integer into an unsigned integer of the given size.
func decodeUint(raw []byte, bits int, goType string) (v uint64, ok bool, err error) {
	var h head
	err = readHead(raw, 0, &h)
	switch {
	case err != nil:
		return 0, false, err
	case h.kind == kindNil:
		return 0, false, nil
	case h.kind == kindUint:
		v = h.u
	case h.kind == kindInt && h.i >= 0:
		v = uint64(h.i)
	case h.kind == kindInt:
		return 0, false, overflowError(&h, goType)
	default:
		return 0, false, typeError(h.kind, goType)
	}
	if bits < 64 && v >= 1<<bits {
		return 0, false, overflowError(&h, goType)
	}
	return v, true, nil
}

// decodeFloat decodes a float or an integer into a float64.
func decodeFloat(raw []byte, goType string) (float64, bool, error) {
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
	return 0, false, typeError(h.kind, goType)
}

// decodeReflect decodes the validated value at b[i] into v, a settable
// value, and returns the offset after it.
func decodeReflect(b []byte, i int, v reflect.Value) (int, error) {
	var h head
	err := readHead(b, i, &h)
	if err != nil {
		return i, err
	}
	t := v.Type()
	if h.kind == kindNil {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
			v.SetZero()
		}
		return h.off, nil
	}
	if t == timeType {
		tm, err := timeFrom(b, &h)
		if err != nil {
			return i, err
		}
		v.Set(reflect.ValueOf(tm))
		return valueEnd(b, i, &h), nil
	}
	if m := decodeUse(t); m != noMethods && v.CanAddr() {
		end := skip(b, i)
		if m == textMethods {
			return end, decodeText(b, &h, v.Addr().Interface())
		}
		return end, decodeLibrary(b[i:end], v.Addr().Interface())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return decodeReflect(b, i, v.Elem())
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return i, fmt.Errorf("msgpack: cannot decode into the interface type %v", t)
		}
		x, next, err := decodeNatural(b, i)
		if err != nil {
			return next, err
		}
		v.Set(reflect.ValueOf(x))
		return next, nil
	case reflect.Bool:
		if h.kind == kindBool {
			v.SetBool(h.bool)
			return h.off, nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch {
		case h.kind == kindInt && !v.OverflowInt(h.i):
			v.SetInt(h.i)
			return h.off, nil
		case h.kind == kindInt || h.kind == kindUint:
			return i, overflowError(&h, t)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u, ok := h.u, h.kind == kindUint
		if h.kind == kindInt && h.i >= 0 {
			u, ok = uint64(h.i), true
		}
		switch {
		case ok && !v.OverflowUint(u):
			v.SetUint(u)
			return h.off, nil
		case h.kind == kindInt || h.kind == kindUint:
			return i, overflowError(&h, t)
		}
	case reflect.Float32, reflect.Float64:
		switch h.kind {
		case kindFloat32, kindFloat64:
			if v.OverflowFloat(h.f) {
				return i, fmt.Errorf("msgpack: %v overflows %v", h.f, t)
			}
			v.SetFloat(h.f)
			return h.off, nil
		case kindInt:
			v.SetFloat(float64(h.i))
			return h.off, nil
		case kindUint:
			v.SetFloat(float64(h.u))
			return h.off, nil
		}
	case reflect.String:
		if h.kind == kindStr || h.kind == kindBin {
			v.SetString(string(b[h.off:h.end()]))
			return h.end(), nil
		}
	case reflect.Slice:
		if (h.kind == kindStr || h.kind == kindBin) && t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes(bytes.Clone(b[h.off:h.end()]))
			return h.end(), nil
		}
		if h.kind == kindArray {
			s := reflect.MakeSlice(t, h.n, h.n)
			j := h.off
			for k := range h.n {
				if j, err = decodeReflect(b, j, s.Index(k)); err != nil {
					return j, fmt.Errorf("[%d]: %w", k, err)
				}
			}
			v.Set(s)
			return j, nil
		}
	case reflect.Array:
		return decodeArray(b, i, &h, v)
	case reflect.Map:
		if h.kind == kindMap {
			return decodeMap(b, &h, v)
		}
	case reflect.Struct:
		if h.kind == kindMap {
			return decodeStruct(b, &h, v)
		}
	default:
		return i, fmt.Errorf("msgpack: cannot decode into %v", t)
	}
	return i, typeError(h.kind, t)
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
func timeFrom(b []byte, h *head) (time.Time, error) {
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
	return time.Time{}, typeError(h.kind, timeType)
}

func decodeArray(b []byte, i int, h *head, v reflect.Value) (int, error) {
	t := v.Type()
	switch {
	case (h.kind == kindStr || h.kind == kindBin) && t.Elem().Kind() == reflect.Uint8:
		if h.n != t.Len() {
			return i, fmt.Errorf("msgpack: %d bytes for %v", h.n, t)
		}
		for k, c := range b[h.off:h.end()] {
			v.Index(k).SetUint(uint64(c))
		}
		return h.end(), nil
	case h.kind == kindArray:
		if h.n != t.Len() {
			return i, fmt.Errorf("msgpack: %d elements for %v", h.n, t)
		}
		j := h.off
		var err error
		for k := range h.n {
			if j, err = decodeReflect(b, j, v.Index(k)); err != nil {
				return j, fmt.Errorf("[%d]: %w", k, err)
			}
		}
		return j, nil
	}
	return i, typeError(h.kind, t)
}

func decodeMap(b []byte, h *head, v reflect.Value) (int, error) {
	t := v.Type()
	kt := t.Key()
	if kt.Kind() != reflect.String {
		return h.off, fmt.Errorf("msgpack: cannot decode into %v: map keys must be strings", t)
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, min(h.n, 64)))
	}
	e := reflect.New(t.Elem()).Elem()
	j := h.off
	for range h.n {
		key, next, err := mapKey(b, j)
		if err != nil {
			return j, err
		}
		e.SetZero()
		if j, err = decodeReflect(b, next, e); err != nil {
			return j, fmt.Errorf("[%q]: %w", key, err)
		}
		k := reflect.ValueOf(key)
		if kt != k.Type() {
			k = k.Convert(kt)
		}
		v.SetMapIndex(k, e)
	}
	return j, nil
}

// structInfo indexes the wire fields of a struct type by name.
type structInfo struct {
	fields []rpc.Field
	byName map[string]int
}

var structInfos sync.Map // reflect.Type → *structInfo

func structInfoFor(t reflect.Type) *structInfo {
	if s, ok := structInfos.Load(t); ok {
		return s.(*structInfo)
	}
	fields := rpc.StructFields(t)
	s := &structInfo{fields: fields, byName: make(map[string]int, len(fields))}
	for i, f := range fields {
		s.byName[f.Name] = i
	}
	got, _ := structInfos.LoadOrStore(t, s)
	return got.(*structInfo)
}

// decodeStruct fills the fields of a struct from a map, by the exact names
// rpc.StructFields gives them; keys that name no field are skipped.
func decodeStruct(b []byte, h *head, v reflect.Value) (int, error) {
	info := structInfoFor(v.Type())
	j := h.off
	for range h.n {
		var kh head
		err := readHead(b, j, &kh)
		if err != nil {
			return j, err
		}
		if kh.kind != kindStr {
			return j, fmt.Errorf("msgpack: map key is %s %s; only string keys are supported", article(kh.kind), kh.kind)
		}
		idx, ok := info.byName[string(b[kh.off:kh.end()])]
		if !ok {
			j = skip(b, kh.end())
			continue
		}
		f := &info.fields[idx]
		if j, err = decodeReflect(b, kh.end(), v.FieldByIndex(f.Index)); err != nil {
			return j, fmt.Errorf("%s: %w", f.Name, err)
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
