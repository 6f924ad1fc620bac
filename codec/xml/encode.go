package xml

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// The encoder writes conservatively, in the forms every XML-RPC reader
// knows: <int> within 32 bits and <i8> beyond, <boolean> as 0 or 1,
// <string> always typed, <double> in plain decimal where that stays short,
// <dateTime.iso8601> as the spec's YYYYMMDDTHH:MM:SS in UTC, <base64>
// without line breaks, <nil/>, and members sorted by name for maps.

// appendValue appends v as a <value> element. depth counts the arrays and
// structs around v.
func (c *Codec) appendValue(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "<value><nil/></value>"...), nil
	case string:
		b = append(b, "<value><string>"...)
		b, err := appendText(b, x, false)
		if err != nil {
			return b, err
		}
		return append(b, "</string></value>"...), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case bool:
		return appendBool(b, x), nil
	case float64:
		return appendDouble(b, x, 64)
	case []byte:
		return appendBase64(b, x), nil
	case time.Time:
		return appendTimeValue(b, x)
	case []any:
		if err := c.checkDepth(depth); err != nil {
			return b, err
		}
		b = append(b, "<value><array><data>"...)
		for k, e := range x {
			var err error
			if b, err = c.appendValue(b, e, depth+1); err != nil {
				return b, wire.AtIndex(err, k)
			}
		}
		return append(b, "</data></array></value>"...), nil
	case map[string]any:
		if err := c.checkDepth(depth); err != nil {
			return b, err
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, "<value><struct>"...)
		for _, k := range keys {
			var err error
			if b, err = appendMemberName(b, k); err != nil {
				return b, err
			}
			if b, err = c.appendValue(b, x[k], depth+1); err != nil {
				return b, wire.AtKey(err, k)
			}
			b = append(b, "</member>"...)
		}
		return append(b, "</struct></value>"...), nil
	}
	return c.appendReflect(b, reflect.ValueOf(v), depth)
}

func (c *Codec) checkDepth(depth int) error {
	if depth >= c.maxDepth {
		return &wire.DepthError{Codec: "xml", Max: c.maxDepth}
	}
	return nil
}

func appendInt(b []byte, i int64) []byte {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		b = append(b, "<value><int>"...)
		b = strconv.AppendInt(b, i, 10)
		return append(b, "</int></value>"...)
	}
	b = append(b, "<value><i8>"...)
	b = strconv.AppendInt(b, i, 10)
	return append(b, "</i8></value>"...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "<value><boolean>1</boolean></value>"...)
	}
	return append(b, "<value><boolean>0</boolean></value>"...)
}

// appendDouble writes the shortest digits that read back as f: in plain
// decimal with a point for magnitudes from 1e-6 to 1e21, which readers
// holding to the spec's "no exponent" take, and with an exponent outside
// that range, where plain decimal would run to hundreds of digits
// (Python writes the same forms). Infinities and NaN have no XML-RPC form.
func appendDouble(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &wire.ValueError{Msg: strconv.FormatFloat(f, 'g', -1, 64) + " cannot be encoded: XML-RPC has no representation for it"}
	}
	b = append(b, "<value><double>"...)
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		start := len(b)
		b = strconv.AppendFloat(b, f, 'f', -1, bits)
		if bytes.IndexByte(b[start:], '.') < 0 {
			b = append(b, ".0"...)
		}
	} else {
		b = strconv.AppendFloat(b, f, 'e', -1, bits)
	}
	return append(b, "</double></value>"...), nil
}

func appendBase64(b []byte, p []byte) []byte {
	b = append(b, "<value><base64>"...)
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, "</base64></value>"...)
}

func appendTimeValue(b []byte, t time.Time) ([]byte, error) {
	b = append(b, "<value><dateTime.iso8601>"...)
	b, err := appendTime(b, t)
	if err != nil {
		return b, err
	}
	return append(b, "</dateTime.iso8601></value>"...), nil
}

func appendMemberName(b []byte, name string) ([]byte, error) {
	b = append(b, "<member><name>"...)
	b, err := appendText(b, name, false)
	if err != nil {
		return b, fmt.Errorf("member name: %w", err)
	}
	return append(b, "</name>"...), nil
}

// appendReflect appends v, of any other type, as a <value> element.
func (c *Codec) appendReflect(b []byte, v reflect.Value, depth int) ([]byte, error) {
	if !v.IsValid() {
		return append(b, "<value><nil/></value>"...), nil
	}
	return c.appendPlan(b, wire.PlanOf(v.Type()), v, depth)
}

// appendPlan appends v, a value of the plan p, as a <value> element.
func (c *Codec) appendPlan(b []byte, p *wire.Plan, v reflect.Value, depth int) ([]byte, error) {
	// Follow pointers and interfaces with a bound of their own: a pointer
	// may point to itself.
	for hops := 0; p.Kind == wire.KindPointer || p.Kind == wire.KindInterface; hops++ {
		if v.IsNil() {
			return append(b, "<value><nil/></value>"...), nil
		}
		if hops >= c.maxDepth {
			return b, &wire.DepthError{Codec: "xml", Max: c.maxDepth}
		}
		v = v.Elem()
		switch k := v.Kind(); {
		case p.Kind == wire.KindPointer:
			p = p.Elem
		case k != reflect.Pointer && k != reflect.Interface && v.CanInterface():
			// What an interface holds takes appendValue's direct cases.
			return c.appendValue(b, v.Interface(), depth)
		default:
			p = wire.PlanOf(v.Type())
		}
	}
	switch p.Kind {
	case wire.KindBool:
		return appendBool(b, v.Bool()), nil
	case wire.KindInt:
		return appendInt(b, v.Int()), nil
	case wire.KindUint:
		u := v.Uint()
		if u > math.MaxInt64 {
			return b, &wire.ValueError{Msg: strconv.FormatUint(u, 10) + " exceeds the range of <i8>"}
		}
		return appendInt(b, int64(u)), nil
	case wire.KindFloat:
		return appendDouble(b, v.Float(), p.Bits)
	case wire.KindString:
		b = append(b, "<value><string>"...)
		b, err := appendText(b, v.String(), false)
		if err != nil {
			return b, err
		}
		return append(b, "</string></value>"...), nil
	case wire.KindBytes:
		return appendBase64(b, v.Bytes()), nil
	case wire.KindSlice, wire.KindArray, wire.KindByteArray:
		return c.appendArray(b, p, v, depth)
	case wire.KindMap:
		return c.appendMap(b, p, v, depth)
	case wire.KindTime:
		return appendTimeValue(b, v.Interface().(time.Time))
	case wire.KindStruct:
		return c.appendStruct(b, p, v, depth)
	}
	return b, p.Unsupported()
}

// appendArray writes a slice or array; a nil slice is an empty array.
func (c *Codec) appendArray(b []byte, p *wire.Plan, v reflect.Value, depth int) ([]byte, error) {
	if err := c.checkDepth(depth); err != nil {
		return b, err
	}
	b = append(b, "<value><array><data>"...)
	for k := range v.Len() {
		var err error
		if b, err = c.appendPlan(b, p.Elem, v.Index(k), depth+1); err != nil {
			return b, wire.AtIndex(err, k)
		}
	}
	return append(b, "</data></array></value>"...), nil
}

// appendMap writes a map with string keys as a struct, members sorted by
// name so that equal maps encode to equal bytes; a nil map is an empty
// struct.
func (c *Codec) appendMap(b []byte, p *wire.Plan, v reflect.Value, depth int) ([]byte, error) {
	if err := c.checkDepth(depth); err != nil {
		return b, err
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(x, y reflect.Value) int {
		switch xs, ys := x.String(), y.String(); {
		case xs < ys:
			return -1
		case xs > ys:
			return 1
		}
		return 0
	})
	b = append(b, "<value><struct>"...)
	for _, k := range keys {
		var err error
		if b, err = appendMemberName(b, k.String()); err != nil {
			return b, err
		}
		if b, err = c.appendPlan(b, p.Elem, v.MapIndex(k), depth+1); err != nil {
			return b, wire.AtKey(err, k.String())
		}
		b = append(b, "</member>"...)
	}
	return append(b, "</struct></value>"...), nil
}

// appendStruct writes a struct's fields as members named as the plan
// names them, leaving out the absent ones (see wire.Field.Of).
func (c *Codec) appendStruct(b []byte, p *wire.Plan, v reflect.Value, depth int) ([]byte, error) {
	if err := c.checkDepth(depth); err != nil {
		return b, err
	}
	m := membersOf(p)
	if m.err != nil {
		return b, m.err
	}
	b = append(b, "<value><struct>"...)
	for k := range p.Fields {
		f := &p.Fields[k]
		fv, ok := f.Of(v)
		if !ok {
			continue
		}
		b = append(b, m.prefix[k]...)
		var err error
		if b, err = c.appendPlan(b, f.Plan, fv, depth+1); err != nil {
			return b, wire.AtField(err, f.Name)
		}
		b = append(b, "</member>"...)
	}
	return append(b, "</struct></value>"...), nil
}
