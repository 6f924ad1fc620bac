package introspect

import (
	"context"
	"fmt"
	"reflect"

	"github.com/polyrpc/polyrpc/rpc"
)

// fault is a multicall entry for a call that failed: the XML-RPC fault
// struct, which every codec can carry as a plain struct.
type fault struct {
	FaultCode   int    `json:"faultCode"`
	FaultString string `json:"faultString"`
}

// multicall takes its calls as []any rather than a slice of structs so that a
// malformed call costs a fault entry for that call alone instead of failing the
// decoding of the whole request; the codec has decoded the elements into
// natural values, which Server.Invoke converts to the types of each method.
func (svc *service) multicall(ctx context.Context, calls []any) ([]any, error) {
	if n, limit := len(calls), svc.cfg.maxMulticall; n > limit {
		return nil, &rpc.Error{
			Code:    rpc.CodeLimitExceeded,
			Message: fmt.Sprintf("system.multicall of %d calls exceeds the limit of %d", n, limit),
		}
	}
	out := make([]any, len(calls))
	for i, c := range calls {
		// The caller has gone or run out of time: the remaining calls would
		// run for nobody, and the error says why they did not.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, params, err := innerCall(c)
		if err != nil {
			out[i] = faultOf(err)
			continue
		}
		result, err := svc.s.Invoke(ctx, name, params...)
		if err != nil {
			out[i] = faultOf(err)
			continue
		}
		out[i] = []any{result}
	}
	return out, nil
}

func faultOf(err error) fault {
	e := rpc.AsError(err)
	return fault{FaultCode: int(e.Code), FaultString: e.Message}
}

// innerCall reads one call of a multicall, in natural values: a struct with
// a string methodName and an optional params array.
func innerCall(c any) (string, []any, error) {
	call, ok := asMap(c)
	if !ok {
		return "", nil, invalidCall("system.multicall expects a struct {methodName, params} for each call")
	}
	v, ok := call["methodName"]
	if !ok {
		return "", nil, invalidCall("missing methodName")
	}
	name, ok := v.(string)
	if !ok {
		return "", nil, invalidCall("methodName is not a string")
	}
	if name == multicallName {
		return "", nil, invalidCall("recursive system.multicall forbidden")
	}
	// The multicall convention has positional params only: nil (or
	// missing) means none, an array holds them; anything else, a struct of
	// named params or a base64 value included, is an error.
	p := call["params"]
	if p == nil {
		return name, nil, nil
	}
	if list, ok := asList(p); ok {
		return name, list, nil
	}
	return "", nil, invalidCall("params is not an array")
}

// asMap returns v, a map with string keys, as a map[string]any: the natural
// form, or any such Go map given to Server.Invoke.
func asMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, true
}

// asList returns v, a list, as a []any: the natural form, or any Go slice or
// array given to Server.Invoke. A []byte is a base64 value, not a list.
func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []byte:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	list := make([]any, rv.Len())
	for i := range list {
		list[i] = rv.Index(i).Interface()
	}
	return list, true
}

func invalidCall(msg string) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeInvalidRequest, Message: "invalid request: " + msg}
}
