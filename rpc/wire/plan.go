package wire

import (
	"math"
	"reflect"
	"strconv"
	"sync"
)

// Kind is how values of a Go type travel, whatever the codec: the shape a
// codec's encoder writes and its decoder expects.
type Kind uint8

const (
	// KindUnsupported types cannot travel: channels, functions, complex
	// numbers, unsafe pointers, maps whose keys are not strings, and
	// chains of more than 32 pointer types (such as `type P *P`).
	KindUnsupported Kind = iota
	KindBool
	KindInt   // a signed integer of Plan.Bits
	KindUint  // an unsigned integer of Plan.Bits (uintptr included)
	KindFloat // a float of Plan.Bits
	KindString
	KindBytes     // a slice of bytes
	KindByteArray // an array of Plan.Len bytes
	KindTime      // time.Time
	KindSlice     // a slice of Plan.Elem
	KindArray     // an array of Plan.Len Plan.Elem
	KindMap       // a map with string keys and Plan.Elem values
	KindStruct    // a struct of Plan.Fields
	KindPointer   // a pointer to Plan.Elem
	KindInterface // an interface: natural values (see Plan.SetNatural)
)

// Plan is what codecs need to know about a Go type to encode its values and
// to decode into it, worked out once per type by PlanOf: how its values
// travel, the plans of its elements and fields, and the checks that a
// decoded value fits. A codec walks a plan with its own primitives, so that
// every codec names fields, checks ranges and words its errors alike.
//
// Plans are shared by every codec and cached: a Plan must not be modified,
// and is safe for concurrent use. Plans of recursive types refer to
// themselves.
type Plan struct {
	Type reflect.Type
	Kind Kind
	// Bits is the size of a KindInt, KindUint or KindFloat.
	Bits int
	// Len is the length of a KindArray or KindByteArray.
	Len int
	// Elem is the plan of the elements of a KindSlice, KindArray, KindBytes
	// or KindByteArray, of the values of a KindMap, and of what a
	// KindPointer points to.
	Elem *Plan
	// Fields are the fields of a KindStruct, as StructFields gives them.
	Fields []Field

	want    string         // what values of the type are, in the protocol's terms
	lo, hi  int64          // KindInt: the range
	max     uint64         // KindUint: the largest value
	byName  map[string]int // KindStruct with many fields: Fields by name
	methods bool           // KindInterface: the interface has methods
	omits   bool           // KindStruct: a field may be absent (see Field.Of)
}

var (
	plans  sync.Map   // reflect.Type → *Plan, complete plans only
	planMu sync.Mutex // serializes building
)

// PlanOf returns the plan of t, building it on first use. It is safe for
// concurrent use, and cheap once t has been planned.
func PlanOf(t reflect.Type) *Plan {
	if p, ok := plans.Load(t); ok {
		return p.(*Plan)
	}
	planMu.Lock()
	defer planMu.Unlock()
	b := planner{built: map[reflect.Type]*Plan{}}
	p := b.plan(t)
	// Publish the new plans only now that they are complete: a plan whose
	// element is still being built must not be seen by another goroutine.
	for _, q := range b.built {
		checkChain(q)
	}
	for _, q := range b.built {
		q.want = want(q)
	}
	// Only then published: a plan stored first may lead to one whose want
	// would still be being written.
	for t, q := range b.built {
		plans.Store(t, q)
	}
	return p
}

// planner builds the plans of one PlanOf call.
type planner struct {
	built map[reflect.Type]*Plan // new plans, complete or under way
}

func (b *planner) plan(t reflect.Type) *Plan {
	if p, ok := plans.Load(t); ok {
		return p.(*Plan)
	}
	if p, ok := b.built[t]; ok {
		return p // complete, or an ancestor under way: a recursive type
	}
	p := &Plan{Type: t}
	b.built[t] = p
	switch t.Kind() {
	case reflect.Bool:
		p.Kind = KindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.Kind, p.Bits = KindInt, t.Bits()
		p.lo, p.hi = -1<<(p.Bits-1), 1<<(p.Bits-1)-1
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.Kind, p.Bits = KindUint, t.Bits()
		p.max = math.MaxUint64 >> (64 - p.Bits)
	case reflect.Float32, reflect.Float64:
		p.Kind, p.Bits = KindFloat, t.Bits()
	case reflect.String:
		p.Kind = KindString
	case reflect.Slice:
		p.Kind, p.Elem = KindSlice, b.plan(t.Elem())
		if t.Elem().Kind() == reflect.Uint8 {
			p.Kind = KindBytes
		}
	case reflect.Array:
		p.Kind, p.Elem, p.Len = KindArray, b.plan(t.Elem()), t.Len()
		if t.Elem().Kind() == reflect.Uint8 {
			p.Kind = KindByteArray
		}
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			p.Kind, p.Elem = KindMap, b.plan(t.Elem())
		} else {
			p.want = "a map with non-string keys"
		}
	case reflect.Struct:
		if t == timeType {
			p.Kind = KindTime
			break
		}
		p.Kind = KindStruct
		p.Fields = structFields(t)
		for i := range p.Fields {
			f := &p.Fields[i]
			f.Plan = b.plan(f.Type)
			p.omits = p.omits || f.OmitEmpty || len(f.Index) > 1
		}
		if len(p.Fields) > maxScan {
			p.byName = make(map[string]int, len(p.Fields))
			for i, f := range p.Fields {
				p.byName[f.Name] = i
			}
		}
	case reflect.Pointer:
		p.Kind, p.Elem = KindPointer, b.plan(t.Elem())
	case reflect.Interface:
		p.Kind, p.methods = KindInterface, t.NumMethod() != 0
	case reflect.Chan:
		p.want = "a channel"
	case reflect.Func:
		p.want = "a function"
	case reflect.Complex64, reflect.Complex128:
		p.want = "a complex number"
	default: // unsafe.Pointer
		p.want = "an unsafe pointer"
	}
	return p
}

// maxPointers bounds a chain of pointer types (**T has two), so that a type
// such as `type P *P` is unsupported rather than followed forever.
const maxPointers = 32

// maxScan is how many fields Plan.Lookup compares one by one before a
// struct gets a map.
const maxScan = 8

// checkChain makes a pointer type unsupported when its chain of pointer
// types is too long, or endless.
func checkChain(p *Plan) {
	q := p
	for n := 0; q.Kind == KindPointer; n++ {
		if n == maxPointers {
			*p = Plan{Type: p.Type, want: "a chain of more than " + strconv.Itoa(maxPointers) + " pointers"}
			return
		}
		q = q.Elem
	}
}

// want describes p's values in the protocol's terms, for errors.
func want(p *Plan) string {
	switch p.Kind {
	case KindBool:
		return "boolean"
	case KindInt:
		if p.Bits == 8 {
			return "an 8-bit integer"
		}
		return "a " + strconv.Itoa(p.Bits) + "-bit integer"
	case KindUint:
		return "an unsigned " + strconv.Itoa(p.Bits) + "-bit integer"
	case KindFloat:
		return "number"
	case KindString:
		return "string"
	case KindBytes:
		return "binary"
	case KindByteArray:
		return "binary of " + strconv.Itoa(p.Len) + " bytes"
	case KindTime:
		return "time"
	case KindSlice:
		return "array"
	case KindArray:
		return "array of " + strconv.Itoa(p.Len)
	case KindMap, KindStruct:
		return "object"
	case KindPointer:
		q := p.Elem
		for q.Kind == KindPointer {
			q = q.Elem
		}
		return want(q)
	case KindInterface:
		if p.methods {
			return "an interface with methods"
		}
		return "value"
	}
	return p.want // KindUnsupported
}

// Want describes the values p decodes into, in the protocol's terms rather
// than Go's: "boolean", "a 32-bit integer", "an unsigned 8-bit integer",
// "number", "string", "binary", "time", "array", "object", "value".
func (p *Plan) Want() string { return p.want }

// Lookup returns the position in Fields of the field named name, or -1.
// It tries position hint first: a decoder that passes the position after
// the field it found last finds each field of a struct encoded in Fields
// order in one comparison.
func (p *Plan) Lookup(name []byte, hint int) int {
	if hint >= 0 && hint < len(p.Fields) && p.Fields[hint].Name == string(name) {
		return hint
	}
	if p.byName != nil {
		if i, ok := p.byName[string(name)]; ok {
			return i
		}
		return -1
	}
	for i := range p.Fields {
		if p.Fields[i].Name == string(name) {
			return i
		}
	}
	return -1
}

// Mismatch returns the error of a value that p cannot hold: got names it in
// the protocol's terms ("string", "array of 3").
func (p *Plan) Mismatch(got string) error {
	if p.Kind == KindUnsupported {
		return p.Unsupported()
	}
	return &ValueError{Msg: "cannot use " + got + " as " + p.want}
}

// Unsupported returns the error of a KindUnsupported plan.
func (p *Plan) Unsupported() error {
	return &ValueError{Msg: p.want + " cannot be encoded or decoded"}
}

// OutOfRange returns the error of a number that does not fit p, a
// KindInt, KindUint or KindFloat; got is the number as the message spells
// it.
func (p *Plan) OutOfRange(got string) error {
	if p.Kind == KindFloat {
		return &ValueError{Msg: got + " is out of the range of a " + strconv.Itoa(p.Bits) + "-bit float"}
	}
	return &ValueError{Msg: got + " is out of the range of " + p.want}
}

// CheckInt reports whether x fits p: a KindInt or KindUint whose range
// holds it, or a KindFloat. The error is in the protocol's terms.
func (p *Plan) CheckInt(x int64) error {
	if p.Kind == KindInt && x >= p.lo && x <= p.hi { // the usual case, in line
		return nil
	}
	return p.checkInt(x)
}

func (p *Plan) checkInt(x int64) error {
	switch p.Kind {
	case KindInt:
		if x >= p.lo && x <= p.hi {
			return nil
		}
	case KindUint:
		if x >= 0 && uint64(x) <= p.max {
			return nil
		}
	case KindFloat:
		return nil
	default:
		return p.Mismatch("integer")
	}
	return p.OutOfRange(strconv.FormatInt(x, 10))
}

// CheckUint is CheckInt for an unsigned integer.
func (p *Plan) CheckUint(x uint64) error {
	if p.Kind == KindUint && x <= p.max { // the usual case, in line
		return nil
	}
	return p.checkUint(x)
}

func (p *Plan) checkUint(x uint64) error {
	switch p.Kind {
	case KindInt:
		if x <= uint64(p.hi) {
			return nil
		}
	case KindUint:
		if x <= p.max {
			return nil
		}
	case KindFloat:
		return nil
	default:
		return p.Mismatch("integer")
	}
	return p.OutOfRange(strconv.FormatUint(x, 10))
}

// CheckFloat reports whether x fits p: a KindFloat whose range holds it
// (infinities and NaN fit both sizes). A float never fits an integer.
func (p *Plan) CheckFloat(x float64) error {
	if p.Kind != KindFloat {
		return p.Mismatch("number " + strconv.FormatFloat(x, 'g', -1, 64))
	}
	if p.Bits == 32 && math.Abs(x) > math.MaxFloat32 && !math.IsInf(x, 0) {
		return p.OutOfRange(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return nil
}

// SetInt stores x in v, a settable value of p's type, after CheckInt.
func (p *Plan) SetInt(v reflect.Value, x int64) error {
	if err := p.CheckInt(x); err != nil {
		return err
	}
	switch p.Kind {
	case KindInt:
		v.SetInt(x)
	case KindUint:
		v.SetUint(uint64(x))
	default:
		v.SetFloat(float64(x))
	}
	return nil
}

// SetUint stores x in v, a settable value of p's type, after CheckUint.
func (p *Plan) SetUint(v reflect.Value, x uint64) error {
	if err := p.CheckUint(x); err != nil {
		return err
	}
	switch p.Kind {
	case KindInt:
		v.SetInt(int64(x))
	case KindUint:
		v.SetUint(x)
	default:
		v.SetFloat(float64(x))
	}
	return nil
}

// SetFloat stores x in v, a settable value of p's type, after CheckFloat.
func (p *Plan) SetFloat(v reflect.Value, x float64) error {
	if err := p.CheckFloat(x); err != nil {
		return err
	}
	v.SetFloat(x)
	return nil
}

// SetNatural stores x, a value in natural Go types (nil, bool, int64,
// uint64, float64, string, []byte, time.Time, []any, map[string]any, as
// codecs decode a value of unknown type), in v, a settable value of a
// KindInterface: nil makes it nil; an interface with methods takes only a
// value that implements them. got names x in the protocol's terms, for the
// error.
func (p *Plan) SetNatural(v reflect.Value, x any, got string) error {
	if x == nil {
		v.SetZero()
		return nil
	}
	xv := reflect.ValueOf(x)
	if p.Kind != KindInterface || p.methods && !xv.Type().AssignableTo(p.Type) {
		return p.Mismatch(got)
	}
	v.Set(xv)
	return nil
}
