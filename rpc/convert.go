package rpc

import (
	"fmt"
	"math"
	"reflect"
	"time"
)

// maxConvertDepth bounds the recursion of Convert; decoders bound nesting
// far below it, so it only guards values built in Go.
const maxConvertDepth = 1000

// Convert stores src, a value in natural Go types, into dst, a non-nil
// pointer. Natural types are what a decoder produces when it does not know
// the target type: nil, bool, int64, uint64 (beyond int64), float64, string,
// []byte, time.Time, []any and map[string]any; any other Go value is
// accepted where it is assignable or numerically convertible without loss.
// Maps fill structs by field name (see StructFields), ignoring unknown keys.
// Convert serves codecs that decode into a tree first (XML-RPC) and
// in-process calls such as system.multicall.
func Convert(dst any, src any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("rpc: Convert into %T, not a non-nil pointer", dst)
	}
	return convert(v.Elem(), src, 0)
}

func convert(dst reflect.Value, src any, depth int) error {
	if depth > maxConvertDepth {
		return fmt.Errorf("value nested deeper than %d levels", maxConvertDepth)
	}
	if src == nil {
		dst.SetZero()
		return nil
	}
	dt := dst.Type()
	sv := reflect.ValueOf(src)
	if sv.Type() == dt {
		dst.Set(sv)
		return nil
	}
	switch dt.Kind() {
	case reflect.Interface:
		if sv.Type().AssignableTo(dt) {
			dst.Set(sv)
			return nil
		}
	case reflect.Pointer:
		if dst.IsNil() {
			dst.Set(reflect.New(dt.Elem()))
		}
		return convert(dst.Elem(), src, depth+1)
	case reflect.Bool:
		if sv.Kind() == reflect.Bool {
			dst.SetBool(sv.Bool())
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if i, ok := toInt64(sv); ok {
			if dst.OverflowInt(i) {
				return fmt.Errorf("%d overflows %v", i, dt)
			}
			dst.SetInt(i)
			return nil
		}
		if isNumber(sv) {
			return fmt.Errorf("%v is not a whole number in the range of %v", src, dt)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u, ok := toUint64(sv); ok {
			if dst.OverflowUint(u) {
				return fmt.Errorf("%d overflows %v", u, dt)
			}
			dst.SetUint(u)
			return nil
		}
		if isNumber(sv) {
			return fmt.Errorf("%v is not a whole number in the range of %v", src, dt)
		}
	case reflect.Float32, reflect.Float64:
		switch sv.Kind() {
		case reflect.Float32, reflect.Float64:
			f := sv.Float()
			if dt.Kind() == reflect.Float32 && dst.OverflowFloat(f) {
				return fmt.Errorf("%v overflows %v", f, dt)
			}
			dst.SetFloat(f)
			return nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst.SetFloat(float64(sv.Int()))
			return nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			dst.SetFloat(float64(sv.Uint()))
			return nil
		}
	case reflect.String:
		if sv.Kind() == reflect.String {
			dst.SetString(sv.String())
			return nil
		}
	case reflect.Slice:
		if dt.Elem().Kind() == reflect.Uint8 {
			if b, ok := src.([]byte); ok {
				dst.SetBytes(append(make([]byte, 0, len(b)), b...))
				return nil
			}
		}
		if sv.Kind() == reflect.Slice || sv.Kind() == reflect.Array {
			n := sv.Len()
			s := reflect.MakeSlice(dt, n, n)
			for i := 0; i < n; i++ {
				if err := convert(s.Index(i), sv.Index(i).Interface(), depth+1); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			dst.Set(s)
			return nil
		}
	case reflect.Array:
		if sv.Kind() == reflect.Slice || sv.Kind() == reflect.Array {
			if sv.Len() != dt.Len() {
				return fmt.Errorf("%d elements for %v", sv.Len(), dt)
			}
			for i := 0; i < sv.Len(); i++ {
				if err := convert(dst.Index(i), sv.Index(i).Interface(), depth+1); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			return nil
		}
	case reflect.Map:
		if sv.Kind() == reflect.Map && sv.Type().Key().Kind() == reflect.String {
			m := reflect.MakeMapWithSize(dt, sv.Len())
			kt, et := dt.Key(), dt.Elem()
			iter := sv.MapRange()
			for iter.Next() {
				e := reflect.New(et).Elem()
				k := iter.Key().String()
				if err := convert(e, iter.Value().Interface(), depth+1); err != nil {
					return fmt.Errorf("[%q]: %w", k, err)
				}
				m.SetMapIndex(reflect.ValueOf(k).Convert(kt), e)
			}
			dst.Set(m)
			return nil
		}
	case reflect.Struct:
		if dt == timeType {
			if s, ok := src.(string); ok {
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return fmt.Errorf("%q is not an RFC 3339 time", s)
				}
				dst.Set(reflect.ValueOf(t))
				return nil
			}
			break
		}
		if m, ok := src.(map[string]any); ok {
			fields := StructFields(dt)
			for _, f := range fields {
				v, ok := m[f.Name]
				if !ok {
					continue
				}
				fv := fieldByIndexAlloc(dst, f.Index)
				if err := convert(fv, v, depth+1); err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("cannot use %s as %v", describe(src), dt)
}

// fieldByIndexAlloc is FieldByIndex that allocates nil embedded pointers.
func fieldByIndexAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func isNumber(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func toInt64(v reflect.Value) (int64, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u := v.Uint(); u <= math.MaxInt64 {
			return int64(u), true
		}
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return int64(f), true
		}
	}
	return 0, false
}

func toUint64(v reflect.Value) (uint64, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if i := v.Int(); i >= 0 {
			return uint64(i), true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), true
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if f == math.Trunc(f) && f >= 0 && f < 1<<64 {
			return uint64(f), true
		}
	}
	return 0, false
}

// describe names a natural value's wire kind for error messages.
func describe(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int64, uint64, int, int32:
		return "integer"
	case float64:
		return "number"
	case string:
		return "string"
	case []byte:
		return "binary"
	case time.Time:
		return "time"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
