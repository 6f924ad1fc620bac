package xml

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
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
	return d.decode(i, wire.PlanOf(v.Type()).Elem, v.Elem())
}

// decode decodes node i into v, a settable value of the plan p. A nil sets
// the zero value. It recurses once per level of nesting, which the parser
// has bounded.
func (d *doc) decode(i int, p *wire.Plan, v reflect.Value) error {
	n := &d.nodes[i]
	if n.kind == kindNil {
		v.SetZero()
		return nil
	}
	switch p.Kind {
	case wire.KindPointer:
		if v.IsNil() {
			v.Set(reflect.New(p.Type.Elem()))
		}
		return d.decode(i, p.Elem, v.Elem())
	case wire.KindInterface:
		return p.SetNatural(v, d.natural(i), n.kind.String())
	case wire.KindBool:
		if n.kind == kindBool {
			v.SetBool(n.num != 0)
			return nil
		}
	case wire.KindInt, wire.KindUint, wire.KindFloat:
		switch {
		case n.kind == kindInt:
			return p.SetInt(v, n.num)
		case n.kind == kindDouble && p.Kind == wire.KindFloat:
			return p.SetFloat(v, n.float())
		}
	case wire.KindString:
		if n.kind == kindString {
			v.SetString(d.str(n))
			return nil
		}
	case wire.KindBytes:
		if n.kind == kindBase64 {
			v.SetBytes(d.bytes(n))
			return nil
		}
		if n.kind == kindArray {
			return d.slice(i, p, v)
		}
	case wire.KindSlice:
		if n.kind == kindArray {
			return d.slice(i, p, v)
		}
	case wire.KindArray, wire.KindByteArray:
		if n.kind == kindArray && int(n.num) != p.Len {
			return p.Mismatch("array of " + strconv.Itoa(int(n.num)))
		}
		if n.kind == kindArray {
			j := i + 1
			for k := range p.Len {
				if err := d.decode(j, p.Elem, v.Index(k)); err != nil {
					return wire.AtIndex(err, k)
				}
				j = int(d.nodes[j].skip)
			}
			return nil
		}
	case wire.KindMap:
		if n.kind == kindStruct {
			return d.mapOf(i, p, v)
		}
	case wire.KindTime:
		if n.kind == kindTime {
			if v.CanAddr() {
				*v.Addr().Interface().(*time.Time) = n.time() // no boxing
			} else {
				v.Set(reflect.ValueOf(n.time()))
			}
			return nil
		}
	case wire.KindStruct:
		if n.kind == kindStruct {
			return d.structOf(i, p, v)
		}
	}
	return p.Mismatch(n.kind.String())
}

// slice decodes array node i into v, a slice of the plan p. The common
// element types skip the per-element reflection.
func (d *doc) slice(i int, p *wire.Plan, v reflect.Value) error {
	if v.CanAddr() {
		switch q := v.Addr().Interface().(type) {
		case *[]int:
			return ints(d, i, q)
		case *[]int64:
			return ints(d, i, q)
		case *[]int32:
			return ints(d, i, q)
		case *[]string:
			return d.strings(i, q)
		case *[]float64:
			return d.floats(i, q)
		case *[]any:
			*q = d.natural(i).([]any)
			return nil
		}
	}
	cnt := int(d.nodes[i].num)
	s := reflect.MakeSlice(p.Type, cnt, cnt)
	j := i + 1
	for k := range cnt {
		if err := d.decode(j, p.Elem, s.Index(k)); err != nil {
			return wire.AtIndex(err, k)
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
		case n.kind == kindNil:
		default:
			// Scalars only: an element with children breaks the
			// one-node-per-element layout this loop relies on. The plan
			// words the error.
			e := wire.PlanOf(reflect.TypeFor[T]())
			if n.kind == kindInt {
				return wire.AtIndex(e.CheckInt(n.num), k)
			}
			return wire.AtIndex(e.Mismatch(n.kind.String()), k)
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
			return wire.AtIndex(float64Plan.Mismatch(n.kind.String()), k)
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
			return wire.AtIndex(stringPlan.Mismatch(n.kind.String()), k)
		}
	}
	*p = s
	return nil
}

var (
	float64Plan = wire.PlanOf(reflect.TypeFor[float64]())
	stringPlan  = wire.PlanOf(reflect.TypeFor[string]())
)

// mapOf decodes struct node i into v, a map of the plan p.
func (d *doc) mapOf(i int, p *wire.Plan, v reflect.Value) error {
	if v.CanAddr() {
		if q, ok := v.Addr().Interface().(*map[string]any); ok {
			*q = d.natural(i).(map[string]any)
			return nil
		}
	}
	t := p.Type
	cnt := int(d.nodes[i].num)
	m := reflect.MakeMapWithSize(t, cnt)
	kt := t.Key()
	e := reflect.New(t.Elem()).Elem()
	j := i + 1
	for range cnt {
		key := d.str(&d.nodes[j])
		e.SetZero()
		if err := d.decode(j+1, p.Elem, e); err != nil {
			return wire.AtKey(err, key)
		}
		kv := reflect.ValueOf(key)
		if kt != kv.Type() {
			kv = kv.Convert(kt)
		}
		m.SetMapIndex(kv, e)
		j = int(d.nodes[j+1].skip)
	}
	v.Set(m)
	return nil
}

// structOf decodes struct node i into v, a struct of the plan p, member by
// member; members without a field are ignored and fields without a member
// keep their value.
func (d *doc) structOf(i int, p *wire.Plan, v reflect.Value) error {
	cnt := int(d.nodes[i].num)
	j, next := i+1, 0
	for range cnt {
		m := &d.nodes[j]
		name := d.b[m.start:m.end]
		if m.raw {
			name = unescape(nil, name)
		}
		if k := p.Lookup(name, next); k >= 0 {
			f := &p.Fields[k]
			next = k + 1
			if err := d.decode(j+1, f.Plan, f.Into(v)); err != nil {
				return wire.AtField(err, f.Name)
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
// the call, as wire.CodeServerError.
func (d *doc) fault(i int) (*wire.Error, error) {
	n := &d.nodes[i]
	if n.kind != kindStruct {
		return nil, fmt.Errorf("xml: the fault is a %s, not a struct", n.kind)
	}
	e := &wire.Error{Code: wire.CodeServerError}
	j := i + 1
	for range n.num {
		name := d.str(&d.nodes[j])
		v := &d.nodes[j+1]
		switch name {
		case "faultCode":
			switch v.kind {
			case kindInt:
				e.Code = int(v.num)
			case kindString:
				if c, err := strconv.ParseInt(d.str(v), 10, 64); err == nil {
					e.Code = int(c)
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

// memberNames holds, per struct plan, each field's member start tag and
// name, ready to write: <member><name>…</name>.
var memberNames sync.Map // *wire.Plan → *members

type members struct {
	prefix []string
	err    error // a name that XML cannot carry
}

func membersOf(p *wire.Plan) *members {
	if m, ok := memberNames.Load(p); ok {
		return m.(*members)
	}
	m := &members{prefix: make([]string, len(p.Fields))}
	for k, f := range p.Fields {
		b := append([]byte(nil), "<member><name>"...)
		b, err := appendText(b, f.Name, false)
		if err != nil {
			m.err = wire.AtField(err, f.Name)
			break
		}
		m.prefix[k] = string(append(b, "</name>"...))
	}
	actual, _ := memberNames.LoadOrStore(p, m)
	return actual.(*members)
}
