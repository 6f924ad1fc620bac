package rpc_test

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

type point struct {
	X int64 `json:"x"`
	Y int64 `json:"y"`
}

type arith struct{}

func (arith) Add(a, b int64) (int64, error) { return a + b, nil }
func (arith) Neg(a int64) (int64, error)    { return -a, nil }
func (arith) Reset() error                  { return nil }
func (arith) Close() error                  { return nil } // not exported: not callable
func (arith) String() string                { return "arith" }

func newTestServer(t testing.TB, opts ...rpc.Option) *rpc.Server {
	t.Helper()
	s, err := rpc.NewServer(append([]rpc.Option{rpc.WithCodecs(fakeCodec{})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("subtract", func(a, b int64) (int64, error) { return a - b, nil },
		rpc.WithParamNames("minuend", "subtrahend"), rpc.WithHelp("a minus b")))
	must(s.Register("sum", func(xs ...float64) (float64, error) {
		var t float64
		for _, x := range xs {
			t += x
		}
		return t, nil
	}))
	must(s.Register("join", func(sep string, parts ...string) (string, error) {
		return strings.Join(parts, sep), nil
	}, rpc.WithParamNames("sep", "parts")))
	must(s.Register("norm1", func(p point) (int64, error) { return abs(p.X) + abs(p.Y), nil }))
	must(s.Register("norm1p", func(p *point) (int64, error) { return abs(p.X) + abs(p.Y), nil }))
	must(s.Register("echo", func(v any) (any, error) { return v, nil }))
	must(s.Register("fail", func(code int, msg string) error {
		return &rpc.Error{Code: rpc.Code(code), Message: msg, Data: map[string]any{"why": msg}}
	}))
	must(s.Register("plain", func() error { return errors.New("disk full") }))
	must(s.Register("boom", func() (int, error) { panic("secret internals") }))
	must(s.Register("sleep", func(ctx context.Context, ms int) error {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	must(s.Register("whoami", func(ctx context.Context) (string, error) {
		ci, ok := rpc.CallFromContext(ctx)
		if !ok {
			return "", errors.New("no call info")
		}
		peer := "none"
		if ci.Peer != nil {
			peer = ci.Peer.Transport
		}
		return ci.Method + "/" + ci.Codec + "/" + peer, nil
	}))
	must(s.RegisterService("arith", arith{},
		rpc.Export("Add", rpc.WithParamNames("a", "b"), rpc.WithHelp("a plus b")),
		rpc.Export("Neg"), rpc.Export("Reset")))
	return s
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

type replyEnv struct {
	ID     *uint64            `json:"id"`
	Result stdjson.RawMessage `json:"r"`
	Error  *struct {
		Code int    `json:"c"`
		Msg  string `json:"msg"`
		Data any    `json:"d"`
	} `json:"e"`
}

func serve(t *testing.T, s *rpc.Server, msg []byte) replyEnv {
	t.Helper()
	out := s.ServeMessage(context.Background(), fakeCodec{}, msg, nil)
	var r replyEnv
	if err := stdjson.Unmarshal(out, &r); err != nil {
		t.Fatalf("reply %q: %v", out, err)
	}
	return r
}

func TestServeMessage(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, method, params string
		want                 string // JSON result, or "" when an error is expected
		code                 rpc.Code
		msgHas               string
	}{
		{name: "positional", method: "subtract", params: `[42, 23]`, want: `19`},
		{name: "named", method: "subtract", params: `{"subtrahend": 23, "minuend": 42}`, want: `19`},
		{name: "named case matters", method: "subtract", params: `{"Subtrahend": 23, "minuend": 42}`, code: rpc.CodeInvalidParams, msgHas: `"Subtrahend"`},
		{name: "named missing", method: "subtract", params: `{"minuend": 42}`, code: rpc.CodeInvalidParams, msgHas: "subtrahend"},
		{name: "too many", method: "subtract", params: `[1, 2, 3]`, code: rpc.CodeInvalidParams, msgHas: "wants 2"},
		{name: "too few", method: "subtract", params: `[1]`, code: rpc.CodeInvalidParams},
		{name: "none", method: "subtract", code: rpc.CodeInvalidParams},
		{name: "wrong type", method: "subtract", params: `["a", 2]`, code: rpc.CodeInvalidParams, msgHas: "param 1"},
		{name: "fraction into int", method: "subtract", params: `[1.5, 2]`, code: rpc.CodeInvalidParams},
		{name: "variadic", method: "sum", params: `[1, 2, 4]`, want: `7`},
		{name: "variadic empty", method: "sum", params: `[]`, want: `0`},
		{name: "variadic absent", method: "sum", want: `0`},
		{name: "variadic after fixed", method: "join", params: `["-", "a", "b", "c"]`, want: `"a-b-c"`},
		{name: "variadic named", method: "join", params: `{"sep": "+", "parts": ["x", "y"]}`, want: `"x+y"`},
		{name: "variadic named omitted", method: "join", params: `{"sep": "+"}`, want: `""`},
		{name: "variadic too few", method: "join", code: rpc.CodeInvalidParams, msgHas: "at least 1"},
		{name: "struct param named", method: "norm1", params: `{"x": -3, "y": 4}`, want: `7`},
		{name: "struct param positional", method: "norm1", params: `[{"x": 1, "y": 1}]`, want: `2`},
		{name: "struct param unknown field", method: "norm1", params: `{"x": 1, "z": 4}`, code: rpc.CodeInvalidParams, msgHas: `"z"`},
		{name: "pointer struct param named", method: "norm1p", params: `{"y": -5}`, want: `5`},
		{name: "positional only", method: "sum", params: `{"a": 1}`, code: rpc.CodeInvalidParams, msgHas: "positional"},
		{name: "not found", method: "nope", code: rpc.CodeMethodNotFound, msgHas: "nope"},
		{name: "application error", method: "fail", params: `[42, "bad"]`, code: 42, msgHas: "bad"},
		{name: "plain error", method: "plain", code: rpc.CodeApplication, msgHas: "disk full"},
		{name: "panic", method: "boom", code: rpc.CodeInternal},
		{name: "service", method: "arith.add", params: `[2, 3]`, want: `5`},
		{name: "service error only", method: "arith.reset", want: `null`},
		{name: "method not exported", method: "arith.close", code: rpc.CodeMethodNotFound},
		{name: "call info", method: "whoami", want: `"whoami/fake/none"`},
		{name: "echo int64 max", method: "echo", params: `[9223372036854775807]`, want: `9223372036854775807`},
		{name: "echo nested", method: "echo", params: `[{"a": [1, "x", null, true]}]`, want: `{"a":[1,"x",null,true]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := serve(t, s, request(7, tt.method, tt.params))
			if r.ID == nil || *r.ID != 7 {
				t.Errorf("id = %v, want 7", r.ID)
			}
			if tt.want != "" {
				if r.Error != nil {
					t.Fatalf("error %+v, want result %s", *r.Error, tt.want)
				}
				if string(r.Result) != tt.want {
					t.Errorf("result = %s, want %s", r.Result, tt.want)
				}
				return
			}
			if r.Error == nil {
				t.Fatalf("result %s, want error code %d", r.Result, tt.code)
			}
			if rpc.Code(r.Error.Code) != tt.code {
				t.Errorf("code = %d (%s), want %d", r.Error.Code, r.Error.Msg, tt.code)
			}
			if !strings.Contains(r.Error.Msg, tt.msgHas) {
				t.Errorf("message %q does not contain %q", r.Error.Msg, tt.msgHas)
			}
		})
	}
}

func TestPanicRevealsNothingAndServerGoesOn(t *testing.T) {
	t.Parallel()
	log := &logRecorder{}
	s := newTestServer(t, rpc.WithLogger(log.logger()))
	r := serve(t, s, request(1, "boom", ""))
	if r.Error == nil || strings.Contains(r.Error.Msg, "secret") {
		t.Fatalf("panic reply = %+v; want an internal error without the panic text", r.Error)
	}
	recs := log.records()
	if len(recs) != 1 || recs[0].level != slog.LevelError || recs[0].attrs["method"] != "boom" ||
		recs[0].attrs["panic"] != "secret internals" || !strings.Contains(recs[0].attrs["stack"], "goroutine") {
		t.Errorf("logged %+v; want one error record of the panic with its stack", recs)
	}
	if r := serve(t, s, request(2, "subtract", "[3, 1]")); string(r.Result) != "2" {
		t.Errorf("after a panic: %s", r.Result)
	}
}

func TestNotification(t *testing.T) {
	t.Parallel()
	s := mustServer(t, rpc.WithCodecs(fakeCodec{}))
	var calls atomic.Int32
	if err := s.Register("tick", func() error { calls.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	out := s.ServeMessage(context.Background(), fakeCodec{}, []byte(`{"m":"tick"}`), nil)
	if len(out) != 0 {
		t.Errorf("notification got reply %q", out)
	}
	// A failing notification stays silent too.
	out = s.ServeMessage(context.Background(), fakeCodec{}, []byte(`{"m":"nope"}`), nil)
	if len(out) != 0 {
		t.Errorf("failed notification got reply %q", out)
	}
	if calls.Load() != 1 {
		t.Errorf("tick ran %d times", calls.Load())
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, rpc.WithMaxBatch(5))
	ctx := context.Background()
	t.Run("mixed", func(t *testing.T) {
		msg := `[` + string(request(1, "subtract", "[5, 3]")) + `,{"m":"sum","p":[1]},` +
			string(request(2, "nope", "")) + `,` + string(request(3, "sleep", "[20]")) + `]`
		out := s.ServeMessage(ctx, fakeCodec{}, []byte(msg), nil)
		var rs []replyEnv
		if err := stdjson.Unmarshal(out, &rs); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if len(rs) != 3 {
			t.Fatalf("%d replies, want 3 (the notification gets none): %s", len(rs), out)
		}
		if *rs[0].ID != 1 || string(rs[0].Result) != "2" || *rs[1].ID != 2 || rs[1].Error == nil || *rs[2].ID != 3 {
			t.Errorf("replies out of order or wrong: %s", out)
		}
	})
	t.Run("empty", func(t *testing.T) {
		r := serve(t, s, []byte(`[]`))
		if r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeInvalidRequest {
			t.Errorf("empty batch: %+v", r)
		}
	})
	t.Run("too large", func(t *testing.T) {
		r := serve(t, s, []byte(`[{"m":"a"},{"m":"a"},{"m":"a"},{"m":"a"},{"m":"a"},{"m":"a"}]`))
		if r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeLimitExceeded {
			t.Errorf("batch over limit: %+v", r)
		}
	})
	t.Run("only notifications", func(t *testing.T) {
		if out := s.ServeMessage(ctx, fakeCodec{}, []byte(`[{"m":"sum"},{"m":"sum"}]`), nil); len(out) != 0 {
			t.Errorf("reply %q", out)
		}
	})
	t.Run("unparseable", func(t *testing.T) {
		r := serve(t, s, []byte(`[{"m":`))
		if r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeParseError {
			t.Errorf("%+v", r)
		}
	})
}

func TestInterceptors(t *testing.T) {
	t.Parallel()
	var order []string
	var mu sync.Mutex
	record := func(name string) rpc.Interceptor {
		return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
			mu.Lock()
			order = append(order, name+">"+call.Method+"/"+call.Codec)
			mu.Unlock()
			res, err := next(ctx, call)
			mu.Lock()
			order = append(order, name+"<")
			mu.Unlock()
			return res, err
		}
	}
	deny := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		switch call.Method {
		case "plain":
			return nil, &rpc.Error{Code: rpc.CodeUnauthenticated, Message: "no"}
		case "sum":
			panic("interceptor panic")
		case "subtract":
			// An interceptor may read the params before the handler does.
			var a int64
			if err := call.Params.DecodeAt(0, &a); err != nil || a != 2 {
				return nil, fmt.Errorf("param 0 = %d, %v", a, err)
			}
		}
		return next(ctx, call)
	}
	s := newTestServer(t, rpc.WithInterceptors(record("a"), record("b")), rpc.WithInterceptors(deny))
	if r := serve(t, s, request(1, "subtract", "[2, 1]")); string(r.Result) != "1" {
		t.Fatalf("result %s", r.Result)
	}
	if want := []string{"a>subtract/fake", "b>subtract/fake", "b<", "a<"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if r := serve(t, s, request(2, "plain", "")); r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeUnauthenticated {
		t.Errorf("denied call: %+v", r)
	}
	if r := serve(t, s, request(3, "sum", "")); r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeInternal {
		t.Errorf("panicking interceptor: %+v", r)
	}
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, rpc.WithCallTimeout(10*time.Millisecond))
	r := serve(t, s, request(1, "sleep", "[10000]"))
	if r.Error == nil || rpc.Code(r.Error.Code) != rpc.CodeDeadlineExceeded {
		t.Fatalf("%+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := s.ServeMessage(ctx, fakeCodec{}, request(2, "sleep", "[10000]"), nil)
	if !strings.Contains(string(out), fmt.Sprint(int(rpc.CodeCanceled))) {
		t.Errorf("canceled call: %s", out)
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   any
		opts []rpc.MethodOption
		msg  string
	}{
		{"nil", nil, nil, "not a function"},
		{"not func", 42, nil, "not a function"},
		{"no error", func() int { return 1 }, nil, "must return"},
		{"three results", func() (int, int, error) { return 0, 0, nil }, nil, "must return"},
		//lint:ignore ST1008 a handler with its error first is what this case refuses
		{"error first", func() (error, int) { return nil, 0 }, nil, "must return"},
		{"chan param", func(chan int) error { return nil }, nil, "cannot be sent"},
		{"func result", func() (func(), error) { return nil, nil }, nil, "cannot be sent"},
		{"ctx not first", func(int, context.Context) error { return nil }, nil, "first parameter"},
		{"interface param", func(error) error { return nil }, nil, "interface"},
		{"int-keyed map", func(map[int]string) error { return nil }, nil, "map key"},
		{"names count", func(a, b int) error { return nil }, []rpc.MethodOption{rpc.WithParamNames("a")}, "1 param names"},
		{"names dup", func(a, b int) error { return nil }, []rpc.MethodOption{rpc.WithParamNames("a", "a")}, "twice"},
		{"names empty", func(a int) error { return nil }, []rpc.MethodOption{rpc.WithParamNames("")}, "empty"},
		{"bad struct field", func(struct{ C chan int }) error { return nil }, nil, "field C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustServer(t)
			err := s.Register("m", tt.fn, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Register error = %v, want one containing %q", err, tt.msg)
			}
		})
	}
	s := mustServer(t)
	if err := s.Register("", func() error { return nil }); err == nil {
		t.Error("empty name accepted")
	}
	if err := s.Register("a", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("a", func() error { return nil }); err == nil {
		t.Error("duplicate name accepted")
	}
	if err := s.RegisterService("x", struct{}{}); err == nil {
		t.Error("service without methods accepted")
	}
	if err := s.RegisterService("x", arith{}); err == nil {
		t.Error("service without rpc.Export accepted")
	}
	if err := s.RegisterService("x", arith{}, rpc.Export("Nope")); err == nil {
		t.Error("rpc.Export of a missing method accepted")
	}
	if err := s.RegisterService("x", arith{}, rpc.Export("String")); err == nil {
		t.Error("rpc.Export of a method without a handler's signature accepted")
	}
	if err := s.RegisterService("x", arith{}, rpc.WithHelp("h"), rpc.Export("Neg")); err == nil {
		t.Error("a method option outside rpc.Export accepted")
	}
	if err := s.Register("y", func() error { return nil }, rpc.Export("Neg")); err == nil {
		t.Error("rpc.Export given to Register accepted")
	}
	// A recursive type is fine.
	type node struct {
		Next *node `json:"next"`
	}
	if err := s.Register("rec", func(n *node) error { return nil }); err != nil {
		t.Errorf("recursive type: %v", err)
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	ms := s.Methods()
	if !slices.IsSortedFunc(ms, func(a, b rpc.MethodInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Methods not sorted")
	}
	m, ok := s.Method("subtract")
	if !ok || m.Help != "a minus b" || len(m.Params) != 2 || m.Params[0].Name != "minuend" ||
		m.Params[1].Type.Kind().String() != "int64" || m.Result.Kind().String() != "int64" || m.Variadic {
		t.Errorf("subtract = %+v", m)
	}
	if m, _ := s.Method("sum"); !m.Variadic || m.Params[0].Type.String() != "[]float64" {
		t.Errorf("sum = %+v", m)
	}
	if m, _ := s.Method("arith.reset"); m.Result != nil {
		t.Errorf("arith.reset result = %v", m.Result)
	}
	if m, _ := s.Method("arith.add"); m.Help != "a plus b" || len(m.Params) != 2 || m.Params[1].Name != "b" {
		t.Errorf("arith.add = %+v; want the options given with rpc.Export", m)
	}
	for _, name := range []string{"arith.close", "arith.string"} {
		if _, ok := s.Method(name); ok {
			t.Errorf("%s registered without rpc.Export", name)
		}
	}
	if m, _ := s.Method("sleep"); len(m.Params) != 1 {
		t.Errorf("the context is not a wire param: %+v", m.Params)
	}
	if _, ok := s.Method("nope"); ok {
		t.Error("nope found")
	}
}

func TestRegisterWhileServing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			if err := s.Register(fmt.Sprintf("m%d", i), func() error { return nil }); err != nil {
				t.Error(err)
			}
		}
	})
	for range 200 {
		serve(t, s, request(1, "subtract", "[2, 1]"))
	}
	wg.Wait()
	if _, ok := s.Method("m199"); !ok {
		t.Error("m199 missing")
	}
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	res, err := s.Invoke(context.Background(), "arith.neg", int64(5))
	if err != nil || res != int64(-5) {
		t.Errorf("Invoke = %v, %v", res, err)
	}
	// Params in natural values convert to the method's types.
	res, err = s.Invoke(context.Background(), "norm1", map[string]any{"x": float64(3), "y": int64(-4)})
	if err != nil || res != int64(7) {
		t.Errorf("Invoke norm1 = %v, %v", res, err)
	}
	_, err = s.Invoke(context.Background(), "arith.neg", 1.5)
	if !errors.Is(err, rpc.ErrInvalidParams) || strings.Contains(err.Error(), "int64") {
		t.Errorf("Invoke with 1.5 for an integer = %v; want invalid params in the protocol's terms", err)
	}
	_, err = s.Invoke(context.Background(), "nope")
	if !errors.Is(err, rpc.ErrMethodNotFound) {
		t.Errorf("Invoke nope = %v", err)
	}
}

// TestCoreImportsNoNetwork enforces the design rule that transports depend
// on the core, never the reverse.
func TestCoreImportsNoNetwork(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "net", strings.HasPrefix(dep, "net/"):
			t.Errorf("rpc depends on %s", dep)
		case strings.Contains(dep, ".") && !strings.HasPrefix(dep, "github.com/polyrpc/polyrpc/rpc"):
			t.Errorf("rpc depends on a non-standard package %s", dep)
		}
	}
}

func TestLongNamesAreClipped(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	long := strings.Repeat("é", 10000)
	r := serve(t, s, request(1, long, ""))
	if r.Error == nil || len(r.Error.Msg) > 300 || !strings.HasPrefix(r.Error.Msg, "method not found: éé") {
		t.Errorf("reply to a 20 kB method name: %d bytes of message", len(r.Error.Msg))
	}
	r = serve(t, s, request(2, "subtract", `{"`+long+`": 1}`))
	if r.Error == nil || len(r.Error.Msg) > 300 {
		t.Errorf("reply to a 20 kB param name: %+v", r.Error)
	}
}

// TestLoggerSeesRefusedMessages: the server's logger hears of every message
// it refused, and of a result it could not encode, but not of the callers'
// own mistakes (a missing method, an application fault).
func TestLoggerSeesRefusedMessages(t *testing.T) {
	t.Parallel()
	log := &logRecorder{}
	s := newTestServer(t, rpc.WithMaxBatch(2), rpc.WithLogger(log.logger()))
	if err := s.Register("nan", func() (float64, error) { return math.NaN(), nil }); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{
		`{"m":`,                           // parse error
		`{"id":1}`,                        // invalid request
		`[{"m":"a"},{"m":"a"},{"m":"a"}]`, // batch over the limit
		string(request(1, "nan", "")),     // unencodable result
		string(request(2, "nope", "")),    // not logged: the caller's business
		string(request(3, "fail", `[9, "x"]`)),
	} {
		s.ServeMessage(context.Background(), fakeCodec{}, []byte(msg), nil)
	}
	type seen struct {
		level        slog.Level
		method, code string
	}
	var got []seen
	for _, r := range log.records() {
		got = append(got, seen{r.level, r.attrs["method"], r.attrs["code"]})
	}
	want := []seen{
		{slog.LevelWarn, "", "-32700"}, {slog.LevelWarn, "", "-32600"}, {slog.LevelWarn, "", "-32004"},
		{slog.LevelError, "nan", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged %v, want %v", got, want)
	}
}

func TestServerOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]rpc.Option{
		"negative batch":   rpc.WithMaxBatch(-1),
		"negative timeout": rpc.WithCallTimeout(-time.Second),
		"no codec":         rpc.WithCodecs(),
		"nil codec":        rpc.WithCodecs(nil),
		"codec twice":      rpc.WithCodecs(fakeCodec{}, fakeCodec{}),
		"nil interceptor":  rpc.WithInterceptors(nil),
	} {
		if _, err := rpc.NewServer(opt); err == nil {
			t.Errorf("%s: NewServer accepted it", name)
		}
	}
	// Zero means the default: a batch of 1000 calls is served, one more is not.
	s := mustServer(t, rpc.WithCodecs(fakeCodec{}), rpc.WithMaxBatch(0))
	if err := s.Register("n", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	batch := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(string(request(1, "n", ""))+",", n), ",") + "]"
	}
	var rs []replyEnv
	if err := stdjson.Unmarshal(s.ServeMessage(context.Background(), fakeCodec{}, []byte(batch(1000)), nil), &rs); err != nil || len(rs) != 1000 {
		t.Errorf("batch of 1000 with WithMaxBatch(0): %d replies, %v", len(rs), err)
	}
	if r := serve(t, s, []byte(batch(1001))); r.Error == nil || r.Error.Code != int(rpc.CodeLimitExceeded) {
		t.Errorf("batch of 1001 with WithMaxBatch(0): %+v", r)
	}
}

// protoLike has a ProtoReflect method, as generated protobuf messages do,
// and a field with an interface type like a oneof's.
type protoLike struct {
	Kind interface{ isKind() }
}

func (*protoLike) ProtoReflect() {}

func TestProtoMessagesRegister(t *testing.T) {
	t.Parallel()
	s := mustServer(t)
	if err := s.Register("m", func(p *protoLike) (*protoLike, error) { return p, nil }); err != nil {
		t.Errorf("a message type with a oneof-like field: %v", err)
	}
}
