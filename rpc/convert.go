package rpc

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// maxConvertDepth bounds the recursion of convertInto; decoders bound
// nesting far below it, so it only guards values built in Go.
const maxConvertDepth = 1000

// convertInto stores src, a value in natural Go types, into dst, a non-nil
// pointer. Natural types are what a decoder produces when it does not know
// the target type: nil, bool, int64, uint64 (beyond int64), float64,
// string, []byte, time.Time, []any and map[string]any; any other Go value is
// accepted where it is assignable or numerically convertible without loss.
// Maps fill structs by field name (see wire.StructFields), ignoring unknown
// keys. It serves Server.Invoke (system.multicall) and a client's
// interceptors that decode the params they see.
func convertInto(dst any, src any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("rpc: cannot decode into %T, not a non-nil pointer", dst)
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
	sv := reflect.ValueOf(src)
	if sv.Type() == dst.Type() {
		dst.Set(sv)
		return nil
	}
	ok, err := convertKind(dst, sv, src, depth)
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("cannot use %s as %s", describe(src), kindName(dst.Type()))
}

// convertKind converts by the kind of dst; ok is false when src does not
// fit it at all.
func convertKind(dst, sv reflect.Value, src any, depth int) (ok bool, err error) {
	dt := dst.Type()
	switch dt.Kind() {
	case reflect.Interface:
		if sv.Type().AssignableTo(dt) {
			dst.Set(sv)
			return true, nil
		}
	case reflect.Pointer:
		if dst.IsNil() {
			dst.Set(reflect.New(dt.Elem()))
		}
		return true, convert(dst.Elem(), src, depth+1)
	case reflect.Bool:
		if sv.Kind() == reflect.Bool {
			dst.SetBool(sv.Bool())
			return true, nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return convertNumber(dst, sv)
	case reflect.String:
		if sv.Kind() == reflect.String {
			dst.SetString(sv.String())
			return true, nil
		}
	case reflect.Slice, reflect.Array:
		return convertList(dst, sv, src, depth)
	case reflect.Map:
		return convertMap(dst, sv, depth)
	case reflect.Struct:
		return convertStruct(dst, src, depth)
	}
	return false, nil
}

// convertNumber stores a number into a numeric dst, refusing a loss.
func convertNumber(dst, sv reflect.Value) (bool, error) {
	if !isNumber(sv) {
		return false, nil
	}
	dt := dst.Type()
	switch dt.Kind() {
	case reflect.Float32, reflect.Float64:
		f := toFloat64(sv)
		if dt.Kind() == reflect.Float32 && dst.OverflowFloat(f) {
			return true, fmt.Errorf("%v is out of the range of a 32-bit float", f)
		}
		dst.SetFloat(f)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, ok := toUint64(sv)
		if !ok || dst.OverflowUint(u) {
			return true, fmt.Errorf("%v is not a whole number in the range of %s", sv.Interface(), kindName(dt))
		}
		dst.SetUint(u)
	default:
		i, ok := toInt64(sv)
		if !ok || dst.OverflowInt(i) {
			return true, fmt.Errorf("%v is not a whole number in the range of %s", sv.Interface(), kindName(dt))
		}
		dst.SetInt(i)
	}
	return true, nil
}

// convertList fills a slice or an array from a list (or []byte from []byte).
func convertList(dst, sv reflect.Value, src any, depth int) (bool, error) {
	dt := dst.Type()
	if b, ok := src.([]byte); ok && dt.Kind() == reflect.Slice && dt.Elem().Kind() == reflect.Uint8 {
		dst.SetBytes(append(make([]byte, 0, len(b)), b...))
		return true, nil
	}
	if sv.Kind() != reflect.Slice && sv.Kind() != reflect.Array {
		return false, nil
	}
	n := sv.Len()
	if dt.Kind() == reflect.Array {
		if n != dt.Len() {
			return true, fmt.Errorf("%d elements where %d are wanted", n, dt.Len())
		}
	} else {
		dst.Set(reflect.MakeSlice(dt, n, n))
	}
	for i := range n {
		if err := convert(dst.Index(i), sv.Index(i).Interface(), depth+1); err != nil {
			return true, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return true, nil
}

// convertMap fills a map with string keys from a map with string keys.
func convertMap(dst, sv reflect.Value, depth int) (bool, error) {
	if sv.Kind() != reflect.Map || sv.Type().Key().Kind() != reflect.String {
		return false, nil
	}
	dt := dst.Type()
	m := reflect.MakeMapWithSize(dt, sv.Len())
	kt, et := dt.Key(), dt.Elem()
	iter := sv.MapRange()
	for iter.Next() {
		e := reflect.New(et).Elem()
		k := iter.Key().String()
		if err := convert(e, iter.Value().Interface(), depth+1); err != nil {
			return true, fmt.Errorf("[%q]: %w", k, err)
		}
		m.SetMapIndex(reflect.ValueOf(k).Convert(kt), e)
	}
	dst.Set(m)
	return true, nil
}

// convertStruct fills a struct from a map by field name, and a time.Time
// from an RFC 3339 string.
func convertStruct(dst reflect.Value, src any, depth int) (bool, error) {
	dt := dst.Type()
	if dt == timeType {
		s, ok := src.(string)
		if !ok {
			return false, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return true, fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		dst.Set(reflect.ValueOf(t))
		return true, nil
	}
	m, ok := src.(map[string]any)
	if !ok {
		return false, nil
	}
	for _, f := range wire.StructFields(dt) {
		v, ok := m[f.Name]
		if !ok {
			continue
		}
		if err := convert(fieldByIndexAlloc(dst, f.Index), v, depth+1); err != nil {
			return true, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return true, nil
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

func toFloat64(v reflect.Value) float64 {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint())
	}
	return v.Float()
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
	return kindName(reflect.TypeOf(v))
}

// kindName names a Go type by the wire kind it stands for, so that errors
// speak the protocol's terms rather than Go's, in the codecs' words.
func kindName(t reflect.Type) string { return wire.PlanOf(t).Want() }

// timeType is time.Time's type, which codecs carry as a scalar.
var timeType = reflect.TypeFor[time.Time]()

// goParams are params given as Go values: a client's, and Invoke's.
type goParams struct {
	args  []any
	named any // a map with string keys or a struct; then args is unused
}

func (p *goParams) Len() int {
	if p.named != nil {
		return -1
	}
	return len(p.args)
}

func (p *goParams) DecodeAt(i int, dst any) error {
	if i < 0 || i >= len(p.args) {
		return fmt.Errorf("no param %d", i+1)
	}
	return convertInto(dst, p.args[i])
}

func (p *goParams) Names() []string {
	v := reflect.Indirect(reflect.ValueOf(p.named))
	switch v.Kind() {
	case reflect.Map:
		names := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			names = append(names, k.String())
		}
		slices.Sort(names)
		return names
	case reflect.Struct:
		var names []string
		for _, f := range wire.StructFields(v.Type()) {
			names = append(names, f.Name)
		}
		return names
	}
	return nil
}

func (p *goParams) DecodeNamed(name string, dst any) error {
	v := reflect.Indirect(reflect.ValueOf(p.named))
	switch v.Kind() {
	case reflect.Map:
		if e := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key())); e.IsValid() {
			return convertInto(dst, e.Interface())
		}
	case reflect.Struct:
		for _, f := range wire.StructFields(v.Type()) {
			if f.Name == name {
				fv, err := v.FieldByIndexErr(f.Index)
				if err != nil {
					return convertInto(dst, nil)
				}
				return convertInto(dst, fv.Interface())
			}
		}
	}
	return fmt.Errorf("no param %q", name)
}
