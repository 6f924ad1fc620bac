package wire

import (
	"reflect"
	"strings"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// Field is a struct field under the name codecs give it on the wire.
type Field struct {
	// Name is the json tag's name if the field has one, else the Go name.
	Name string
	// Index is the path for reflect.Value.FieldByIndex; longer than one
	// for fields promoted from embedded structs.
	Index     []int
	Type      reflect.Type
	OmitEmpty bool
	// Plan is the plan of Type.
	Plan *Plan
}

// StructFields returns the fields of struct type t that travel on the wire,
// named as encoding/json names them: by the json tag, else the Go name;
// fields tagged "-" and unexported fields are left out; the fields of an
// untagged embedded struct are promoted, an outer field shadowing promoted
// ones of the same name. It is PlanOf(t).Fields: cached, and not to be
// modified. StructFields is safe for concurrent use.
func StructFields(t reflect.Type) []Field {
	return PlanOf(t).Fields
}

// Into returns field f of v, a settable struct value of the field's
// parent, for decoding into: nil embedded pointers on the way are
// allocated.
func (f *Field) Into(v reflect.Value) reflect.Value {
	if len(f.Index) == 1 {
		return v.Field(f.Index[0])
	}
	for i, x := range f.Index {
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

// Of returns field f of v, a struct value of the field's parent, for
// encoding; ok is false when the field is absent: behind a nil embedded
// pointer, or empty and tagged omitempty (empty as encoding/json has it:
// false, 0, a nil pointer or interface, an empty string, slice, map or
// array).
func (f *Field) Of(v reflect.Value) (fv reflect.Value, ok bool) {
	if len(f.Index) == 1 && !f.OmitEmpty { // the usual field, in line
		return v.Field(f.Index[0]), true
	}
	return f.of(v)
}

func (f *Field) of(v reflect.Value) (fv reflect.Value, ok bool) {
	if len(f.Index) == 1 {
		fv = v.Field(f.Index[0])
	} else {
		var err error
		if fv, err = v.FieldByIndexErr(f.Index); err != nil {
			return fv, false
		}
	}
	return fv, !f.OmitEmpty || !isEmpty(fv)
}

// Present returns how many fields of v, a struct value of the plan p, Of
// reports present: what an encoder that writes the number of fields before
// them needs.
func (p *Plan) Present(v reflect.Value) int {
	if !p.omits {
		return len(p.Fields)
	}
	n := 0
	for i := range p.Fields {
		if _, ok := p.Fields[i].Of(v); ok {
			n++
		}
	}
	return n
}

// isEmpty reports whether v is empty as omitempty has it in encoding/json.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// structFields collects the fields of struct type t.
func structFields(t reflect.Type) []Field {
	fields := collectFields(t, nil, map[reflect.Type]bool{})
	// Outer fields shadow promoted ones of the same name.
	seen := make(map[string]bool, len(fields))
	out := fields[:0]
	for _, f := range fields {
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f)
		}
	}
	return out
}

func collectFields(t reflect.Type, index []int, visiting map[reflect.Type]bool) []Field {
	if visiting[t] {
		return nil
	}
	visiting[t] = true
	defer delete(visiting, t)
	var direct, promoted []Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int(nil), index...), i)
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && et != timeType {
				if sf.Type.Kind() == reflect.Pointer {
					// Promoting through a nil pointer cannot be set safely
					// while decoding; keep such structs as one field.
					if sf.IsExported() {
						direct = append(direct, Field{Name: sf.Name, Index: idx, Type: sf.Type})
					}
					continue
				}
				promoted = append(promoted, collectFields(et, idx, visiting)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		direct = append(direct, Field{
			Name:      name,
			Index:     idx,
			Type:      sf.Type,
			OmitEmpty: strings.Contains(","+opts+",", ",omitempty,"),
		})
	}
	return append(direct, promoted...)
}
