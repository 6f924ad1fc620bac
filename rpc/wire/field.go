package rpc

import (
	"reflect"
	"strings"
	"sync"
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
}

var fieldCache sync.Map // reflect.Type → []Field

// StructFields returns the fields of struct type t that travel on the wire,
// named as encoding/json names them: by the json tag, else the Go name;
// fields tagged "-" and unexported fields are left out; the fields of an
// untagged embedded struct are promoted. The result is cached and must not be
// modified. StructFields is safe for concurrent use.
func StructFields(t reflect.Type) []Field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]Field)
	}
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
	f, _ := fieldCache.LoadOrStore(t, out)
	return f.([]Field)
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
