package interop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/pytest"
)

// pyJSONRPC is a JSON-RPC client written with nothing but Python's standard
// library, as a user would write one from README.
const pyJSONRPC = `
import json, sys, urllib.request, urllib.error

url = sys.argv[1]

def post(payload, ctype="application/json"):
    req = urllib.request.Request(url, data=payload.encode(), headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def call(method, params, id=1):
    status, body = post(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": id}))
    assert status == 200, (status, body)
    reply = json.loads(body)
    assert reply["id"] == id, reply
    return reply

assert call("subtract", [42, 23])["result"] == 19
assert call("subtract", {"minuend": 42, "subtrahend": 23})["result"] == 19
assert call("sum", [1, 2, 4])["result"] == 7
assert call("examples.getStateName", [41])["result"] == "South Dakota"
big = 2**63 - 1
assert call("demo.echo", [big])["result"] == big
assert call("demo.echo", [2**53 + 1])["result"] == 2**53 + 1
value = {"ü": ["☃", None, True, 1.5, {"deep": [[]]}]}
assert call("demo.echo", [value], id="abc")["result"] == value
err = call("demo.divide", [1, 0])["error"]
assert err["code"] == 1001 and err["message"] == "division by zero", err
err = call("demo.fail", [77, "custom", {"d": 1}])["error"]
assert err == {"code": 77, "message": "custom", "data": {"d": 1}}, err
assert call("nope", [])["error"]["code"] == -32601

status, body = post(json.dumps([
    {"jsonrpc": "2.0", "method": "demo.add", "params": [1, 2], "id": 1},
    {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
    {"jsonrpc": "2.0", "method": "demo.add", "params": [3, 4], "id": 2},
]))
assert status == 200, status
results = sorted((r["id"], r["result"]) for r in json.loads(body))
assert results == [(1, 3), (2, 7)], results

status, body = post(json.dumps({"jsonrpc": "2.0", "method": "notify_hello", "params": [1]}))
assert status == 204 and body == "", (status, body)
status, body = post("{not json")
assert status == 200 and json.loads(body)["error"]["code"] == -32700, body
status, _ = post("{}", ctype="text/plain")
assert status == 415, status
status, body = post(json.dumps({"jsonrpc": "2.0", "method": "demo.add", "params": [1, 2], "id": 5}), ctype="application/json; charset=utf-8")
assert status == 200 and json.loads(body)["result"] == 3, body
print("ok")
`

// TestPythonJSONRPCOverHTTP calls the demo methods from CPython's standard
// library (urllib.request and json) with every installed Python version.
func TestPythonJSONRPCOverHTTP(t *testing.T) {
	t.Parallel()
	_, hs := newDemoServer(t)
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			out := py.Run(t, 2*time.Minute, pyJSONRPC, hs.URL+"/")
			if strings.TrimSpace(out) != "ok" {
				t.Errorf("python printed %q", out)
			}
		})
	}
}
