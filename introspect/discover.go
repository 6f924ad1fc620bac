package introspect

import (
	"reflect"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// openRPCVersion is the version of the OpenRPC specification the document
// follows.
const openRPCVersion = "1.2.6"

// openRPCMetaSchema is the schema of an OpenRPC document, which the
// specification gives as the result schema of rpc.discover.
const openRPCMetaSchema = "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json"

// idempotentExtension is the OpenRPC specification extension (an "x-" field
// of the method object) that marks a method registered with rpc.Idempotent.
const idempotentExtension = "x-idempotent"

// discover builds the document on every call: methods may be registered at
// any time, and discovery is rare enough not to be worth a cache.
func (svc *service) discover() (map[string]any, error) {
	b := newSchemas()
	ms := svc.s.Methods()
	methods := make([]any, len(ms))
	for i, m := range ms {
		methods[i] = b.method(m)
	}
	doc := map[string]any{
		"openrpc": openRPCVersion,
		"info":    map[string]any{"title": svc.cfg.title, "version": svc.cfg.version},
		"methods": methods,
	}
	if len(b.components) > 0 {
		doc["components"] = map[string]any{"schemas": b.components}
	}
	return doc, nil
}

// method describes m as an OpenRPC method object.
//
// paramStructure says how the params must be sent, and the core accepts more
// than one form: positional params always, named ones when param names were
// given. So a method with param names, or none, is "either" (by name and by
// position take the same params); one whose only param is a struct whose fields
// serve as named params is "by-name", as its params are described as those
// fields; any other is "by-position". A variadic method is "by-position", as
// its last param is described by the schema of one of its values.
func (b *schemas) method(m rpc.MethodInfo) map[string]any {
	out := map[string]any{"name": m.Name}
	if m.Help != "" {
		out["description"] = m.Help
	}
	params := []any{}
	structure := "by-position"
	if st, ok := fieldParams(m); ok {
		structure = "by-name"
		for _, f := range wire.StructFields(st) {
			// A field left out of the call keeps its zero value.
			params = append(params, contentDescriptor(f.Name, b.of(f.Type), false))
		}
	} else {
		for i, p := range m.Params {
			name := p.Name
			if name == "" {
				name = "param" + strconv.Itoa(i+1)
			}
			t, required := p.Type, true
			if m.Variadic && i == len(m.Params)-1 {
				t, required = t.Elem(), false
			}
			cd := contentDescriptor(name, b.of(t), required)
			if !required {
				cd["description"] = "Variadic: any number of values of this schema, the last params of the call."
			}
			params = append(params, cd)
		}
		if !m.Variadic && (len(m.Params) == 0 || m.Params[0].Name != "") {
			structure = "either"
		}
	}
	out["params"] = params
	out["paramStructure"] = structure

	var result map[string]any
	switch {
	case m.Name == discoverName:
		result = map[string]any{"$ref": openRPCMetaSchema}
	case m.Result == nil:
		result = map[string]any{"type": "null"}
	default:
		result = b.of(m.Result)
	}
	out["result"] = map[string]any{"name": "result", "schema": result}
	if m.Idempotent {
		out[idempotentExtension] = true
	}
	return out
}

func contentDescriptor(name string, schema map[string]any, required bool) map[string]any {
	return map[string]any{"name": name, "schema": schema, "required": required}
}

// fieldParams reports whether m takes named params as the fields of its only
// param, a struct, and returns that struct type. It restates the core's rule
// (rpc.WithParamNames), which MethodInfo does not expose.
func fieldParams(m rpc.MethodInfo) (reflect.Type, bool) {
	if len(m.Params) != 1 || m.Variadic || m.Params[0].Name != "" {
		return nil, false
	}
	t := m.Params[0].Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return nil, false
	}
	return t, true
}
