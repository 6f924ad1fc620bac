package json

import (
	"bytes"
	"encoding"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// This file decodes one already validated JSON value into a Go value.
//
// Destinations of the common basic types are decoded here directly, without
// reflection. Interface destinations get natural values from decodeNatural,
// which keeps integers exact and charges them to the message's budget of
// natural values. Every other type goes to encoding/json, whose semantics
// (struct tags, case-insensitive field names, Unmarshaler) the codec
// promises; when such a type holds an interface somewhere inside, the value
// is charged to the budget as if it were natural throughout, decoded with
// UseNumber, and the json.Numbers left in interface slots are then turned
// into natural numbers, because encoding/json alone would put every number
// there through float64.

// decodeValue decodes the JSON value raw into dst, a non-nil pointer.
func decodeValue(raw []byte, dst any, nb *nat.Budget) error {
	switch d := dst.(type) {
	case *any:
		if d != nil {
			v, err := decodeNatural(raw, nb)
			if err != nil {
				return err
			}
			*d = v
			return nil
		}
	case *string:
		if d != nil {
			return decodeString(raw, d)
		}
	case *int64:
		if d != nil {
			return decodeInt64(raw, d)
		}
	case *int:
		if d != nil {
			v, ok, err := decodeInt(raw, intPlan)
			if ok {
				*d = int(v)
			}
			return err
		}
	case *int32:
		if d != nil {
			v, ok, err := decodeInt(raw, int32Plan)
			if ok {
				*d = int32(v)
			}
			return err
		}
	case *uint64:
		if d != nil {
			v, ok, err := decodeInt(raw, uint64Plan)
			if ok {
				*d = uint64(v)
			}
			return err
		}
	case *uint:
		if d != nil {
			v, ok, err := decodeInt(raw, uintPlan)
			if ok {
				*d = uint(v)
			}
			return err
		}
	case *float64:
		if d != nil {
			return decodeFloat64(raw, d)
		}
	case *bool:
		if d != nil {
			switch raw[0] {
			case 't':
				*d = true
				return nil
			case 'f':
				*d = false
				return nil
			case 'n':
				return nil
			}
			return boolPlan.Mismatch(kindName(raw))
		}
	case *[]int64:
		if d != nil {
			return decodeInt64s(raw, d)
		}
	case *[]float64:
		if d != nil {
			return decodeFloat64s(raw, d)
		}
	case *[]string:
		if d != nil {
			return decodeSlice(raw, d, stringsPlan, decodeString)
		}
	case *[]any:
		if d != nil && (raw[0] == '[' || raw[0] == 'n') {
			v, err := decodeNatural(raw, nb)
			if err != nil {
				return err
			}
			*d, _ = v.([]any)
			return nil
		}
	case *map[string]any:
		if d != nil && raw[0] == '{' {
			v, err := decodeNatural(raw, nb)
			if err != nil {
				return err
			}
			m := v.(map[string]any)
			if *d == nil {
				*d = m
				return nil
			}
			for k, e := range m { // encoding/json fills an existing map
				(*d)[k] = e
			}
			return nil
		}
		if d != nil && raw[0] == 'n' {
			*d = nil
			return nil
		}
	}
	return decodeReflect(raw, dst, nb)
}

func decodeReflect(raw []byte, dst any, nb *nat.Budget) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("json: cannot decode into %T, not a non-nil pointer", dst)
	}
	if !holdsInterface(rv.Type().Elem()) {
		return stdError(stdjson.Unmarshal(raw, dst))
	}
	// encoding/json fills the interfaces with natural values of its own,
	// which nb must pay for. What parts of raw go to them, only the walk
	// of the type along raw would tell: raw is charged whole.
	if err := chargeNatural(raw, nb); err != nil {
		return err
	}
	dec := stdjson.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return stdError(err)
	}
	return fixNumbers(rv.Elem())
}

// stdError words an error of encoding/json in the protocol's terms: its
// type errors name Go types ("Go struct field Stooges.curly of type
// int64"), which a server must not send to its callers.
func stdError(err error) error {
	if err == nil {
		return nil
	}
	var te *stdjson.UnmarshalTypeError
	if !errors.As(err, &te) || te.Type == nil {
		return err
	}
	p := wire.PlanOf(te.Type)
	got := te.Value
	if got == "bool" {
		got = "boolean" // as kindName says
	}
	e := p.Mismatch(got).(*wire.ValueError)
	if num, ok := strings.CutPrefix(te.Value, "number "); ok && !strings.ContainsAny(num, ".eE") &&
		(p.Kind == wire.KindInt || p.Kind == wire.KindUint) {
		e = p.OutOfRange(num).(*wire.ValueError)
	}
	e.Path, e.Err = te.Field, err
	return e
}

// The plans of the destinations that decodeValue decodes directly.
var (
	intPlan      = wire.PlanOf(reflect.TypeFor[int]())
	int32Plan    = wire.PlanOf(reflect.TypeFor[int32]())
	int64Plan    = wire.PlanOf(reflect.TypeFor[int64]())
	uintPlan     = wire.PlanOf(reflect.TypeFor[uint]())
	uint64Plan   = wire.PlanOf(reflect.TypeFor[uint64]())
	float64Plan  = wire.PlanOf(reflect.TypeFor[float64]())
	stringPlan   = wire.PlanOf(reflect.TypeFor[string]())
	boolPlan     = wire.PlanOf(reflect.TypeFor[bool]())
	stringsPlan  = wire.PlanOf(reflect.TypeFor[[]string]())
	int64sPlan   = wire.PlanOf(reflect.TypeFor[[]int64]())
	float64sPlan = wire.PlanOf(reflect.TypeFor[[]float64]())
)

// kindName names the JSON kind of raw for error messages.
func kindName(raw []byte) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number " + excerpt(raw)
}

// excerpt shortens raw for an error message: a hostile number may be a
// megabyte long.
func excerpt(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}

// unquote returns the string value of the JSON string raw, quotes included.
// Invalid UTF-8 and unpaired surrogates become U+FFFD, as in encoding/json.
func unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	return string(appendUnquoted(make([]byte, 0, len(s)), s))
}

// appendUnquoted appends the decoded contents s of a valid JSON string.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					// Only a high surrogate escape followed by a low one makes
					// a rune; anything else is U+FFFD, as in encoding/json.
					lo := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						lo = hex4(s[i+2:])
					}
					if r = utf16.DecodeRune(r, lo); r != utf8.RuneError {
						i += 6
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

var (
	unmarshalerType     = reflect.TypeFor[stdjson.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// interfaceTypes caches holdsInterface per type.
var interfaceTypes sync.Map // reflect.Type → bool

// holdsInterface reports whether a value of type t can hold an interface
// slot that encoding/json fills by itself, so that decoding into it needs
// the json.Number fix-up. Types with their own UnmarshalJSON or
// UnmarshalText decode their own numbers and are left alone.
func holdsInterface(t reflect.Type) bool {
	if v, ok := interfaceTypes.Load(t); ok {
		return v.(bool)
	}
	r := holdsInterfaceWalk(t, map[reflect.Type]bool{})
	interfaceTypes.Store(t, r)
	return r
}

func holdsInterfaceWalk(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if visiting[t] {
		return false // a cycle adds nothing the first visit does not see
	}
	if v, ok := interfaceTypes.Load(t); ok {
		return v.(bool)
	}
	visiting[t] = true
	defer delete(visiting, t)
	if t.Kind() != reflect.Interface {
		pt := reflect.PointerTo(t)
		if pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsInterfaceWalk(t.Elem(), visiting)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && holdsInterfaceWalk(f.Type, visiting) {
				return true
			}
		}
	}
	return false
}

// fixNumbers replaces the json.Numbers that a UseNumber decode left in the
// interface slots of v with natural numbers.
func fixNumbers(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if v.NumMethod() != 0 {
			// encoding/json decodes into what a non-empty interface points to.
			if e := v.Elem(); e.Kind() == reflect.Pointer && !e.IsNil() {
				return fixNumbers(e.Elem())
			}
			return nil
		}
		x := v.Interface()
		y, err := fixAny(x)
		if err != nil {
			return err
		}
		if _, ok := x.(stdjson.Number); ok && v.CanSet() {
			v.Set(reflect.ValueOf(y))
		}
	case reflect.Pointer:
		if !v.IsNil() && holdsInterface(v.Type().Elem()) {
			return fixNumbers(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if holdsInterface(v.Type().Elem()) {
			for i := range v.Len() {
				if err := fixNumbers(v.Index(i)); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		et := v.Type().Elem()
		if !holdsInterface(et) {
			return nil
		}
		iter := v.MapRange()
		for iter.Next() {
			// Map elements are not addressable: fix a copy and store it back.
			e := reflect.New(et).Elem()
			e.Set(iter.Value())
			if err := fixNumbers(e); err != nil {
				return err
			}
			v.SetMapIndex(iter.Key(), e)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && holdsInterface(f.Type) {
				if err := fixNumbers(v.Field(i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fixAny converts the json.Numbers in a natural value, in place for slices
// and maps.
func fixAny(x any) (any, error) {
	switch t := x.(type) {
	case stdjson.Number:
		return naturalNumber(t)
	case []any:
		for i, e := range t {
			y, err := fixAny(e)
			if err != nil {
				return nil, err
			}
			t[i] = y
		}
	case map[string]any:
		for k, e := range t {
			if !needsFix(e) {
				continue
			}
			y, err := fixAny(e)
			if err != nil {
				return nil, err
			}
			t[k] = y
		}
	}
	return x, nil
}

func needsFix(x any) bool {
	switch x.(type) {
	case stdjson.Number, []any, map[string]any:
		return true
	}
	return false
}
