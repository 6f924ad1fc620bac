package wire_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

type inner struct {
	Label string `json:"label"`
}

type base struct {
	ID   int64  `json:"id"`
	Name string `json:"name"` // shadowed by outer.Name
}

type outer struct {
	base
	*inner                  // unexported, and not promoted through: left out
	Name     string         `json:"name"`
	Count    uint8          `json:"count,omitempty"`
	Tags     []string       `json:"tags"`
	Attrs    map[string]int `json:"attrs"`
	Next     *outer         `json:"next"`
	When     time.Time      `json:"when"`
	Blob     []byte         `json:"blob"`
	Hash     [4]byte        `json:"hash"`
	Pair     [2]int16       `json:"pair"`
	Any      any            `json:"any"`
	Err      error          `json:"err"`
	Ch       chan int       `json:"ch"`
	IntKeys  map[int]string `json:"int_keys"`
	Ratio    float32        `json:"ratio"`
	Secret   string         `json:"-"`
	Untagged bool
	private  int               //lint:ignore U1000 an unexported field stays home
	Nested   map[string][]bool `json:"nested,omitempty"`
}

type self *self

func TestPlanOf(t *testing.T) {
	t.Parallel()
	p := wire.PlanOf(reflect.TypeFor[outer]())
	if p.Kind != wire.KindStruct || p.Type != reflect.TypeFor[outer]() {
		t.Fatalf("plan %v of %v", p.Kind, p.Type)
	}
	var names []string
	for _, f := range p.Fields {
		names = append(names, f.Name)
	}
	want := []string{"name", "count", "tags", "attrs", "next", "when", "blob", "hash", "pair", "any", "err", "ch",
		"int_keys", "ratio", "Untagged", "nested", "id"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("fields %q\nwant %q", names, want)
	}
	kinds := map[string]struct {
		kind wire.Kind
		want string
	}{
		"name":     {wire.KindString, "string"},
		"count":    {wire.KindUint, "an unsigned 8-bit integer"},
		"tags":     {wire.KindSlice, "array"},
		"attrs":    {wire.KindMap, "object"},
		"next":     {wire.KindPointer, "object"},
		"when":     {wire.KindTime, "time"},
		"blob":     {wire.KindBytes, "binary"},
		"hash":     {wire.KindByteArray, "binary of 4 bytes"},
		"pair":     {wire.KindArray, "array of 2"},
		"any":      {wire.KindInterface, "value"},
		"err":      {wire.KindInterface, "an interface with methods"},
		"ch":       {wire.KindUnsupported, "a channel"},
		"int_keys": {wire.KindUnsupported, "a map with non-string keys"},
		"ratio":    {wire.KindFloat, "number"},
		"Untagged": {wire.KindBool, "boolean"},
		"nested":   {wire.KindMap, "object"},
		"id":       {wire.KindInt, "a 64-bit integer"},
	}
	for _, f := range p.Fields {
		k := kinds[f.Name]
		if f.Plan.Kind != k.kind || f.Plan.Want() != k.want || f.Plan != wire.PlanOf(f.Type) {
			t.Errorf("%s: kind %v want %q, expected %v %q", f.Name, f.Plan.Kind, f.Plan.Want(), k.kind, k.want)
		}
	}
	if f := p.Fields[p.Lookup([]byte("next"), 0)]; f.Plan.Elem != p {
		t.Error("the plan of a recursive type does not refer to itself")
	}
	if f := p.Fields[p.Lookup([]byte("id"), 0)]; !reflect.DeepEqual(f.Index, []int{0, 0}) {
		t.Errorf("promoted id at %v", f.Index)
	}
	if f := p.Fields[p.Lookup([]byte("count"), 0)]; !f.OmitEmpty || f.Plan.Bits != 8 {
		t.Errorf("count: %+v", f)
	}
	if f := p.Fields[p.Lookup([]byte("pair"), 0)]; f.Plan.Len != 2 || f.Plan.Elem.Kind != wire.KindInt || f.Plan.Elem.Bits != 16 {
		t.Errorf("pair: len %d elem %v", f.Plan.Len, f.Plan.Elem.Kind)
	}
	if !reflect.DeepEqual(wire.StructFields(reflect.TypeFor[outer]()), p.Fields) {
		t.Error("StructFields differs from the plan's fields")
	}

	// A type that is a chain of pointers without end cannot travel.
	if q := wire.PlanOf(reflect.TypeFor[self]()); q.Kind != wire.KindUnsupported ||
		q.Unsupported().Error() != "a chain of more than 32 pointers cannot be encoded or decoded" {
		t.Errorf("self: %v %v", q.Kind, q.Unsupported())
	}
	if q := wire.PlanOf(reflect.TypeFor[uintptr]()); q.Kind != wire.KindUint || q.Bits != 64 {
		t.Errorf("uintptr: %v %d", q.Kind, q.Bits)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	small := wire.PlanOf(reflect.TypeFor[base]())
	big := wire.PlanOf(reflect.TypeFor[outer]()) // enough fields for a map
	for _, tt := range []struct {
		p    *wire.Plan
		name string
		hint int
		want int
	}{
		{small, "id", 0, 0},
		{small, "name", 0, 1},
		{small, "name", 1, 1},
		{small, "nope", 1, -1},
		{small, "id", 7, 0},
		{small, "id", -1, 0},
		{big, "ratio", 0, 13},
		{big, "ratio", 13, 13},
		{big, "Ratio", 13, -1},
		{big, "nope", 3, -1},
	} {
		if got := tt.p.Lookup([]byte(tt.name), tt.hint); got != tt.want {
			t.Errorf("Lookup(%q, %d) = %d, want %d", tt.name, tt.hint, got, tt.want)
		}
	}
}

func planOf[T any]() *wire.Plan { return wire.PlanOf(reflect.TypeFor[T]()) }

func TestChecks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"int8 max", planOf[int8]().CheckInt(127), ""},
		{"int8 min", planOf[int8]().CheckInt(-128), ""},
		{"int8 over", planOf[int8]().CheckInt(128), "128 is out of the range of an 8-bit integer"},
		{"int8 under", planOf[int8]().CheckInt(-129), "-129 is out of the range of an 8-bit integer"},
		{"int64 from uint", planOf[int64]().CheckUint(math.MaxInt64), ""},
		{"int64 from big uint", planOf[int64]().CheckUint(math.MaxInt64 + 1), "9223372036854775808 is out of the range of a 64-bit integer"},
		{"uint8 max", planOf[uint8]().CheckUint(255), ""},
		{"uint8 over", planOf[uint8]().CheckInt(256), "256 is out of the range of an unsigned 8-bit integer"},
		{"uint negative", planOf[uint]().CheckInt(-1), "-1 is out of the range of an unsigned 64-bit integer"},
		{"uint64 max", planOf[uint64]().CheckUint(math.MaxUint64), ""},
		{"uint32 over", planOf[uint32]().CheckUint(1 << 32), "4294967296 is out of the range of an unsigned 32-bit integer"},
		{"int into float", planOf[float32]().CheckInt(math.MinInt64), ""},
		{"uint into float", planOf[float64]().CheckUint(math.MaxUint64), ""},
		{"float32 max", planOf[float32]().CheckFloat(math.MaxFloat32), ""},
		{"float32 inf", planOf[float32]().CheckFloat(math.Inf(-1)), ""},
		{"float32 nan", planOf[float32]().CheckFloat(math.NaN()), ""},
		{"float32 over", planOf[float32]().CheckFloat(1e300), "1e+300 is out of the range of a 32-bit float"},
		{"float into int", planOf[int]().CheckFloat(1.5), "cannot use number 1.5 as a 64-bit integer"},
		{"int into string", planOf[string]().CheckInt(1), "cannot use integer as string"},
		{"uint into bool", planOf[bool]().CheckUint(1), "cannot use integer as boolean"},
		{"mismatch", planOf[[]int]().Mismatch("object"), "cannot use object as array"},
		{"mismatch through pointers", planOf[**time.Time]().Mismatch("string"), "cannot use string as time"},
		{"unsupported", planOf[func()]().Mismatch("string"), "a function cannot be encoded or decoded"},
		{"complex", planOf[complex64]().Unsupported(), "a complex number cannot be encoded or decoded"},
		{"range of a float64", planOf[float64]().OutOfRange("1e400"), "1e400 is out of the range of a 64-bit float"},
	} {
		switch {
		case tt.want == "" && tt.err != nil:
			t.Errorf("%s: %v", tt.name, tt.err)
		case tt.want != "" && (tt.err == nil || tt.err.Error() != tt.want):
			t.Errorf("%s: error %v, want %q", tt.name, tt.err, tt.want)
		case tt.err != nil && !errors.As(tt.err, new(*wire.ValueError)):
			t.Errorf("%s: %T is not a *wire.ValueError", tt.name, tt.err)
		}
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	var x struct {
		I8  int8
		U16 uint16
		F32 float32
		Any any
		Err error
	}
	v := reflect.ValueOf(&x).Elem()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(planOf[int8]().SetInt(v.Field(0), -5))
	must(planOf[uint16]().SetUint(v.Field(1), 65535))
	must(planOf[float32]().SetInt(v.Field(2), 3))
	must(planOf[any]().SetNatural(v.Field(3), []any{int64(1)}, "array"))
	if x.I8 != -5 || x.U16 != 65535 || x.F32 != 3 || !reflect.DeepEqual(x.Any, []any{int64(1)}) {
		t.Fatalf("%+v", x)
	}
	must(planOf[float32]().SetFloat(v.Field(2), 0.5))
	must(planOf[int8]().SetUint(v.Field(0), 7))
	must(planOf[uint16]().SetInt(v.Field(1), 8))
	if x.F32 != 0.5 || x.I8 != 7 || x.U16 != 8 {
		t.Fatalf("%+v", x)
	}
	// A failed set leaves the value alone.
	if err := planOf[int8]().SetInt(v.Field(0), 1000); err == nil || x.I8 != 7 {
		t.Errorf("SetInt(1000) into int8: %v, value %d", err, x.I8)
	}
	if err := planOf[float32]().SetFloat(v.Field(2), -1e39); err == nil || x.F32 != 0.5 {
		t.Errorf("SetFloat(-1e39) into float32: %v, value %v", err, x.F32)
	}
	// nil makes an interface nil; an interface with methods takes only
	// what implements them.
	must(planOf[any]().SetNatural(v.Field(3), nil, "null"))
	if x.Any != nil {
		t.Errorf("Any = %v after nil", x.Any)
	}
	errPlan := planOf[error]()
	if err := errPlan.SetNatural(v.Field(4), "boom", "string"); err == nil ||
		err.Error() != "cannot use string as an interface with methods" {
		t.Errorf("string into error: %v", err)
	}
	ve := &wire.ValueError{Msg: "x"}
	must(errPlan.SetNatural(v.Field(4), ve, "value"))
	if x.Err != ve {
		t.Errorf("Err = %v", x.Err)
	}
	if err := planOf[string]().SetNatural(v.Field(3), "s", "string"); err == nil {
		t.Error("SetNatural into a plan that is not an interface")
	}
}

// A field promoted through an embedded pointer, as encoding/json promotes
// it: StructFields does not (yet) list such fields, but Into and Of follow
// any path.
type withPtr struct {
	*Leaf
	N int `json:"n,omitempty"`
}

// Leaf is embedded in withPtr.
type Leaf struct {
	Label string `json:"label"`
}

func TestFieldAccess(t *testing.T) {
	t.Parallel()
	label := wire.Field{Name: "label", Index: []int{0, 0}, Type: reflect.TypeFor[string](), Plan: planOf[string]()}
	n := wire.StructFields(reflect.TypeFor[withPtr]())[1] // after Leaf, kept as one field

	var w withPtr
	v := reflect.ValueOf(&w).Elem()
	p := wire.PlanOf(v.Type())
	if n := p.Present(v); n != 1 {
		t.Errorf("Present = %d with n empty, want 1", n)
	}
	if _, ok := label.Of(v); ok {
		t.Error("a field behind a nil embedded pointer is present")
	}
	if _, ok := n.Of(v); ok {
		t.Error("an empty omitempty field is present")
	}
	label.Into(v).SetString("x")
	if w.Leaf == nil || w.Label != "x" {
		t.Fatalf("Into did not allocate the embedded pointer: %+v", w)
	}
	if fv, ok := label.Of(v); !ok || fv.String() != "x" {
		t.Errorf("Of = %v, %v", fv, ok)
	}
	n.Into(v).SetInt(3)
	if fv, ok := n.Of(v); !ok || fv.Int() != 3 {
		t.Errorf("Of = %v, %v", fv, ok)
	}
	if got := p.Present(v); got != 2 {
		t.Errorf("Present = %d, want 2", got)
	}
	var b base
	if got := wire.PlanOf(reflect.TypeFor[base]()).Present(reflect.ValueOf(b)); got != 2 {
		t.Errorf("Present of a struct without omitempty = %d, want 2", got)
	}
}

func TestIsEmpty(t *testing.T) {
	t.Parallel()
	var nilPtr *int
	zero := 0
	for _, tt := range []struct {
		v     any
		empty bool
	}{
		{false, true}, {true, false}, {0, true}, {int8(-1), false}, {uint(0), true}, {0.0, true}, {math.Copysign(0, -1), true},
		{"", true}, {"a", false}, {[]int{}, true}, {[]int{0}, false}, {map[string]int{}, true}, {[0]int{}, true},
		{[1]int{}, false}, {nilPtr, true}, {&zero, false}, {struct{}{}, false}, {time.Time{}, false},
	} {
		if got := wire.IsEmpty(reflect.ValueOf(tt.v)); got != tt.empty {
			t.Errorf("IsEmpty(%#v) = %v", tt.v, got)
		}
	}
}

func TestValueErrorPath(t *testing.T) {
	t.Parallel()
	err := planOf[int]().Mismatch("string")
	err = wire.AtField(err, "x")
	err = wire.AtIndex(err, 2)
	err = wire.AtKey(err, "a\"b")
	err = wire.AtField(err, "points")
	if got, want := err.Error(), `points["a\"b"][2].x: cannot use string as a 64-bit integer`; got != want {
		t.Errorf("error %q\nwant  %q", got, want)
	}
	cause := errors.New("bad text")
	err = wire.AtIndex(cause, 0)
	var ve *wire.ValueError
	if !errors.As(err, &ve) || !errors.Is(err, cause) || err.Error() != "[0]: bad text" {
		t.Errorf("wrapped %v", err)
	}
	long := strings.Repeat("k", 1000)
	if got := wire.AtKey(planOf[int]().Mismatch("string"), long).Error(); len(got) > 150 {
		t.Errorf("a long key is repeated whole: %d bytes", len(got))
	}
}

func TestDepthError(t *testing.T) {
	t.Parallel()
	e := &wire.DepthError{Codec: "json", Max: 128}
	if e.Error() != "json: nested deeper than 128 levels" {
		t.Errorf("Error() = %q", e.Error())
	}
	if r := e.Reply(); r.Code != wire.CodeLimitExceeded || r.Message != "limit exceeded: nested deeper than 128 levels" {
		t.Errorf("Reply() = %+v", r)
	}
}

// TestPlanOfConcurrent builds the plans of related types from many
// goroutines at once: each type gets one plan, and no goroutine sees one
// under way (run with -race).
func TestPlanOfConcurrent(t *testing.T) {
	t.Parallel()
	type node struct {
		Kids  []*node          `json:"kids"`
		Attrs map[string]*node `json:"attrs"`
		Val   [3]uint32        `json:"val"`
	}
	types := []reflect.Type{
		reflect.TypeFor[node](), reflect.TypeFor[*node](), reflect.TypeFor[[]*node](), reflect.TypeFor[map[string]*node](),
	}
	var wg sync.WaitGroup
	got := make([][]*wire.Plan, 8)
	for g := range got {
		wg.Go(func() {
			for i := range types {
				t := types[(i+g)%len(types)]
				p := wire.PlanOf(t)
				if p.Want() == "" || p.Type != t {
					panic("incomplete plan of " + t.String())
				}
				got[g] = append(got[g], p)
			}
		})
	}
	wg.Wait()
	for _, typ := range types {
		p := wire.PlanOf(typ)
		for g := range got {
			found := false
			for _, q := range got[g] {
				found = found || q == p
			}
			if !found {
				t.Errorf("goroutine %d got another plan of %v", g, typ)
			}
		}
	}
	n := wire.PlanOf(reflect.TypeFor[node]())
	if n.Fields[0].Plan.Elem.Elem != n || n.Fields[1].Plan.Elem.Elem != n {
		t.Error("the plans of node do not form its cycle")
	}
}
