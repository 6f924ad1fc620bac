package introspect_test

import (
	"context"
	stdjson "encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
)

type point struct {
	X int64 `json:"x"`
	Y int64 `json:"y"`
}

type color string

var errorType = reflect.TypeFor[error]()

// funcOf makes a handler with the given param types that returns the zero
// value of result (nothing but an error when result is nil), so that tables
// can register a method per Go type.
func funcOf(result reflect.Type, params ...reflect.Type) any {
	outs := []reflect.Type{errorType}
	if result != nil {
		outs = []reflect.Type{result, errorType}
	}
	ft := reflect.FuncOf(params, outs, false)
	return reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
		res := make([]reflect.Value, len(outs))
		for i, t := range outs {
			res[i] = reflect.Zero(t)
		}
		return res
	}).Interface()
}

// jsonOf returns v in JSON with sorted keys, a canonical form to compare.
func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := stdjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// canon returns the JSON text s in the canonical form of jsonOf.
func canon(t testing.TB, s string) string {
	t.Helper()
	var v any
	if err := stdjson.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in test: %s: %v", s, err)
	}
	return jsonOf(t, v)
}

var introspectionMethods = []string{
	"rpc.discover",
	"system.getCapabilities",
	"system.listMethods",
	"system.methodHelp",
	"system.methodSignature",
	"system.multicall",
}

func TestListMethods(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *rpc.Server) error {
		for _, name := range []string{"zeta.last", "alpha.first", "mid"} {
			if err := s.Register(name, func() error { return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Sorted(slices.Values(append([]string{"zeta.last", "alpha.first", "mid"}, introspectionMethods...)))
	var got []string
	mustCall(t, s, "system.listMethods", &got)
	if !slices.Equal(got, want) {
		t.Errorf("system.listMethods = %q, want %q", got, want)
	}

	// Methods registered after the service show up too.
	if err := s.Register("late", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	mustCall(t, s, "system.listMethods", &got)
	if !slices.Contains(got, "late") || !slices.IsSorted(got) {
		t.Errorf("after a late registration, system.listMethods = %q", got)
	}
}

func TestMethodSignatureTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[int8](), "int"},
		{reflect.TypeFor[int16](), "int"},
		{reflect.TypeFor[int32](), "int"},
		{reflect.TypeFor[uint8](), "int"},
		{reflect.TypeFor[uint16](), "int"},
		{reflect.TypeFor[int](), "i8"},
		{reflect.TypeFor[int64](), "i8"},
		{reflect.TypeFor[uint32](), "i8"},
		{reflect.TypeFor[uint](), "i8"},
		{reflect.TypeFor[uint64](), "i8"},
		{reflect.TypeFor[bool](), "boolean"},
		{reflect.TypeFor[string](), "string"},
		{reflect.TypeFor[color](), "string"},
		{reflect.TypeFor[float32](), "double"},
		{reflect.TypeFor[float64](), "double"},
		{reflect.TypeFor[time.Time](), "dateTime.iso8601"},
		{reflect.TypeFor[*time.Time](), "dateTime.iso8601"},
		{reflect.TypeFor[[]byte](), "base64"},
		{reflect.TypeFor[stdjson.RawMessage](), "base64"},
		{reflect.TypeFor[[4]byte](), "array"},
		{reflect.TypeFor[[]int](), "array"},
		{reflect.TypeFor[[3]string](), "array"},
		{reflect.TypeFor[[]any](), "array"},
		{reflect.TypeFor[[]*point](), "array"},
		{reflect.TypeFor[map[string]int](), "struct"},
		{reflect.TypeFor[map[string]any](), "struct"},
		{reflect.TypeFor[point](), "struct"},
		{reflect.TypeFor[*point](), "struct"},
		{reflect.TypeFor[struct{ A int }](), "struct"},
		{reflect.TypeFor[*int](), "i8"},
		{reflect.TypeFor[**bool](), "boolean"},
		{reflect.TypeFor[any](), "undefined"},
	}
	s := newServer(t, func(s *rpc.Server) error {
		for i, tt := range tests {
			if err := s.Register("sig."+strconv.Itoa(i), funcOf(tt.typ, tt.typ)); err != nil {
				return err
			}
		}
		return nil
	})
	for i, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			t.Parallel()
			var got any
			mustCall(t, s, "system.methodSignature", &got, "sig."+strconv.Itoa(i))
			if g, w := jsonOf(t, got), jsonOf(t, [][]string{{tt.want, tt.want}}); g != w {
				t.Errorf("signature of func(%v) (%v, error) = %s, want %s", tt.typ, tt.typ, g, w)
			}
		})
	}
}

func TestMethodSignatureShapes(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *rpc.Server) error {
		for name, fn := range map[string]any{
			"noParams":  func() (string, error) { return "", nil },
			"errOnly":   func(string) error { return nil },
			"nothing":   func() error { return nil },
			"withCtx":   func(context.Context, int32, bool) (float64, error) { return 0, nil },
			"variadic":  func(...int) (int, error) { return 0, nil },
			"variadic2": func(string, ...string) error { return nil },
			"anyParams": func(any, any) (any, error) { return nil, nil },
		} {
			if err := s.Register(name, fn); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		method string
		want   any
	}{
		{"noParams", [][]string{{"string"}}},
		{"errOnly", [][]string{{"nil", "string"}}},
		{"nothing", [][]string{{"nil"}}},
		{"withCtx", [][]string{{"double", "int", "boolean"}}}, // the context is no param
		{"variadic", "undef"},
		{"variadic2", "undef"},
		{"anyParams", [][]string{{"undefined", "undefined", "undefined"}}},
		{"system.listMethods", [][]string{{"array"}}},
		{"system.methodSignature", [][]string{{"undefined", "string"}}}, // an array or "undef"
		{"system.methodHelp", [][]string{{"string", "string"}}},
		{"system.multicall", [][]string{{"array", "array"}}},
		{"system.getCapabilities", [][]string{{"struct"}}},
		{"rpc.discover", [][]string{{"struct"}}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			var got any
			mustCall(t, s, "system.methodSignature", &got, tt.method)
			if g, w := jsonOf(t, got), jsonOf(t, tt.want); g != w {
				t.Errorf("system.methodSignature(%q) = %s, want %s", tt.method, g, w)
			}
		})
	}
}

func TestMethodHelp(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *rpc.Server) error {
		if err := s.Register("documented", func() error { return nil }, rpc.WithHelp("Does nothing, well.")); err != nil {
			return err
		}
		return s.Register("undocumented", func() error { return nil })
	})
	tests := []struct{ method, want string }{
		{"documented", "Does nothing, well."},
		{"undocumented", ""},
	}
	for _, tt := range tests {
		var got string
		mustCall(t, s, "system.methodHelp", &got, tt.method)
		if got != tt.want {
			t.Errorf("system.methodHelp(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
	// The service describes itself.
	for _, m := range introspectionMethods {
		var got string
		mustCall(t, s, "system.methodHelp", &got, m)
		if got == "" {
			t.Errorf("system.methodHelp(%q) is empty", m)
		}
	}
}

func TestUnknownMethodName(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, m := range []string{"system.methodSignature", "system.methodHelp"} {
		var got any
		err := call(t, s, m, &got, "no.such.method")
		if err == nil {
			t.Errorf("%s(no.such.method) = %v, want an error", m, got)
			continue
		}
		if code := errorCode(t, err); code != rpc.CodeInvalidParams {
			t.Errorf("%s(no.such.method): code %d, want %d", m, code, rpc.CodeInvalidParams)
		}
		if !strings.Contains(err.Error(), "no.such.method") {
			t.Errorf("%s(no.such.method): error %q does not name the method", m, err)
		}
	}
}

func TestNamedParams(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *rpc.Server) error {
		return s.Register("documented", func() error { return nil }, rpc.WithHelp("Help."))
	})
	c, err := rpc.NewClient(rpc.InProcess(s), fakeCodec{})
	if err != nil {
		t.Fatal(err)
	}
	var help string
	if err := c.CallNamed(context.Background(), "system.methodHelp", &help, map[string]any{"name": "documented"}); err != nil {
		t.Fatal(err)
	}
	if help != "Help." {
		t.Errorf("system.methodHelp by name = %q, want %q", help, "Help.")
	}
}

func TestGetCapabilities(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	type capability struct {
		SpecURL     string `json:"specUrl"`
		SpecVersion int64  `json:"specVersion"`
	}
	var raw map[string]any
	mustCall(t, s, "system.getCapabilities", &raw)
	for name, v := range raw {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 2 {
			t.Errorf("capability %q = %v, want a struct of exactly specUrl and specVersion", name, v)
			continue
		}
		if _, ok := m["specUrl"].(string); !ok {
			t.Errorf("capability %q: specUrl = %#v, want a string", name, m["specUrl"])
		}
		if _, ok := m["specVersion"].(int64); !ok {
			t.Errorf("capability %q: specVersion = %#v, want an int", name, m["specVersion"])
		}
	}
	var got map[string]capability
	mustCall(t, s, "system.getCapabilities", &got)
	want := map[string]capability{
		"faults_interop": {"http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php", 20010516},
		"introspection":  {"http://xmlrpc-c.sourceforge.net/introspection.html", 1},
		"multicall":      {"http://www.xmlrpc.com/discuss/msgReader$1208", 1},
		"nil":            {"http://ontosys.com/xml-rpc/extensions.php", 20010516},
		"i8":             {"http://ws.apache.org/xmlrpc/types.html", 1},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("capability %q = %+v (present: %v), want %+v", name, g, ok, w)
		}
	}
}

func TestRegisterRefusesTakenNames(t *testing.T) {
	t.Parallel()
	s, err := rpc.NewServer(rpc.WithCodecs(fakeCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("rpc.discover", func() (string, error) { return "mine", nil }); err != nil {
		t.Fatal(err)
	}
	if err := introspect.Register(s); err == nil {
		t.Fatal("Register over a taken name succeeded")
	}
	// Nothing was registered: no half service.
	if _, ok := s.Method("system.listMethods"); ok {
		t.Error("a failed Register left system.listMethods behind")
	}

	s2 := newServer(t, nil)
	if err := introspect.Register(s2); err == nil {
		t.Error("a second Register on the same server succeeded")
	}
	if err := introspect.Register(nil); err == nil {
		t.Error("Register(nil) succeeded")
	}
}

func TestSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	errs := make(chan error, 8)
	for i := range cap(errs) {
		go func() {
			var err error
			switch i % 4 {
			case 0:
				err = s.Register("late."+strconv.Itoa(i), func() error { return nil })
			case 1:
				var doc map[string]any
				err = call(t, s, "rpc.discover", &doc)
			case 2:
				var names []string
				err = call(t, s, "system.listMethods", &names)
			case 3:
				var res []any
				err = call(t, s, "system.multicall", &res, []any{map[string]any{"methodName": "system.listMethods"}})
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
