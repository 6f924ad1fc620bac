package introspect

import (
	"math"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// schemaRefPrefix is where a $ref points: OpenRPC keeps shared schemas in
// components.schemas.
const schemaRefPrefix = "#/components/schemas/"

// schemas builds JSON Schemas (draft 7, as OpenRPC 1.2.6 uses) for Go types.
// Every named struct, slice, array or map type becomes one component schema
// that the others $ref, which both keeps the document short and ends the
// recursion of recursive types: the key is taken before the type's own schema
// is built, so a type that contains itself refers to the key.
//
// Schemas are built as maps rather than structs so that whether a keyword is
// present never depends on a codec honouring omitempty ("minimum": 0 matters).
type schemas struct {
	components map[string]any
	keys       map[reflect.Type]string
}

func newSchemas() *schemas {
	return &schemas{components: map[string]any{}, keys: map[reflect.Type]string{}}
}

// of returns the schema of values of t; each call returns a fresh map.
func (b *schemas) of(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(b.of(t.Elem()))
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
		if t.Name() != "" {
			return b.ref(t)
		}
		return b.composite(t)
	case reflect.Interface:
		return map[string]any{}
	}
	return scalar(t)
}

func (b *schemas) ref(t reflect.Type) map[string]any {
	key, ok := b.keys[t]
	if !ok {
		key = b.newKey(t)
		b.keys[t] = key
		b.components[key] = b.composite(t)
	}
	return map[string]any{"$ref": schemaRefPrefix + key}
}

func (b *schemas) composite(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Slice:
		return map[string]any{"type": "array", "items": b.of(t.Elem())}
	case reflect.Array:
		n := int64(t.Len())
		return map[string]any{"type": "array", "items": b.of(t.Elem()), "minItems": n, "maxItems": n}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": b.of(t.Elem())}
	}
	props := map[string]any{}
	for _, f := range wire.StructFields(t) {
		props[f.Name] = b.of(f.Type)
	}
	return map[string]any{"type": "object", "properties": props}
}

// newKey names t's component: its Go name where free, else qualified by its
// package's name, else numbered. Keys keep to the characters OpenRPC allows
// (^[a-zA-Z0-9.\-_]+$), which generic type names overstep.
func (b *schemas) newKey(t reflect.Type) string {
	name := sanitizeKey(t.Name())
	if _, taken := b.components[name]; !taken {
		return name
	}
	if pkg := t.PkgPath(); pkg != "" {
		name = sanitizeKey(path.Base(pkg)) + "." + name
		if _, taken := b.components[name]; !taken {
			return name
		}
	}
	for i := 2; ; i++ {
		k := name + "_" + strconv.Itoa(i)
		if _, taken := b.components[k]; !taken {
			return k
		}
	}
}

func sanitizeKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// nullable lets s admit null as well, as a nil pointer travels as null.
func nullable(s map[string]any) map[string]any {
	switch typ := s["type"].(type) {
	case string:
		s["type"] = []any{typ, "null"}
		return s
	case []any:
		return s // already nullable: a pointer to a pointer
	}
	if len(s) == 0 {
		return s // {} admits every value, null included
	}
	return map[string]any{"oneOf": []any{s, map[string]any{"type": "null"}}}
}

// scalar is the schema of a boolean, number or string kind. Integers carry
// the OpenAPI format of the smallest type that holds them and, when narrower
// than that format, their range; uint and uint64 exceed int64, so they state
// only their minimum.
func scalar(t reflect.Type) map[string]any {
	integer := func(format string, lo, hi int64) map[string]any {
		s := map[string]any{"type": "integer", "format": format}
		if lo != 0 || hi != 0 {
			s["minimum"], s["maximum"] = lo, hi
		}
		return s
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int8:
		return integer("int32", math.MinInt8, math.MaxInt8)
	case reflect.Int16:
		return integer("int32", math.MinInt16, math.MaxInt16)
	case reflect.Uint8:
		return integer("int32", 0, math.MaxUint8)
	case reflect.Uint16:
		return integer("int32", 0, math.MaxUint16)
	case reflect.Int32:
		return integer("int32", 0, 0)
	case reflect.Uint32:
		return integer("int64", 0, math.MaxUint32)
	case reflect.Int, reflect.Int64:
		return integer("int64", 0, 0)
	case reflect.Uint, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": int64(0)}
	case reflect.Float32:
		return map[string]any{"type": "number", "format": "float"}
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	}
	// The core refuses every other kind at registration.
	return map[string]any{}
}
