package introspect

import (
	"reflect"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// undef is what system.methodSignature returns instead of an array of
// signatures when none can be stated (xmlrpc-c's convention).
const undef = "undef"

// anyType names a position that takes a value of any type (phpxmlrpc's name).
const anyType = "undefined"

var timeType = reflect.TypeFor[time.Time]()

func (svc *service) methodSignature(name string) (any, error) {
	m, err := svc.lookup(name)
	if err != nil {
		return nil, err
	}
	return signatures(m), nil
}

// signatures returns the XML-RPC signatures of m: one signature, the result
// type then the param types, or undef for a variadic method, whose number of
// params no single signature can state.
func signatures(m rpc.MethodInfo) any {
	if m.Variadic {
		return undef
	}
	sig := make([]string, 0, 1+len(m.Params))
	if m.Result == nil {
		sig = append(sig, "nil")
	} else {
		sig = append(sig, xmlrpcType(m.Result))
	}
	for _, p := range m.Params {
		sig = append(sig, xmlrpcType(p.Type))
	}
	return [][]string{sig}
}

// xmlrpcType names the XML-RPC type that values of t travel as; the package
// documentation gives the mapping and its reasons.
func xmlrpcType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "dateTime.iso8601"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "base64"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return "int"
	case reflect.Int, reflect.Int64, reflect.Uint32, reflect.Uint, reflect.Uint64:
		return "i8"
	case reflect.Float32, reflect.Float64:
		return "double"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "struct"
	}
	// An empty interface; the core refuses every other kind at registration.
	return anyType
}
