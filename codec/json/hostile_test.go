package json_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// allocated returns the bytes f allocates. The tests that use it are not
// parallel, so that other tests' allocations do not count.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileInputs sends messages built to exhaust memory or stack, and
// checks that each is refused or served with the expected error and with
// allocations bounded by a small multiple of its size.
func TestHostileInputs(t *testing.T) {
	const mb = 1 << 20
	call := func(method, params string) string {
		return `{"jsonrpc":"2.0","method":"` + method + `","params":` + params + `,"id":1}`
	}
	tests := []struct {
		name   string
		msg    string
		code   rpc.Code // 0: a result is wanted
		factor float64  // allowed bytes allocated per byte of message
	}{
		{"1 MB of [", strings.Repeat("[", mb), rpc.CodeLimitExceeded, 0.05},
		{"1 MB of {\"a\":", strings.Repeat(`{"a":`, mb/5), rpc.CodeLimitExceeded, 0.05},
		{"deep array closed", strings.Repeat("[", mb/2) + strings.Repeat("]", mb/2), rpc.CodeLimitExceeded, 0.05},
		{"deep params", call("echo", strings.Repeat("[", mb)), rpc.CodeLimitExceeded, 0.05},
		{"deep object param", call("echo", "["+strings.Repeat(`{"a":`, mb/5)+"1"+strings.Repeat("}", mb/5)+"]"), rpc.CodeLimitExceeded, 0.05},
		{"deep reply-like", `{"jsonrpc":"2.0","result":` + strings.Repeat("[", mb) + `,"id":1}`, rpc.CodeLimitExceeded, 0.05},
		{"unterminated string", call("greet", `["`+strings.Repeat("a", mb)), rpc.CodeParseError, 0.05},
		{"1 MB integer into any", call("echo", "[1"+strings.Repeat("0", mb)+"]"), rpc.CodeInvalidParams, 3},
		{"1 MB integer into int64", call("subtract", "[1"+strings.Repeat("0", mb)+",1]"), rpc.CodeInvalidParams, 0.05},
		{"1 MB fraction into any", call("echo", "[0."+strings.Repeat("0", mb)+"1]"), 0, 3},
		{"huge exponent", call("echo", "[1e"+strings.Repeat("9", mb)+"]"), rpc.CodeInvalidParams, 3},
		{"tiny exponent", call("echo", "[1e-"+strings.Repeat("9", mb)+"]"), 0, 3},
		{"1 MB string", call("greet", `["`+strings.Repeat("a", mb)+`"]`), 0, 8},
		{"1 MB escaped string", call("greet", `["`+strings.Repeat(`\u00e9`, mb/6)+`"]`), 0, 8},
		{"1 MB string into int64", call("subtract", `["`+strings.Repeat("a", mb)+`",1]`), rpc.CodeInvalidParams, 0.05},
		{"many params for two", call("subtract", "["+strings.Repeat("1,", mb/2)+"1]"), rpc.CodeInvalidParams, 0.05},
		{"1 MB method name", call(strings.Repeat("m", mb), "[]"), rpc.CodeMethodNotFound, 4},
		{"1 MB id", `{"jsonrpc":"2.0","method":"sum","id":1` + strings.Repeat("0", mb) + `}`, 0, 4},
	}
	s, c, _ := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := []byte(tt.msg)
			var reply []byte
			n := allocated(func() {
				reply = s.ServeMessage(context.Background(), c, msg, nil)
			})
			r := parseReply(t, string(reply))
			switch {
			case tt.code == 0 && r.Error != nil:
				t.Errorf("error %+v, want a result", r.Error)
			case tt.code != 0 && (r.Error == nil || rpc.Code(r.Error.Code) != tt.code):
				t.Errorf("reply %.300s, want error %d", reply, tt.code)
			}
			t.Logf("%d bytes allocated for a %d-byte message", n, len(tt.msg))
			if limit := uint64(tt.factor*float64(len(tt.msg))) + 64<<10; n > limit {
				t.Errorf("allocated %d bytes for a %d-byte message; limit %d", n, len(tt.msg), limit)
			}
			// The codec's own error messages quote at most a short excerpt
			// of the input. (The core's "method not found" quotes the whole
			// method name.)
			if len(reply) > 300 && tt.code != 0 && tt.code != rpc.CodeMethodNotFound {
				t.Errorf("error reply of %d bytes: %.300s", len(reply), reply)
			}
		})
	}
}

// TestHostileReplies feeds a client hostile replies.
func TestHostileReplies(t *testing.T) {
	c := json.New()
	for _, msg := range []string{
		strings.Repeat("[", 1<<20),
		`{"jsonrpc":"2.0","result":` + strings.Repeat(`{"a":`, 1<<18) + `,"id":1}`,
		`{"jsonrpc":"2.0","error":` + strings.Repeat("[", 1<<20) + `,"id":1}`,
	} {
		var r wire.Reply
		var err error
		b := []byte(msg)
		n := allocated(func() { err = c.DecodeReply(b, &r) })
		if err == nil {
			t.Errorf("reply %.40s... accepted", msg)
		}
		if n > 64<<10 {
			t.Errorf("reply %.40s...: allocated %d bytes", msg, n)
		}
	}
}

// TestDeepestNesting serves a value at the deepest nesting the codec allows
// and one level deeper: no recursion of the codec's may overflow the stack,
// and the limit is enforced however high it is set.
func TestDeepestNesting(t *testing.T) {
	c := json.New(json.WithMaxDepth(1 << 30))
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("echo", func(v any) (any, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("typed", func(v [][][]int) (int, error) { return len(v), nil }); err != nil {
		t.Fatal(err)
	}
	// The request object and the params array take two levels. A string of
	// 128 KiB inside makes the message large enough that the natural values
	// of 10,000 levels, 40 bytes a level, are within its budget.
	deep := strings.Repeat("[", json.MaxDepth-2) + `"` + strings.Repeat("x", 128<<10) + `"` + strings.Repeat("]", json.MaxDepth-2)
	want := `{"jsonrpc":"2.0","result":` + deep + `,"id":1}`
	if got := serve(s, c, `{"jsonrpc":"2.0","method":"echo","params":[`+deep+`],"id":1}`); got != want {
		t.Errorf("reply %.100s..., want the value echoed", got)
	}
	got := serve(s, c, `{"jsonrpc":"2.0","method":"echo","params":[`+nested(json.MaxDepth-1)+`],"id":1}`)
	if r := parseReply(t, got); r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeLimitExceeded {
		t.Errorf("reply %.200s, want error %d", got, rpc.CodeLimitExceeded)
	}
	got = serve(s, c, `{"jsonrpc":"2.0","method":"typed","params":[`+deep+`],"id":1}`)
	if r := parseReply(t, got); r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeInvalidParams {
		t.Errorf("reply %.200s, want error %d", got, rpc.CodeInvalidParams)
	}
}
