package interop_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	xmlcodec "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// pyXMLRPCServer is CPython's SimpleXMLRPCServer with introspection,
// multicall and nil, serving a few py.* functions on a loopback port it
// prints on its first line. cmd/rpcd's tests run the same server.
const pyXMLRPCServer = `
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")

    def log_message(self, *args):
        pass


def add(a, b):
    """Returns a + b."""
    return a + b


def echo(value):
    """Returns value unchanged."""
    return value


def types(*values):
    """Returns the Python type name of each param."""
    return [type(v).__name__ for v in values]


def fault(code, message):
    """Raises xmlrpc.client.Fault(code, message)."""
    raise xmlrpc.client.Fault(code, message)


def boom():
    """Raises a plain ValueError."""
    raise ValueError("boom")


def nothing():
    """Returns None."""


server = SimpleXMLRPCServer(("127.0.0.1", 0), requestHandler=Handler, logRequests=False,
                            allow_none=True, use_builtin_types=True)
server.register_introspection_functions()
server.register_multicall_functions()
for fn in (add, echo, types, fault, boom, nothing):
    server.register_function(fn, "py." + fn.__name__)
print(server.server_address[1], flush=True)
server.serve_forever()
`

// TestGoClientToPythonXMLRPCServer calls CPython's SimpleXMLRPCServer with
// polyrpc's client and XML-RPC codec, with every installed Python: every
// type both ways, Python's typed and untyped faults, introspection,
// multicall and a nil result.
func TestGoClientToPythonXMLRPCServer(t *testing.T) {
	t.Parallel()
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			port := py.Start(t, pyXMLRPCServer)
			c := must(httprpc.NewClient("http://127.0.0.1:"+port+"/RPC2", xmlcodec.New()))
			t.Cleanup(func() { c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			t.Run("calls", func(t *testing.T) { goToPythonCalls(ctx, t, c) })
			t.Run("faults", func(t *testing.T) { goToPythonFaults(ctx, t, c) })
			t.Run("introspection", func(t *testing.T) { goToPythonIntrospection(ctx, t, c) })
			t.Run("multicall", func(t *testing.T) { goToPythonMulticall(ctx, t, c) })
		})
	}
}

func goToPythonCalls(ctx context.Context, t *testing.T, c *rpc.Client) {
	var n int64
	if err := c.Call(ctx, "py.add", &n, 2, 3); err != nil || n != 5 {
		t.Errorf("py.add(2, 3) = %d, %v", n, err)
	}
	var f float64
	if err := c.Call(ctx, "py.add", &f, 1.5, 2.25); err != nil || f != 3.75 {
		t.Errorf("py.add(1.5, 2.25) = %v, %v", f, err)
	}
	var s string
	if err := c.Call(ctx, "py.add", &s, "<&>", "é😀"); err != nil || s != "<&>é😀" {
		t.Errorf("py.add of strings = %q, %v", s, err)
	}

	// What Python makes of each Go value: <int> and <i8> are both int,
	// a struct and a map are both dict, nil is None.
	type stooges struct {
		Moe   int64 `json:"moe"`
		Larry int64 `json:"larry"`
		Curly int64 `json:"curly"`
	}
	when := time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)
	var names []string
	err := c.Call(ctx, "py.types", &names,
		42, int64(1)<<40, int64(math.MinInt64), true, "s", 1.5, when, []byte("b"), nil,
		[]int{1}, map[string]any{"k": 1}, stooges{1, 2, 3})
	want := []string{"int", "int", "int", "bool", "str", "float", "datetime", "bytes", "NoneType", "list", "dict", "dict"}
	if err != nil || !reflect.DeepEqual(names, want) {
		t.Errorf("py.types = %q, %v\nwant %q", names, err, want)
	}

	// Round trips through Python, decoded into natural Go values.
	for _, v := range []any{
		int64(0), int64(math.MaxInt32), int64(math.MinInt32), true, false,
		"", "plain", "<&>'\"]]>\t\n", "é€😀\u2028", 0.1, -2.5e-10, 1e300, math.SmallestNonzeroFloat64,
		when, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), []byte{}, []byte{0, 1, 2, 255},
		nil, []any{}, map[string]any{},
		[]any{int64(1), "two", []any{nil, true}, map[string]any{"<k>": []byte("v")}},
		map[string]any{"nested": map[string]any{"deeper": []any{[]any{}, map[string]any{"t": when}}}},
	} {
		var got any
		if err := c.Call(ctx, "py.echo", &got, v); err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("py.echo(%#v) = %#v, %v", v, got, err)
		}
	}
	var st stooges
	if err := c.Call(ctx, "py.echo", &st, stooges{-1, 1 << 30, 7}); err != nil || st != (stooges{-1, 1 << 30, 7}) {
		t.Errorf("py.echo of a struct = %+v, %v", st, err)
	}

	// A nil result: <nil/> from Python's allow_none, into any, a pointer
	// and no result at all.
	var anyResult any = "not nil"
	if err := c.Call(ctx, "py.nothing", &anyResult); err != nil || anyResult != nil {
		t.Errorf("py.nothing into any = %#v, %v", anyResult, err)
	}
	p := new(int)
	if err := c.Call(ctx, "py.nothing", &p); err != nil || p != nil {
		t.Errorf("py.nothing into a pointer = %v, %v", p, err)
	}
	if err := c.Call(ctx, "py.nothing", nil); err != nil {
		t.Errorf("py.nothing without a result: %v", err)
	}
}

func goToPythonFaults(ctx context.Context, t *testing.T, c *rpc.Client) {
	for _, tt := range []struct {
		method string
		params []any
		code   rpc.Code
		msg    string
	}{
		// A typed fault keeps its code and text.
		{"py.fault", []any{7, "seven"}, 7, "seven"},
		{"py.fault", []any{-32500, "<&> é"}, -32500, "<&> é"},
		// A plain exception is Python's fault code 1, with its class in the text.
		{"py.boom", nil, 1, "<class 'ValueError'>:boom"},
		// Python has no fault-interop codes: an unknown method is code 1 too.
		{"no.such.method", nil, 1, `<class 'Exception'>:method "no.such.method" is not supported`},
		{"py.add", []any{1}, 1, "<class 'TypeError'>:add() missing 1 required positional argument: 'b'"},
		// polyrpc sends an int64 beyond 32 bits as <i8>, which Python reads,
		// but Python cannot send it back.
		{"py.echo", []any{int64(1) << 40}, 1, "<class 'OverflowError'>:int exceeds XML-RPC limits"},
	} {
		err := c.Call(ctx, tt.method, nil, tt.params...)
		var e *rpc.Error
		if !errors.As(err, &e) || e.Code != tt.code || e.Message != tt.msg {
			t.Errorf("%s%v: %#v\nwant fault %d %q", tt.method, tt.params, err, tt.code, tt.msg)
		}
	}
	// Python's faults leave the connection usable.
	var n int64
	if err := c.Call(ctx, "py.add", &n, 40, 2); err != nil || n != 42 {
		t.Errorf("py.add after faults = %d, %v", n, err)
	}
}

func goToPythonIntrospection(ctx context.Context, t *testing.T, c *rpc.Client) {
	var names []string
	want := []string{"py.add", "py.boom", "py.echo", "py.fault", "py.nothing", "py.types",
		"system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall"}
	if err := c.Call(ctx, "system.listMethods", &names); err != nil || !reflect.DeepEqual(names, want) {
		t.Errorf("system.listMethods = %q, %v\nwant %q", names, err, want)
	}
	var help string
	if err := c.Call(ctx, "system.methodHelp", &help, "py.add"); err != nil || help != "Returns a + b." {
		t.Errorf("system.methodHelp = %q, %v", help, err)
	}
	// Python states no signatures: a string where xmlrpc-c puts an array.
	var sig any
	if err := c.Call(ctx, "system.methodSignature", &sig, "py.add"); err != nil || sig != "signatures not supported" {
		t.Errorf("system.methodSignature = %#v, %v", sig, err)
	}
}

func goToPythonMulticall(ctx context.Context, t *testing.T, c *rpc.Client) {
	call := func(method string, params ...any) map[string]any {
		return map[string]any{"methodName": method, "params": params}
	}
	var entries []any
	err := c.Call(ctx, "system.multicall", &entries, []any{
		call("py.add", 1, 2),
		call("py.fault", 7, "seven"),
		call("py.nothing"),
		call("py.boom"),
		call("py.echo", map[string]any{"k": []any{"v"}}),
		call("system.multicall", []any{}),
	})
	if err != nil {
		t.Fatalf("system.multicall: %v", err)
	}
	want := []any{
		[]any{int64(3)},
		map[string]any{"faultCode": int64(7), "faultString": "seven"},
		[]any{nil},
		map[string]any{"faultCode": int64(1), "faultString": "<class 'ValueError'>:boom"},
		[]any{map[string]any{"k": []any{"v"}}},
		// Unlike polyrpc, Python runs a nested multicall.
		[]any{[]any{}},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("system.multicall entries:\n%#v\nwant\n%#v", entries, want)
	}
}
