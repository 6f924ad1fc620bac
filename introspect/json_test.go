package introspect_test

import (
	"context"
	"slices"
	"testing"

	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
)

// The service works in a real codec: JSON-RPC, from a client and on the wire.
func TestJSONCodec(t *testing.T) {
	t.Parallel()
	codec := jsoncodec.New()
	s, err := rpc.NewServer(rpc.WithCodecs(codec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("add", func(a, b int64) (int64, error) { return a + b, nil },
		rpc.WithParamNames("a", "b"), rpc.WithHelp("Adds two integers.")); err != nil {
		t.Fatal(err)
	}
	if err := introspect.Register(s); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := rpc.NewClient(rpc.InProcess(s), codec)
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	if err := c.Call(ctx, "system.listMethods", &names); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "add") || !slices.Contains(names, "rpc.discover") || !slices.IsSorted(names) {
		t.Errorf("system.listMethods = %q", names)
	}
	var sig [][]string
	if err := c.Call(ctx, "system.methodSignature", &sig, "add"); err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, sig), `[["i8","i8","i8"]]`; g != w {
		t.Errorf("system.methodSignature(add) = %s, want %s", g, w)
	}
	var help string
	if err := c.CallNamed(ctx, "system.methodHelp", &help, map[string]any{"name": "add"}); err != nil {
		t.Fatal(err)
	}
	if help != "Adds two integers." {
		t.Errorf("system.methodHelp(add) = %q", help)
	}
	var doc map[string]any
	if err := c.Call(ctx, "rpc.discover", &doc); err != nil {
		t.Fatal(err)
	}
	if g, w := jsonOf(t, methodObject(t, doc, "add")["params"]),
		canon(t, `[{"name":"a","required":true,"schema":{"type":"integer","format":"int64"}},
		           {"name":"b","required":true,"schema":{"type":"integer","format":"int64"}}]`); g != w {
		t.Errorf("rpc.discover: add params = %s, want %s", g, w)
	}

	// On the wire: a multicall with a success, a nested multicall and a call
	// to an unknown method.
	req := `{"jsonrpc":"2.0","id":7,"method":"system.multicall","params":[[
		{"methodName":"add","params":[1,2]},
		{"methodName":"system.multicall","params":[[]]},
		{"methodName":"nope"}]]}`
	got := s.ServeMessage(ctx, codec, []byte(req), nil)
	want := `{"jsonrpc":"2.0","result":[[3],
		{"faultCode":-32600,"faultString":"invalid request: recursive system.multicall forbidden"},
		{"faultCode":-32601,"faultString":"method not found: nope"}],"id":7}`
	if g, w := canon(t, string(got)), canon(t, want); g != w {
		t.Errorf("multicall reply =\n%s\nwant\n%s", g, w)
	}
}
