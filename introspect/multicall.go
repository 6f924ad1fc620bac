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
// natural values (see rpc.Convert).
func (svc *service) multicall(ctx context.Context, calls []any) ([]any, error) {
	if n, limit := len(calls), svc.cfg.maxMulticall; limit > 0 && n > limit {
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
		req, err := innerRequest(c)
		if err != nil {
			out[i] = faultOf(err)
			continue
		}
		result, err := svc.s.Invoke(ctx, req)
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

// innerRequest reads one call of a multicall: a struct with a string
// methodName and an optional params array.
func innerRequest(c any) (*rpc.Request, error) {
	var call map[string]any
	if c == nil || rpc.Convert(&call, c) != nil {
		return nil, invalidCall("system.multicall expects a struct {methodName, params} for each call")
	}
	v, ok := call["methodName"]
	if !ok {
		return nil, invalidCall("missing methodName")
	}
	name, ok := v.(string)
	if !ok {
		return nil, invalidCall("methodName is not a string")
	}
	if name == multicallName {
		return nil, invalidCall("recursive system.multicall forbidden")
	}
	params, err := callParams(call["params"])
	if err != nil {
		return nil, err
	}
	return &rpc.Request{Method: name, Params: params}, nil
}

// callParams reads a call's params: nil (or missing) means none, an array
// holds them; anything else, a struct of named params included, is an error,
// as the multicall convention has positional params only.
func callParams(p any) (values, error) {
	switch p := p.(type) {
	case nil:
		return nil, nil
	case []any:
		return values(p), nil
	case []byte:
		// A base64 value converts to a slice of numbers but is no array.
		return nil, invalidCall("params is not an array")
	}
	if k := reflect.TypeOf(p).Kind(); k == reflect.Slice || k == reflect.Array {
		var list []any
		if err := rpc.Convert(&list, p); err == nil {
			return values(list), nil
		}
	}
	return nil, invalidCall("params is not an array")
}

func invalidCall(msg string) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeInvalidRequest, Message: "invalid request: " + msg}
}

// values is an rpc.Params over positional params that a codec has already
// decoded into natural values; rpc.Convert turns each into the type the
// method wants, as a tree-decoding codec would.
type values []any

func (v values) Len() int                      { return len(v) }
func (v values) DecodeAt(i int, dst any) error { return rpc.Convert(dst, v[i]) }
func (values) Names() []string                 { return nil }

func (values) DecodeNamed(name string, _ any) error {
	return fmt.Errorf("introspect: no param named %q: system.multicall params are positional", name)
}
