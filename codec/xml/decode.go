package xml

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// doc is a parsed message: the bytes (the caller's, or a transcoded copy)
// and the nodes that point into them. Decoding only reads it, so a doc may
// be decoded from several goroutines at once.
type doc struct {
	b     []byte
	nodes []node
}

// str copies out the text of a string node or member name.
func (d *doc) str(n *node) string {
	s := d.b[n.start:n.end]
	if !n.raw {
		return string(s)
	}
	return string(unescape(make([]byte, 0, len(s)), s))
}

// bytes decodes a base64 node into a new slice of exactly its length.
func (d *doc) bytes(n *node) []byte {
	s := d.b[n.start:n.end]
	if n.raw {
		s = unescape(nil, s)
	}
	return decodeBase64(make([]byte, 0, n.num), s)
}

func (n *node) time() time.Time { return time.Unix(n.num, int64(n.start)).UTC() }

func (n *node) float() float64 { return math.Float64frombits(uint64(n.num)) }

// decodeInto decodes node i into dst, a non-nil pointer. The common
// pointer types avoid reflection.
func (d *doc) decodeInto(i int, dst any) error {
	n := &d.nodes[i]
	switch p := dst.(type) {
	case *any:
		*p = d.natural(i)
		return nil
	case *string:
		if n.kind == kindString {
			*p = d.str(n)
			return nil
		}
	case *int64:
		if n.kind == kindInt {
			*p = n.num
			return nil
		}
	case *int:
		if n.kind == kindInt && strconv.IntSize == 64 {
			*p = int(n.num)
			return nil
		}
	case *bool:
		if n.kind == kindBool {
			*p = n.num != 0
			return nil
		}
	case *float64:
		switch n.kind {
		case kindDouble:
			*p = n.float()
			return nil
		case kindInt:
			*p = float64(n.num)
			return nil
		}
	}
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("xml: decoding into %T, not a non-nil pointer", dst)
	}
	return d.decode(i, v.Elem())
}

func mismatch(k kind, t reflect.Type) error {
	return fmt.Errorf("cannot use %s as %v", k, t)
}

// decode decodes node i into v, which is settable. A nil sets the zero
// value, as rpc.Convert does. It recurses once per level of nesting, which
// the parser has bounded.
func (d *doc) decode(i int, v reflect.Value) error {
	n := &d.nodes[i]
	if n.kind == kindNil {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decode(i, v.Elem())
	case reflect.Interface:
		x := reflect.ValueOf(d.natural(i))
		if v.NumMethod() == 0 || x.Type().AssignableTo(v.Type()) {
			v.Set(x)
			return nil
		}
	case reflect.Bool:
		if n.kind == kindBool {
			v.SetBool(n.num != 0)
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind == kindInt {
			if v.OverflowInt(n.num) {
				return fmt.Errorf("%d overflows %v", n.num, v.Type())
			}
			v.SetInt(n.num)
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n.kind == kindInt {
			if n.num < 0 || v.OverflowUint(uint64(n.num)) {
				return fmt.Errorf("%d overflows %v", n.num, v.Type())
			}
			v.SetUint(uint64(n.num))
			return nil
		}
	case reflect.Float32, reflect.Float64:
		switch n.kind {
		case kindDouble:
			f := n.float()
			if v.OverflowFloat(f) {
				return fmt.Errorf("%v overflows %v", f, v.Type())
			}
			v.SetFloat(f)
			return nil
		case kindInt:
			v.SetFloat(float64(n.num))
			return nil
		}
	case reflect.String:
		if n.kind == kindString {
			v.SetString(d.str(n))
			return nil
		}
	case reflect.Slice:
		if n.kind == kindBase64 && v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(d.bytes(n))
			return nil
		}
		if n.kind == kindArray {
			return d.slice(i, v)
		}
	case reflect.Array:
		if n.kind == kindArray {
			if int(n.num) != v.Len() {
				return fmt.Errorf("%d elements for %v", n.num, v.Type())
			}
			j := i + 1
			for k := range v.Len() {
				if err := d.decode(j, v.Index(k)); err != nil {
					return fmt.Errorf("[%d]: %w", k, err)
				}
				j = int(d.nodes[j].skip)
			}
			return nil
		}
	case reflect.Map:
		if n.kind == kindStruct && v.Type().Key().Kind() == reflect.String {
			return d.mapOf(i, v)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if n.kind == kindTime {
				if v.CanAddr() {
					*v.Addr().Interface().(*time.Time) = n.time() // no boxing
				} else {
					v.Set(reflect.ValueOf(n.time()))
				}
				return nil
			}
			break
		}
		if n.kind == kindStruct {
			return d.structOf(i, v)
		}
	}
	return mismatch(n.kind, v.Type())
}

var timeType = reflect.TypeFor[time.Time]()

// slice decodes array node i into v, a slice. The common element types
// skip the per-element reflection.
func (d *doc) slice(i int, v reflect.Value) error {
	if v.CanAddr() {
		switch p := v.Addr().Interface().(type) {
		case *[]int:
			return ints(d, i, p)
		case *[]int64:
			return ints(d, i, p)
		case *[]int32:
			return ints(d, i, p)
		case *[]string:
			return d.strings(i, p)
		case *[]float64:
			return d.floats(i, p)
		case *[]any:
			*p = d.natural(i).([]any)
			return nil
		}
	}
	cnt := int(d.nodes[i].num)
	s := reflect.MakeSlice(v.Type(), cnt, cnt)
	j := i + 1
	for k := range cnt {
		if err := d.decode(j, s.Index(k)); err != nil {
			return fmt.Errorf("[%d]: %w", k, err)
		}
		j = int(d.nodes[j].skip)
	}
	v.Set(s)
	return nil
}

func ints[T int | int64 | int32](d *doc, i int, p *[]T) error {
	cnt := int(d.nodes[i].num)
	s := make([]T, cnt)
	nodes := d.nodes[i+1 : i+1+cnt]
	for k := range nodes {
		n := &nodes[k]
		switch {
		case n.kind == kindInt && int64(T(n.num)) == n.num:
			s[k] = T(n.num)
		case n.kind == kindInt:
			return fmt.Errorf("[%d]: %d overflows %T", k, n.num, s[k])
		case n.kind == kindNil:
		default:
			// Scalars only: an element with children breaks the
			// one-node-per-element layout this loop relies on.
			return fmt.Errorf("[%d]: %w", k, mismatch(n.kind, reflect.TypeFor[T]()))
		}
	}
	*p = s
	return nil
}

func (d *doc) floats(i int, p *[]float64) error {
	cnt := int(d.nodes[i].num)
	s := make([]float64, cnt)
	nodes := d.nodes[i+1 : i+1+cnt]
	for k := range nodes {
		switch n := &nodes[k]; n.kind {
		case kindDouble:
			s[k] = n.float()
		case kindInt:
			s[k] = float64(n.num)
		case kindNil:
		default:
			return fmt.Errorf("[%d]: %w", k, mismatch(n.kind, reflect.TypeFor[float64]()))
		}
	}
	*p = s
	return nil
}

func (d *doc) strings(i int, p *[]string) error {
	cnt := int(d.nodes[i].num)
	s := make([]string, cnt)
	nodes := d.nodes[i+1 : i+1+cnt]
	for k := range nodes {
		switch n := &nodes[k]; n.kind {
		case kindString:
			s[k] = d.str(n)
		case kindNil:
		default:
			return fmt.Errorf("[%d]: %w", k, mismatch(n.kind, reflect.TypeFor[string]()))
		}
	}
	*p = s
	return nil
}

// mapOf decodes struct node i into v, a map with string keys.
func (d *doc) mapOf(i int, v reflect.Value) error {
	if v.CanAddr() {
		if p, ok := v.Addr().Interface().(*map[string]any); ok {
			*p = d.natural(i).(map[string]any)
			return nil
		}
	}
	t := v.Type()
	cnt := int(d.nodes[i].num)
	m := reflect.MakeMapWithSize(t, cnt)
	kt := t.Key()
	e := reflect.New(t.Elem()).Elem()
	j := i + 1
	for range cnt {
		key := d.str(&d.nodes[j])
		e.SetZero()
		if err := d.decode(j+1, e); err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
		kv := reflect.ValueOf(key)
		if kt.Kind() == reflect.String && kt != kv.Type() {
			kv = kv.Convert(kt)
		}
		m.SetMapIndex(kv, e)
		j = int(d.nodes[j+1].skip)
	}
	v.Set(m)
	return nil
}

// structOf decodes struct node i into v, a struct, member by member;
// members without a field are ignored and fields without a member keep
// their value.
func (d *doc) structOf(i int, v reflect.Value) error {
	info := structInfoOf(v.Type())
	cnt := int(d.nodes[i].num)
	j := i + 1
	for range cnt {
		m := &d.nodes[j]
		name := d.b[m.start:m.end]
		if m.raw {
			name = unescape(nil, name)
		}
		if f := info.field(name); f != nil {
			fv := v.Field(f.Index[0])
			if len(f.Index) > 1 {
				// StructFields promotes only through embedded structs, not
				// pointers, so the path needs no allocation.
				fv = v.FieldByIndex(f.Index)
			}
			if err := d.decode(j+1, fv); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		j = int(d.nodes[j+1].skip)
	}
	return nil
}

// natural decodes node i into natural Go types: nil, int64, bool, float64,
// string, time.Time, []byte, []any and map[string]any.
func (d *doc) natural(i int) any {
	n := &d.nodes[i]
	switch n.kind {
	case kindString:
		return d.str(n)
	case kindInt:
		return n.num
	case kindBool:
		return n.num != 0
	case kindDouble:
		return n.float()
	case kindTime:
		return n.time()
	case kindBase64:
		return d.bytes(n)
	case kindArray:
		out := make([]any, n.num)
		j := i + 1
		for k := range out {
			out[k] = d.natural(j)
			j = int(d.nodes[j].skip)
		}
		return out
	case kindStruct:
		out := make(map[string]any, n.num)
		j := i + 1
		for range n.num {
			out[d.str(&d.nodes[j])] = d.natural(j + 1)
			j = int(d.nodes[j+1].skip)
		}
		return out
	}
	return nil
}

// fault decodes the fault struct at node i. Liberal in what it takes, it
// accepts a faultCode sent as a numeric string and a faultString of any
// scalar type; a fault whose code is missing or not a number still fails
// the call, as rpc.CodeServerError.
func (d *doc) fault(i int) (*rpc.Error, error) {
	n := &d.nodes[i]
	if n.kind != kindStruct {
		return nil, fmt.Errorf("xml: the fault is a %s, not a struct", n.kind)
	}
	e := &rpc.Error{Code: rpc.CodeServerError}
	j := i + 1
	for range n.num {
		name := d.str(&d.nodes[j])
		v := &d.nodes[j+1]
		switch name {
		case "faultCode":
			switch v.kind {
			case kindInt:
				e.Code = rpc.Code(v.num)
			case kindString:
				if c, err := strconv.ParseInt(d.str(v), 10, 64); err == nil {
					e.Code = rpc.Code(c)
				}
			}
		case "faultString":
			if v.kind == kindString {
				e.Message = d.str(v)
			} else if v.kind < kindArray {
				e.Message = fmt.Sprint(d.natural(j + 1))
			}
		}
		j = int(v.skip)
	}
	return e, nil
}

// structInfo is what encoding and decoding need to know about a struct
// type, computed once.
type structInfo struct {
	fields []rpc.Field
	byName map[string]int // for structs with many fields
	enc    []encField
	encErr error
}

// encField is a field ready to encode: its member start tag and name.
type encField struct {
	index     []int
	omitEmpty bool
	prefix    string // <member><name>…</name>
}

var structInfos sync.Map // reflect.Type → *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: rpc.StructFields(t)}
	if len(si.fields) > 8 {
		si.byName = make(map[string]int, len(si.fields))
		for k, f := range si.fields {
			si.byName[f.Name] = k
		}
	}
	for _, f := range si.fields {
		b := append([]byte(nil), "<member><name>"...)
		b, err := appendText(b, f.Name, false)
		if err != nil {
			si.encErr = fmt.Errorf("xml: field %s of %v: %w", f.Name, t, err)
			break
		}
		b = append(b, "</name>"...)
		si.enc = append(si.enc, encField{index: f.Index, omitEmpty: f.OmitEmpty, prefix: string(b)})
	}
	actual, _ := structInfos.LoadOrStore(t, si)
	return actual.(*structInfo)
}

func (si *structInfo) field(name []byte) *rpc.Field {
	if si.byName != nil {
		if k, ok := si.byName[string(name)]; ok {
			return &si.fields[k]
		}
		return nil
	}
	for k := range si.fields {
		if si.fields[k].Name == string(name) {
			return &si.fields[k]
		}
	}
	return nil
}
