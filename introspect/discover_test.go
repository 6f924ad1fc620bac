package introspect_test

import (
	"context"
	stdjson "encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
)

// discover returns the OpenRPC document of s, as a client decodes it.
func discover(t testing.TB, s *rpc.Server) map[string]any {
	t.Helper()
	var doc map[string]any
	mustCall(t, s, "rpc.discover", &doc)
	return doc
}

// methodObject returns the method object named name from doc.
func methodObject(t testing.TB, doc map[string]any, name string) map[string]any {
	t.Helper()
	methods, _ := doc["methods"].([]any)
	for _, m := range methods {
		if m, _ := m.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("method %q not in the document", name)
	return nil
}

func components(doc map[string]any) map[string]any {
	c, _ := doc["components"].(map[string]any)
	s, _ := c["schemas"].(map[string]any)
	return s
}

func TestDiscoverDocument(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *rpc.Server) error {
		return s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil },
			rpc.WithParamNames("a", "b"), rpc.WithHelp("Adds two integers."))
	}, introspect.WithInfo("demo API", "1.2.3"))

	// The result as the handler returns it must be plain JSON.
	raw, err := s.Invoke(context.Background(), "rpc.discover")
	if err != nil {
		t.Fatal(err)
	}
	b, err := stdjson.Marshal(raw)
	if err != nil {
		t.Fatalf("the document does not encode as JSON: %v", err)
	}
	if !stdjson.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}

	doc := discover(t, s)
	if doc["openrpc"] != "1.2.6" {
		t.Errorf("openrpc = %v, want 1.2.6", doc["openrpc"])
	}
	if g, w := jsonOf(t, doc["info"]), canon(t, `{"title":"demo API","version":"1.2.3"}`); g != w {
		t.Errorf("info = %s, want %s", g, w)
	}
	var names []string
	mustCall(t, s, "system.listMethods", &names)
	var documented []string
	for _, m := range doc["methods"].([]any) {
		m := m.(map[string]any)
		documented = append(documented, m["name"].(string))
		for _, key := range []string{"params", "result", "paramStructure"} {
			if _, ok := m[key]; !ok {
				t.Errorf("method %v has no %s", m["name"], key)
			}
		}
	}
	if !slices.Equal(documented, names) {
		t.Errorf("the document has methods %q, want %q", documented, names)
	}

	add := methodObject(t, doc, "demo.add")
	want := `{"name":"demo.add","description":"Adds two integers.","paramStructure":"either",
		"params":[{"name":"a","required":true,"schema":{"type":"integer","format":"int64"}},
		          {"name":"b","required":true,"schema":{"type":"integer","format":"int64"}}],
		"result":{"name":"result","schema":{"type":"integer","format":"int64"}}}`
	if g, w := jsonOf(t, add), canon(t, want); g != w {
		t.Errorf("demo.add =\n%s\nwant\n%s", g, w)
	}
	// The specification gives rpc.discover's result as the OpenRPC meta-schema.
	if g := jsonOf(t, methodObject(t, doc, "rpc.discover")["result"]); !strings.Contains(g, "open-rpc/meta-schema") {
		t.Errorf("rpc.discover result = %s, want a $ref to the OpenRPC meta-schema", g)
	}

	def := discover(t, newServer(t, nil))
	if g, w := jsonOf(t, def["info"]), canon(t, `{"title":"polyrpc","version":"0.0.0"}`); g != w {
		t.Errorf("default info = %s, want %s", g, w)
	}
}

func TestDiscoverSchemas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[bool](), `{"type":"boolean"}`},
		{reflect.TypeFor[string](), `{"type":"string"}`},
		{reflect.TypeFor[color](), `{"type":"string"}`},
		{reflect.TypeFor[int8](), `{"type":"integer","format":"int32","minimum":-128,"maximum":127}`},
		{reflect.TypeFor[int16](), `{"type":"integer","format":"int32","minimum":-32768,"maximum":32767}`},
		{reflect.TypeFor[uint8](), `{"type":"integer","format":"int32","minimum":0,"maximum":255}`},
		{reflect.TypeFor[uint16](), `{"type":"integer","format":"int32","minimum":0,"maximum":65535}`},
		{reflect.TypeFor[int32](), `{"type":"integer","format":"int32"}`},
		{reflect.TypeFor[uint32](), `{"type":"integer","format":"int64","minimum":0,"maximum":4294967295}`},
		{reflect.TypeFor[int](), `{"type":"integer","format":"int64"}`},
		{reflect.TypeFor[int64](), `{"type":"integer","format":"int64"}`},
		{reflect.TypeFor[uint](), `{"type":"integer","minimum":0}`},
		{reflect.TypeFor[uint64](), `{"type":"integer","minimum":0}`},
		{reflect.TypeFor[float32](), `{"type":"number","format":"float"}`},
		{reflect.TypeFor[float64](), `{"type":"number","format":"double"}`},
		{reflect.TypeFor[time.Time](), `{"type":"string","format":"date-time"}`},
		{reflect.TypeFor[[]byte](), `{"type":"string","contentEncoding":"base64"}`},
		{reflect.TypeFor[[]int](), `{"type":"array","items":{"type":"integer","format":"int64"}}`},
		{reflect.TypeFor[[2]bool](), `{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":2}`},
		{reflect.TypeFor[map[string]float64](), `{"type":"object","additionalProperties":{"type":"number","format":"double"}}`},
		{reflect.TypeFor[any](), `{}`},
		{reflect.TypeFor[[]any](), `{"type":"array","items":{}}`},
		{reflect.TypeFor[*int](), `{"type":["integer","null"],"format":"int64"}`},
		{reflect.TypeFor[**bool](), `{"type":["boolean","null"]}`},
		{reflect.TypeFor[*time.Time](), `{"type":["string","null"],"format":"date-time"}`},
		{reflect.TypeFor[*any](), `{}`},
		{reflect.TypeFor[point](), `{"$ref":"#/components/schemas/point"}`},
		{reflect.TypeFor[*point](), `{"oneOf":[{"$ref":"#/components/schemas/point"},{"type":"null"}]}`},
		{reflect.TypeFor[[]point](), `{"type":"array","items":{"$ref":"#/components/schemas/point"}}`},
		{reflect.TypeFor[struct {
			A int `json:"a"`
			B *string
			c bool
			D int `json:"-"`
		}](), `{"type":"object","properties":{"a":{"type":"integer","format":"int64"},"B":{"type":["string","null"]}}}`},
	}
	s := newServer(t, func(s *rpc.Server) error {
		for i, tt := range tests {
			if err := s.Register("schema."+strconv.Itoa(i), funcOf(tt.typ)); err != nil {
				return err
			}
		}
		return nil
	})
	doc := discover(t, s)
	for i, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			t.Parallel()
			result := methodObject(t, doc, "schema."+strconv.Itoa(i))["result"].(map[string]any)
			if g, w := jsonOf(t, result["schema"]), canon(t, tt.want); g != w {
				t.Errorf("schema of %v = %s, want %s", tt.typ, g, w)
			}
		})
	}
	wantPoint := `{"type":"object","properties":{"x":{"type":"integer","format":"int64"},"y":{"type":"integer","format":"int64"}}}`
	if g, w := jsonOf(t, components(doc)["point"]), canon(t, wantPoint); g != w {
		t.Errorf("components.schemas.point = %s, want %s", g, w)
	}
}

// withoutNames returns a copy of a method object without its name and the
// descriptions of its params, so that a test can compare the rest.
func withoutNames(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	var c map[string]any
	if err := stdjson.Unmarshal([]byte(jsonOf(t, m)), &c); err != nil {
		t.Fatal(err)
	}
	delete(c, "name")
	for _, p := range c["params"].([]any) {
		delete(p.(map[string]any), "description")
	}
	return c
}

func TestDiscoverParams(t *testing.T) {
	t.Parallel()
	int64Schema := `{"type":"integer","format":"int64"}`
	tests := []struct {
		name string
		fn   any
		opts []rpc.MethodOption
		want string // params, paramStructure and result
	}{
		{"names", func(int64, string) (bool, error) { return false, nil }, []rpc.MethodOption{rpc.WithParamNames("count", "label")},
			`{"paramStructure":"either","params":[{"name":"count","required":true,"schema":` + int64Schema + `},
			{"name":"label","required":true,"schema":{"type":"string"}}],"result":{"name":"result","schema":{"type":"boolean"}}}`},
		{"positional", func(int64, string) error { return nil }, nil,
			`{"paramStructure":"by-position","params":[{"name":"param1","required":true,"schema":` + int64Schema + `},
			{"name":"param2","required":true,"schema":{"type":"string"}}],"result":{"name":"result","schema":{"type":"null"}}}`},
		{"none", func() (string, error) { return "", nil }, nil,
			`{"paramStructure":"either","params":[],"result":{"name":"result","schema":{"type":"string"}}}`},
		{"context", func(context.Context, int32) error { return nil }, nil,
			`{"paramStructure":"by-position","params":[{"name":"param1","required":true,"schema":{"type":"integer","format":"int32"}}],
			"result":{"name":"result","schema":{"type":"null"}}}`},
		{"struct", func(point) (int64, error) { return 0, nil }, nil,
			`{"paramStructure":"by-name","params":[{"name":"x","required":false,"schema":` + int64Schema + `},
			{"name":"y","required":false,"schema":` + int64Schema + `}],"result":{"name":"result","schema":` + int64Schema + `}}`},
		{"struct pointer", func(*point) (int64, error) { return 0, nil }, nil,
			`{"paramStructure":"by-name","params":[{"name":"x","required":false,"schema":` + int64Schema + `},
			{"name":"y","required":false,"schema":` + int64Schema + `}],"result":{"name":"result","schema":` + int64Schema + `}}`},
		{"struct named", func(point) (int64, error) { return 0, nil }, []rpc.MethodOption{rpc.WithParamNames("p")},
			`{"paramStructure":"either","params":[{"name":"p","required":true,"schema":{"$ref":"#/components/schemas/point"}}],
			"result":{"name":"result","schema":` + int64Schema + `}}`},
		{"time", func(time.Time) error { return nil }, nil,
			`{"paramStructure":"by-position","params":[{"name":"param1","required":true,"schema":{"type":"string","format":"date-time"}}],
			"result":{"name":"result","schema":{"type":"null"}}}`},
		{"variadic", func(string, ...string) (string, error) { return "", nil }, nil,
			`{"paramStructure":"by-position","params":[{"name":"param1","required":true,"schema":{"type":"string"}},
			{"name":"param2","required":false,"schema":{"type":"string"}}],"result":{"name":"result","schema":{"type":"string"}}}`},
		{"variadic named", func(string, ...string) (string, error) { return "", nil }, []rpc.MethodOption{rpc.WithParamNames("sep", "parts")},
			`{"paramStructure":"by-position","params":[{"name":"sep","required":true,"schema":{"type":"string"}},
			{"name":"parts","required":false,"schema":{"type":"string"}}],"result":{"name":"result","schema":{"type":"string"}}}`},
	}
	s := newServer(t, func(s *rpc.Server) error {
		for _, tt := range tests {
			if err := s.Register(tt.name, tt.fn, tt.opts...); err != nil {
				return err
			}
		}
		return nil
	})
	doc := discover(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := withoutNames(t, methodObject(t, doc, tt.name))
			if g, w := jsonOf(t, m), canon(t, tt.want); g != w {
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
	// The variadic param says that it repeats.
	params := methodObject(t, doc, "variadic")["params"].([]any)
	if d, _ := params[1].(map[string]any)["description"].(string); !strings.Contains(strings.ToLower(d), "variadic") {
		t.Errorf("the variadic param's description is %q", d)
	}
}

type node struct {
	Name     string `json:"name"`
	Children []node `json:"children"`
	Next     *node  `json:"next"`
}

type tree map[string]tree

type ping struct{ Pong *pong }
type pong struct{ Pings []ping }

type pair[K comparable, V any] struct {
	Key   K
	Value V
}

// refs collects the $ref values anywhere in v.
func refs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				*out = append(*out, s)
			}
			refs(e, out)
		}
	case []any:
		for _, e := range v {
			refs(e, out)
		}
	}
}

func TestDiscoverRecursiveTypes(t *testing.T) {
	t.Parallel()
	type point struct{ Z string } // shadows the package's point: same name, other type
	s := newServer(t, func(s *rpc.Server) error {
		for name, fn := range map[string]any{
			"rec.node":  func(node) (node, error) { return node{}, nil },
			"rec.tree":  func(tree) (tree, error) { return nil, nil },
			"rec.ping":  func() (ping, error) { return ping{}, nil },
			"dup.inner": func() (point, error) { return point{}, nil },
			"dup.outer": outerPoint,
			"dup.third": thirdPoint(),
			"generic":   func() (pair[string, int], error) { return pair[string, int]{}, nil },
		} {
			if err := s.Register(name, fn); err != nil {
				return err
			}
		}
		return nil
	})
	doc := discover(t, s)
	schemas := components(doc)

	nodeRef := `{"$ref":"#/components/schemas/node"}`
	wantNode := `{"type":"object","properties":{"name":{"type":"string"},
		"children":{"type":"array","items":` + nodeRef + `},
		"next":{"oneOf":[` + nodeRef + `,{"type":"null"}]}}}`
	if g, w := jsonOf(t, schemas["node"]), canon(t, wantNode); g != w {
		t.Errorf("components.schemas.node = %s, want %s", g, w)
	}
	wantTree := `{"type":"object","additionalProperties":{"$ref":"#/components/schemas/tree"}}`
	if g, w := jsonOf(t, schemas["tree"]), canon(t, wantTree); g != w {
		t.Errorf("components.schemas.tree = %s, want %s", g, w)
	}
	if schemas["ping"] == nil || schemas["pong"] == nil {
		t.Errorf("mutually recursive ping and pong: components %v", slices.Sorted(func(yield func(string) bool) {
			for k := range schemas {
				if !yield(k) {
					return
				}
			}
		}))
	}

	// Types of one name get keys of their own, in the order of the methods.
	for method, want := range map[string]string{
		"dup.inner": `{"$ref":"#/components/schemas/point"}`,
		"dup.outer": `{"oneOf":[{"$ref":"#/components/schemas/introspect_test.point"},{"type":"null"}]}`,
		"dup.third": `{"$ref":"#/components/schemas/introspect_test.point_2"}`,
	} {
		result := methodObject(t, doc, method)["result"].(map[string]any)
		if g, w := jsonOf(t, result["schema"]), canon(t, want); g != w {
			t.Errorf("%s result = %s, want %s", method, g, w)
		}
	}
	if g, w := jsonOf(t, schemas["introspect_test.point_2"]), canon(t, `{"type":"object","properties":{"W":{"type":"boolean"}}}`); g != w {
		t.Errorf("the third point = %s, want %s", g, w)
	}

	// Every key is one OpenRPC allows, and every $ref resolves.
	key := regexp.MustCompile(`^[a-zA-Z0-9.\-_]+$`)
	for k := range schemas {
		if !key.MatchString(k) {
			t.Errorf("component key %q has characters OpenRPC does not allow", k)
		}
	}
	var all []string
	refs(doc, &all)
	for _, r := range all {
		if strings.HasPrefix(r, "http") {
			continue
		}
		k, ok := strings.CutPrefix(r, "#/components/schemas/")
		if _, found := schemas[k]; !ok || !found {
			t.Errorf("$ref %q does not resolve", r)
		}
	}
}

// outerPoint returns the package's point, which the local point of
// TestDiscoverRecursiveTypes shadows there.
func outerPoint() (*point, error) { return nil, nil }

// thirdPoint returns a handler whose result is a third type named point.
func thirdPoint() any {
	type point struct{ W bool }
	return func() (point, error) { return point{}, nil }
}

// A method registered with rpc.Idempotent carries "x-idempotent": true in
// rpc.discover, whether registered alone or exported by a service; one
// without it has no such field; system.methodSignature and system.methodHelp
// are the same for both.
func TestDiscoverIdempotent(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(s *rpc.Server) error {
		if err := s.Register("kv.get", func(k string) (string, error) { return k, nil },
			rpc.Idempotent(), rpc.WithHelp("Reads a key.")); err != nil {
			return err
		}
		if err := s.Register("kv.incr", func(k string) (string, error) { return k, nil },
			rpc.WithHelp("Reads a key.")); err != nil {
			return err
		}
		return s.RegisterService("svc", &idemService{}, rpc.Export("Get", rpc.Idempotent()), rpc.Export("Put"))
	})
	for name, want := range map[string]bool{"kv.get": true, "kv.incr": false, "svc.get": true, "svc.put": false, "rpc.discover": true, "system.multicall": false} {
		if info, ok := s.Method(name); !ok || info.Idempotent != want {
			t.Errorf("MethodInfo(%s).Idempotent = %v (found %v), want %v", name, info.Idempotent, ok, want)
		}
	}
	doc := discover(t, s)
	for name, want := range map[string]bool{"kv.get": true, "kv.incr": false, "svc.get": true, "svc.put": false, "system.listMethods": true, "system.multicall": false} {
		v, ok := methodObject(t, doc, name)["x-idempotent"]
		switch {
		case want && v != true:
			t.Errorf("%s: x-idempotent = %v, want true", name, v)
		case !want && ok:
			t.Errorf("%s: x-idempotent = %v, want no such field", name, v)
		}
	}
	// The rest of the method object is what it would be without the option.
	get, incr := methodObject(t, doc, "kv.get"), methodObject(t, doc, "kv.incr")
	delete(get, "x-idempotent")
	get["name"] = "kv.incr"
	if g, w := jsonOf(t, get), jsonOf(t, incr); g != w {
		t.Errorf("kv.get without x-idempotent = %s, want %s", g, w)
	}
	var sigGet, sigIncr any
	mustCall(t, s, "system.methodSignature", &sigGet, "kv.get")
	mustCall(t, s, "system.methodSignature", &sigIncr, "kv.incr")
	if g, w := jsonOf(t, sigGet), jsonOf(t, sigIncr); g != w {
		t.Errorf("system.methodSignature(kv.get) = %s, want %s as for kv.incr", g, w)
	}
	var helpGet string
	mustCall(t, s, "system.methodHelp", &helpGet, "kv.get")
	if helpGet != "Reads a key." {
		t.Errorf("system.methodHelp(kv.get) = %q", helpGet)
	}

	// Given to RegisterService itself rather than inside an Export, it is
	// refused, as the other method options are.
	bad, err := rpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.RegisterService("svc", &idemService{}, rpc.Idempotent(), rpc.Export("Get")); err == nil {
		t.Error("RegisterService with Idempotent outside Export succeeded")
	}
}

type idemService struct{}

func (*idemService) Get(k string) (string, error) { return k, nil }
func (*idemService) Put(k string) error           { return nil }
