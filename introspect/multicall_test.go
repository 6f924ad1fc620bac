package introspect_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
)

func registerMulticallTargets(s *rpc.Server) error {
	for name, fn := range map[string]any{
		"add":   func(a, b int64) (int64, error) { return a + b, nil },
		"fail":  func() error { return &rpc.Error{Code: 42, Message: "bad luck"} },
		"plain": func() error { return errors.New("disk full") },
		"ping":  func() (string, error) { return "pong", nil },
		"norm1": func(p point) (int64, error) { return p.X + p.Y, nil },
		"whoami": func(ctx context.Context) (string, error) {
			ci, ok := rpc.CallFromContext(ctx)
			if !ok || ci.Peer == nil {
				return "", errors.New("no call info or peer")
			}
			return ci.Method + "/" + ci.Codec + "/" + ci.Peer.Transport, nil
		},
		"admin.reset": func() error { return nil },
	} {
		if err := s.Register(name, fn); err != nil {
			return err
		}
	}
	return nil
}

// mc builds one multicall entry.
func mc(method string, params ...any) map[string]any {
	if params == nil {
		params = []any{}
	}
	return map[string]any{"methodName": method, "params": params}
}

func TestMulticall(t *testing.T) {
	t.Parallel()
	s := newServer(t, registerMulticallTargets)
	tests := []struct {
		name  string
		call  any
		want  string   // the entry's JSON, when the call succeeds
		fault rpc.Code // the entry's faultCode, when it fails
		text  string   // a part of its faultString
	}{
		{name: "success", call: mc("add", 1, 2), want: `[3]`},
		{name: "application code", call: mc("fail"), fault: 42, text: "bad luck"},
		{name: "plain error", call: mc("plain"), fault: rpc.CodeApplication, text: "disk full"},
		{name: "unknown method", call: mc("no.such"), fault: rpc.CodeMethodNotFound, text: "no.such"},
		{name: "nested multicall", call: mc("system.multicall", []any{mc("ping")}), fault: rpc.CodeInvalidRequest, text: "recursive"},
		{name: "params a string", call: map[string]any{"methodName": "add", "params": "1,2"}, fault: rpc.CodeInvalidRequest, text: "not an array"},
		{name: "params a struct", call: map[string]any{"methodName": "add", "params": map[string]any{"a": 1, "b": 2}}, fault: rpc.CodeInvalidRequest, text: "not an array"},
		{name: "params missing", call: map[string]any{"methodName": "ping"}, want: `["pong"]`},
		{name: "params null", call: map[string]any{"methodName": "ping", "params": nil}, want: `["pong"]`},
		{name: "methodName missing", call: map[string]any{"params": []any{}}, fault: rpc.CodeInvalidRequest, text: "missing methodName"},
		{name: "methodName a number", call: map[string]any{"methodName": 7, "params": []any{}}, fault: rpc.CodeInvalidRequest, text: "not a string"},
		{name: "call a string", call: "ping", fault: rpc.CodeInvalidRequest, text: "struct"},
		{name: "call null", call: nil, fault: rpc.CodeInvalidRequest, text: "struct"},
		{name: "call an array", call: []any{"ping"}, fault: rpc.CodeInvalidRequest, text: "struct"},
		{name: "wrong param count", call: mc("add", 1), fault: rpc.CodeInvalidParams, text: "2 params"},
		{name: "wrong param type", call: mc("add", "one", 2), fault: rpc.CodeInvalidParams, text: "param 1"},
		{name: "struct param", call: mc("norm1", map[string]any{"x": 2, "y": 5}), want: `[7]`},
		{name: "unknown members ignored", call: map[string]any{"methodName": "add", "params": []any{1, 2}, "extra": true}, want: `[3]`},
		{name: "call info", call: mc("whoami"), want: `["whoami/fake/inproc"]`},
		{name: "error-only method", call: mc("admin.reset"), want: `[null]`},
	}
	calls := make([]any, len(tests))
	for i, tt := range tests {
		calls[i] = tt.call
	}
	var got []any
	mustCall(t, s, "system.multicall", &got, calls)
	if len(got) != len(tests) {
		t.Fatalf("system.multicall returned %d entries for %d calls: %v", len(got), len(tests), got)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := got[i]
			if tt.fault == 0 {
				if g := jsonOf(t, entry); g != canon(t, tt.want) {
					t.Errorf("entry = %s, want %s", g, tt.want)
				}
				return
			}
			f, ok := entry.(map[string]any)
			if !ok || len(f) != 2 {
				t.Fatalf("entry = %v, want a fault struct of exactly faultCode and faultString", entry)
			}
			if f["faultCode"] != int64(tt.fault) {
				t.Errorf("faultCode = %v, want %d", f["faultCode"], tt.fault)
			}
			if s, _ := f["faultString"].(string); !strings.Contains(s, tt.text) {
				t.Errorf("faultString = %q, want it to contain %q", s, tt.text)
			}
		})
	}
}

func TestMulticallWhole(t *testing.T) {
	t.Parallel()
	pings := func(n int) []any {
		calls := make([]any, n)
		for i := range calls {
			calls[i] = mc("ping")
		}
		return calls
	}
	tests := []struct {
		name  string
		opts  []introspect.Option
		param any
		n     int      // entries expected on success
		code  rpc.Code // the error expected otherwise
	}{
		{name: "empty", param: []any{}, n: 0},
		{name: "at the limit", opts: []introspect.Option{introspect.WithMaxMulticall(3)}, param: pings(3), n: 3},
		{name: "over the limit", opts: []introspect.Option{introspect.WithMaxMulticall(3)}, param: pings(4), code: rpc.CodeLimitExceeded},
		{name: "at the default limit", param: pings(1000), n: 1000},
		{name: "over the default limit", param: pings(1001), code: rpc.CodeLimitExceeded},
		{name: "zero is the default", opts: []introspect.Option{introspect.WithMaxMulticall(0)}, param: pings(1001), code: rpc.CodeLimitExceeded},
		{name: "not an array", param: "ping", code: rpc.CodeInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, registerMulticallTargets, tt.opts...)
			var got []any
			err := call(t, s, "system.multicall", &got, tt.param)
			if tt.code != 0 {
				if err == nil {
					t.Fatalf("system.multicall succeeded with %d entries, want error code %d", len(got), tt.code)
				}
				if code := errorCode(t, err); code != tt.code {
					t.Errorf("error %v: code %d, want %d", err, code, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n {
				t.Errorf("got %d entries, want %d", len(got), tt.n)
			}
		})
	}
}

// An interceptor, such as authentication, sees every inner call of a
// multicall and may refuse it; the others still run.
func TestMulticallInterceptor(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	refuse := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		mu.Lock()
		seen = append(seen, call.Method)
		mu.Unlock()
		if strings.HasPrefix(call.Method, "admin.") {
			return nil, &rpc.Error{Code: rpc.CodeUnauthenticated, Message: "unauthenticated"}
		}
		return next(ctx, call)
	}
	s := newServerWith(t, []rpc.Option{rpc.WithInterceptors(refuse)}, registerMulticallTargets)

	var got []any
	mustCall(t, s, "system.multicall", &got, []any{mc("admin.reset"), mc("ping")})
	want := `[{"faultCode":-32003,"faultString":"unauthenticated"},["pong"]]`
	if g := jsonOf(t, got); g != canon(t, want) {
		t.Errorf("system.multicall = %s, want %s", g, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if w := []string{"system.multicall", "admin.reset", "ping"}; strings.Join(seen, " ") != strings.Join(w, " ") {
		t.Errorf("the interceptor saw %q, want %q", seen, w)
	}
}

// A multicall whose caller has gone stops and reports why.
func TestMulticallCanceled(t *testing.T) {
	t.Parallel()
	var pings atomic.Int32
	s := newServer(t, func(s *rpc.Server) error {
		return s.Register("ping", func() (string, error) { pings.Add(1); return "pong", nil })
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []any{mc("ping"), mc("ping")}
	_, err := s.Invoke(ctx, "system.multicall", calls)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("system.multicall with a canceled context: error %v, want one that is context.Canceled", err)
	}
	if n := pings.Load(); n != 0 {
		t.Errorf("%d calls ran after the context was canceled", n)
	}
}

// Server.Invoke with natural values, as a codec decodes them, works without
// any codec at all.
func TestMulticallInvoke(t *testing.T) {
	t.Parallel()
	s := newServer(t, registerMulticallTargets)
	calls := []any{
		mc("add", int64(40), int64(2)),
		mc("nope"),
		// Go values that are not natural ones still convert.
		map[string]any{"methodName": "add", "params": []int32{1, 2}},
		map[string]string{"methodName": "ping"},
		// A base64 value is no array of params.
		map[string]any{"methodName": "add", "params": []byte{1, 2}},
	}
	got, err := s.Invoke(context.Background(), "system.multicall", calls)
	if err != nil {
		t.Fatal(err)
	}
	want := `[[42],{"faultCode":-32601,"faultString":"method not found: nope"},[3],["pong"],
		{"faultCode":-32600,"faultString":"invalid request: params is not an array"}]`
	if g := jsonOf(t, got); g != canon(t, want) {
		t.Errorf("system.multicall = %s, want %s", g, want)
	}
}

func TestRegisterRefusesANegativeLimit(t *testing.T) {
	t.Parallel()
	s, err := rpc.NewServer(rpc.WithCodecs(fakeCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := introspect.Register(s, introspect.WithMaxMulticall(-1)); err == nil {
		t.Error("WithMaxMulticall(-1) accepted")
	}
	if len(s.Methods()) != 0 {
		t.Errorf("a failed Register left methods behind: %v", s.Methods())
	}
}
