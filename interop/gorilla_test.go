package interop_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/gorilla/rpc/v2/json2"
)

// TestGorillaJSON2Client drives the server with gorilla/rpc v2's json2 client
// helpers, a JSON-RPC 2.0 implementation nobody here wrote.
func TestGorillaJSON2Client(t *testing.T) {
	t.Parallel()
	_, hs := newDemoServer(t)
	call := func(method string, args, reply any) error {
		t.Helper()
		body, err := json2.EncodeClientRequest(method, args)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(hs.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return json2.DecodeClientResponse(resp.Body, reply)
	}

	var n int64
	if err := call("subtract", []int{42, 23}, &n); err != nil || n != 19 {
		t.Errorf("subtract positional = %d, %v", n, err)
	}
	if err := call("subtract", map[string]int{"minuend": 1, "subtrahend": 3}, &n); err != nil || n != -2 {
		t.Errorf("subtract named = %d, %v", n, err)
	}
	if err := call("validator1.easyStructTest", struct {
		Moe   int `json:"moe"`
		Larry int `json:"larry"`
		Curly int `json:"curly"`
	}{1, 2, 3}, &n); err != nil || n != 6 {
		t.Errorf("easyStructTest by name = %d, %v", n, err)
	}
	var state string
	if err := call("examples.getStateName", []int{41}, &state); err != nil || state != "South Dakota" {
		t.Errorf("getStateName = %q, %v", state, err)
	}
	var echoed map[string]any
	if err := call("demo.echo", []any{map[string]any{"k": []any{"v", true}}}, &echoed); err != nil || echoed["k"] == nil {
		t.Errorf("echo = %v, %v", echoed, err)
	}

	err := call("demo.fail", []any{4242, "custom fault"}, &n)
	var ge *json2.Error
	if !errors.As(err, &ge) || ge.Code != 4242 || ge.Message != "custom fault" {
		t.Errorf("fault seen by gorilla: %#v", err)
	}
	err = call("no.such.method", []int{}, &n)
	if !errors.As(err, &ge) || ge.Code != json2.E_NO_METHOD {
		t.Errorf("missing method seen by gorilla: %#v", err)
	}
	err = call("demo.add", []any{"x", 1}, &n)
	if !errors.As(err, &ge) || ge.Code != json2.E_BAD_PARAMS {
		t.Errorf("invalid params seen by gorilla: %#v", err)
	}
}
