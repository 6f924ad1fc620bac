package main

import (
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/internal/pytest"
)

// pyXMLRPCServer is CPython's SimpleXMLRPCServer with introspection,
// multicall and nil, serving a few py.* functions on a loopback port it
// prints on its first line (interop's Go-client test runs the same server).
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

// TestCallAndListXMLRPC runs rpcd call and rpcd list -codec xml against
// rpcd's own demo and introspection methods, over HTTP and TCP.
func TestCallAndListXMLRPC(t *testing.T) {
	t.Parallel()
	addr, _, _, logs := startRPCD(t)
	urls := map[string]string{"http": "http://" + addr + "/RPC2", "tcp": "tcp://" + tcpAddr(t, logs)}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range []struct {
				args   []string
				stdout string
				stderr string
				code   int
			}{
				{[]string{"demo.add", "2", "3"}, "5\n", "", 0},
				{[]string{"demo.echo", `{"a":[1,"<&>",null,9007199254740993,-0.5]}`},
					"{\n  \"a\": [\n    1,\n    \"<&>\",\n    null,\n    9007199254740993,\n    -0.5\n  ]\n}\n", "", 0},
				{[]string{"validator1.easyStructTest", `{"moe":1,"larry":2,"curly":3}`}, "6\n", "", 0},
				{[]string{"system.multicall", `[{"methodName":"demo.add","params":[1,2]},{"methodName":"demo.divide","params":[1,0]}]`},
					"[\n  [\n    3\n  ],\n  {\n    \"faultCode\": 1001,\n    \"faultString\": \"division by zero\"\n  }\n]\n", "", 0},
				{[]string{"demo.divide", "1", "0"}, "", "fault 1001: division by zero", 1},
				{[]string{"nope"}, "", "fault -32601: method not found: nope", 1},
			} {
				args := append([]string{"call", "-codec", "xml", u}, tt.args...)
				stdout, stderr, code := rpcdCall(t, args...)
				if stdout != tt.stdout || code != tt.code || !strings.Contains(stderr, tt.stderr) {
					t.Errorf("rpcd %q:\nstdout %q, stderr %q, exit %d\nwant   %q, stderr with %q, exit %d",
						args, stdout, stderr, code, tt.stdout, tt.stderr, tt.code)
				}
			}
			out, stderr, code := rpcdCall(t, "list", "-codec", "xml", "-v", u)
			for _, w := range []string{
				"demo.add(a int, b int) int\n    Returns a + b; an overflow is a fault.\n",
				"sum(...any) any\n",
				"system.listMethods() []string\n",
			} {
				if code != 0 || !strings.Contains(out, w) {
					t.Errorf("rpcd list -codec xml -v: exit %d, stderr %q, output lacks %q:\n%s", code, stderr, w, out)
				}
			}
		})
	}
}

// TestCallAndListPythonXMLRPCServer runs rpcd call -codec xml and rpcd list
// -codec xml against CPython's SimpleXMLRPCServer, with every installed
// Python.
func TestCallAndListPythonXMLRPCServer(t *testing.T) {
	t.Parallel()
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			u := "http://127.0.0.1:" + py.Start(t, pyXMLRPCServer) + "/RPC2"
			tests := []struct {
				args   []string
				stdout string
				stderr string
				code   int
			}{
				{[]string{"py.add", "2", "3"}, "5\n", "", 0},
				{[]string{"py.add", "1.5", "2.25"}, "3.75\n", "", 0},
				{[]string{"py.add", "<a&", "b>"}, "\"<a&b>\"\n", "", 0},
				{[]string{"py.echo", `{"a":[1,"x",null,true,1.5,{}]}`},
					"{\n  \"a\": [\n    1,\n    \"x\",\n    null,\n    true,\n    1.5,\n    {}\n  ]\n}\n", "", 0},
				{[]string{"py.echo", "héllo wörld"}, "\"héllo wörld\"\n", "", 0},
				// Each JSON param becomes the XML-RPC value Python expects;
				// 2^53+1 travels exactly, as <i8>.
				{[]string{"py.types", "1", "9007199254740993", "true", "null", "[1]", `{"k":"v"}`, "1.5", "word"},
					"[\n  \"int\",\n  \"int\",\n  \"bool\",\n  \"NoneType\",\n  \"list\",\n  \"dict\",\n  \"float\",\n  \"str\"\n]\n", "", 0},
				{[]string{"py.nothing"}, "null\n", "", 0},
				{[]string{"system.multicall", `[{"methodName":"py.add","params":[1,2]},{"methodName":"py.fault","params":[7,"seven"]},{"methodName":"py.nothing","params":[]}]`},
					"[\n  [\n    3\n  ],\n  {\n    \"faultCode\": 7,\n    \"faultString\": \"seven\"\n  },\n  [\n    null\n  ]\n]\n", "", 0},
				// Unlike polyrpc, Python wants params in every call of a multicall.
				{[]string{"system.multicall", `[{"methodName":"py.nothing"}]`}, "", "fault 1: <class 'KeyError'>:'params'", 1},
				{[]string{"system.methodHelp", "py.add"}, "\"Returns a + b.\"\n", "", 0},
				{[]string{"py.fault", "7", "seven"}, "", "fault 7: seven", 1},
				{[]string{"py.boom"}, "", "fault 1: <class 'ValueError'>:boom", 1},
				{[]string{"no.such.method"}, "", `fault 1: <class 'Exception'>:method "no.such.method" is not supported`, 1},
				// Python reads the <i8> but cannot write the int back.
				{[]string{"py.echo", "9007199254740993"}, "", "fault 1: <class 'OverflowError'>:int exceeds XML-RPC limits", 1},
			}
			for _, tt := range tests {
				args := append([]string{"call", "-codec", "xml", u}, tt.args...)
				stdout, stderr, code := rpcdCall(t, args...)
				if stdout != tt.stdout || code != tt.code || !strings.Contains(stderr, tt.stderr) {
					t.Errorf("rpcd %q:\nstdout %q, stderr %q, exit %d\nwant   %q, stderr with %q, exit %d",
						args, stdout, stderr, code, tt.stdout, tt.stderr, tt.code)
				}
			}
			// XML-RPC has no named params: a usage error, before any request.
			if _, stderr, code := rpcdCall(t, "call", "-codec", "xml", "-named", `{"a":1,"b":2}`, u, "py.add"); code != 2 || !strings.Contains(stderr, "no named params") {
				t.Errorf("rpcd call -named over XML-RPC: exit %d, stderr %q", code, stderr)
			}

			stdout, stderr, code := rpcdCall(t, "list", "-codec", "xml", u)
			want := "py.add\npy.boom\npy.echo\npy.fault\npy.nothing\npy.types\n" +
				"system.listMethods\nsystem.methodHelp\nsystem.methodSignature\nsystem.multicall\n"
			if stdout != want || code != 0 {
				t.Errorf("rpcd list -codec xml: exit %d, stderr %q\n%s\nwant\n%s", code, stderr, stdout, want)
			}
			// Python has no rpc.discover and states no signatures (a
			// string where xmlrpc-c puts an array); the help is the
			// function's docstring.
			stdout, stderr, code = rpcdCall(t, "list", "-codec", "xml", "-v", u)
			for _, w := range []string{
				"py.add(...)\n    Returns a + b.\n",
				"py.fault(...)\n    Raises xmlrpc.client.Fault(code, message).\n",
				"py.nothing(...)\n    Returns None.\n",
				"system.multicall(...)\n",
			} {
				if code != 0 || !strings.Contains(stdout, w) {
					t.Errorf("rpcd list -codec xml -v: exit %d, stderr %q, output lacks %q:\n%s", code, stderr, w, stdout)
				}
			}
		})
	}
}
