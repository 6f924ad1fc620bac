package interop_test

import (
	"net/http"
	"testing"
)

// TestJSONRPCSpecExamples runs every example of the JSON-RPC 2.0
// specification's Examples section through the real HTTP handler.
func TestJSONRPCSpecExamples(t *testing.T) {
	t.Parallel()
	_, hs := newDemoServer(t)
	tests := []struct {
		name, req, resp string // resp "" means no content (204)
	}{
		{"positional", `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
			`{"jsonrpc": "2.0", "result": 19, "id": 1}`},
		{"positional reversed", `{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}`,
			`{"jsonrpc": "2.0", "result": -19, "id": 2}`},
		{"named", `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
			`{"jsonrpc": "2.0", "result": 19, "id": 3}`},
		{"named reordered", `{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}`,
			`{"jsonrpc": "2.0", "result": 19, "id": 4}`},
		{"notification", `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`, ``},
		{"notification of a missing method", `{"jsonrpc": "2.0", "method": "foobar"}`, ``},
		{"method not found", `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`,
			`{"jsonrpc": "2.0", "error": {"code": -32601, "message": "method not found: foobar"}, "id": "1"}`},
		{"invalid JSON", `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
			`{"jsonrpc": "2.0", "error": {"code": -32700, "message": "*"}, "id": null}`},
		{"invalid request object", `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`,
			`{"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null}`},
		{"batch, invalid JSON", `[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]`, `{"jsonrpc": "2.0", "error": {"code": -32700, "message": "*"}, "id": null}`},
		{"empty array", `[]`, `{"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null}`},
		{"invalid batch of one", `[1]`, `[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null}]`},
		{"invalid batch", `[1,2,3]`, `[
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null}
]`},
		{"batch", `[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
  {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
  {"foo": "boo"},
  {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
  {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
]`, `[
  {"jsonrpc": "2.0", "result": 7, "id": "1"},
  {"jsonrpc": "2.0", "result": 19, "id": "2"},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "*"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32601, "message": "method not found: foo.get"}, "id": "5"},
  {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
]`},
		{"batch of notifications", `[
  {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
  {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
]`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, hdr, body := post(t, hs.URL, "application/json", tt.req)
			if tt.resp == "" {
				if status != http.StatusNoContent || len(body) != 0 {
					t.Fatalf("status %d body %q, want 204 and no body", status, body)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("status %d, body %q", status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			got := maskMessages(jsonValue(t, body), jsonValue(t, []byte(tt.resp)))
			if !sameJSON(t, mustJSON(t, got), []byte(tt.resp)) {
				t.Errorf("reply\n%s\nwant\n%s", body, tt.resp)
			}
		})
	}
}
