package xml_test

import (
	"encoding/hex"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// TestPythonInterop has every installed CPython (3.11 to 3.13) read what
// the encoder writes, with xmlrpc.client.loads, and checks that Python still
// writes the bytes of testdata/python-call.xml, which TestReadPython reads.
func TestPythonInterop(t *testing.T) {
	// One process per interpreter: it prints what it reads of each message
	// given in hex, a line "--" after each, then dumps the fixture's values.
	const script = `
import datetime, sys, xmlrpc.client
for arg in sys.argv[1:]:
    try:
        params, method = xmlrpc.client.loads(bytes.fromhex(arg), use_builtin_types=True)
        print(method)
        for p in params:
            print(repr(p))
    except xmlrpc.client.Fault as f:
        print("fault", f.faultCode, repr(f.faultString))
    print("--")
sys.stdout.write(xmlrpc.client.dumps((1, -2**31, 2**31-1, True, False, 1.5, 1e21, 1e-07, 1e16, 1000000000000000.0, -0.0,
    "s<&>\r\n\u00e9\U0001d11e", "", None, b"x", b"\x00" * 100, [1, "a", [], {}], {"k": 2.0, "nested": {"a": [True]}},
    datetime.datetime(1998, 7, 17, 14, 8, 55)), methodname="python.types", allow_none=True).encode().hex())
`
	msg, err := codec.AppendCall(nil, &wire.Call{Method: "py.check", Args: []any{
		42, int64(1) << 40, int64(math.MinInt64), true, "a<b & c>\r\n]]>\t'\"é𝄞", "",
		1.5, 1e21, 1e-7, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 100.0,
		time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC), []byte("hi\x00"), nil,
		[]any{1, "x", []int{}}, map[string]any{"b": 1, "a": map[string]int{}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantCall := strings.Join([]string{
		"py.check", "42", "1099511627776", "-9223372036854775808", "True", `'a<b & c>\r\n]]>\t\'"é𝄞'`, "''",
		"1.5", "1e+21", "1e-07", "-0.0", "1.7976931348623157e+308", "5e-324", "0.1", "100.0",
		"datetime.datetime(1998, 7, 17, 14, 8, 55)", "b'hi\\x00'", "None",
		"[1, 'x', []]", "{'a': {}, 'b': 1}",
	}, "\n") + "\n"
	fault, err := codec.AppendResponse(nil, &wire.Response{Error: &wire.Error{Code: -32601, Message: "no <such> method\r\n"}})
	if err != nil {
		t.Fatal(err)
	}
	wantFault := `fault -32601 'no <such> method\r\n'` + "\n"
	response, err := codec.AppendResponse(nil, &wire.Response{Result: map[string]any{"ok": true}})
	if err != nil {
		t.Fatal(err)
	}
	wantResponse := "None\n{'ok': True}\n"

	fixture, err := os.ReadFile("testdata/python-call.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, py := range pytest.All(t) {
		t.Run(py.Minor(), func(t *testing.T) {
			t.Parallel()
			out := py.Run(t, time.Minute, script,
				hex.EncodeToString(msg), hex.EncodeToString(fault), hex.EncodeToString(response))
			parts := strings.Split(out, "--\n")
			if len(parts) != 4 {
				t.Fatalf("Python printed\n%s", out)
			}
			for i, want := range []string{wantCall, wantFault, wantResponse} {
				if parts[i] != want {
					t.Errorf("Python read\n%s\nwant\n%s", parts[i], want)
				}
			}
			dumped, err := hex.DecodeString(strings.TrimSpace(parts[3]))
			if err != nil {
				t.Fatal(err)
			}
			if string(dumped) != string(fixture) {
				t.Errorf("Python %s now writes\n%s\nnot testdata/python-call.xml", py.Version, dumped)
			}
		})
	}
}
