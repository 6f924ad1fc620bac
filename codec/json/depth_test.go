package json_test

import (
	"context"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// TestDeepRequestKeepsItsID checks that a request refused for its depth is
// answered with its own id, so that a multiplexing client can match it.
func TestDeepRequestKeepsItsID(t *testing.T) {
	t.Parallel()
	c := json.New(json.WithMaxDepth(8))
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("[", 50) + strings.Repeat("]", 50)
	for _, tt := range []struct{ msg, id string }{
		{`{"jsonrpc":"2.0","params":[` + deep + `],"id":7,"method":"m"}`, `"id":7}`},
		{`{"jsonrpc":"2.0","id":"a\"b","method":"m","params":[` + deep + `]}`, `"id":"a\"b"}`},
		{`{"jsonrpc":"2.0","x":{"s":"]}\"["},"params":[` + deep + `],"id":-3.5e2}`, `"id":-3.5e2}`},
		{`{"jsonrpc":"2.0","method":"m","params":[` + deep + `]}`, `"id":null}`},
	} {
		out := string(s.ServeMessage(context.Background(), c, []byte(tt.msg), nil))
		if !strings.Contains(out, `"code":-32004`) || !strings.HasSuffix(out, tt.id) {
			t.Errorf("%s\n→ %s, want -32004 ending %s", tt.msg, out, tt.id)
		}
	}
}

// TestDeepResultRefused checks that the codec does not send what it would
// refuse to read.
func TestDeepResultRefused(t *testing.T) {
	t.Parallel()
	c := json.New(json.WithMaxDepth(8))
	var v any = []any{}
	for range 20 {
		v = []any{v}
	}
	if _, err := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Raw: []byte("1")}, Result: v}); err == nil {
		t.Error("a result 20 levels deep was encoded under a limit of 8")
	}
	if _, err := c.AppendResponse(nil, &wire.Response{Error: &wire.Error{Code: 1, Message: "x", Data: v}}); err == nil {
		t.Error("error data 20 levels deep was encoded under a limit of 8")
	}
	var shallow any = []any{[]any{1}}
	if _, err := c.AppendResponse(nil, &wire.Response{Result: shallow}); err != nil {
		t.Errorf("a shallow result: %v", err)
	}
}
