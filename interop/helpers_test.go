package interop_test

import (
	"bytes"
	stdjson "encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"testing"

	_ "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// newDemoServer starts rpcd's demo methods behind the real HTTP handler on a
// loopback port chosen by the OS, mounted at / and /RPC2 as rpcd does.
func newDemoServer(t testing.TB, opts ...rpc.Option) (*rpc.Server, *testServer) {
	t.Helper()
	s := must(rpc.NewServer(opts...))
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	return s, serveHTTP(t, s)
}

// newIntrospectedDemoServer is newDemoServer with the introspection methods
// (system.*, rpc.discover) registered too, as rpcd serves them.
func newIntrospectedDemoServer(t testing.TB, opts ...rpc.Option) (*rpc.Server, *testServer) {
	t.Helper()
	s := must(rpc.NewServer(opts...))
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	if err := introspect.Register(s); err != nil {
		t.Fatal(err)
	}
	return s, serveHTTP(t, s)
}

// testServer is an HTTP server of a test, at URL.
type testServer struct{ URL string }

// serveHTTP serves s behind the real HTTP handler at / and /RPC2, on
// httprpc.Server as rpcd does, so that the peers below meet polyrpc's own
// HTTP stack.
func serveHTTP(t testing.TB, s *rpc.Server) *testServer {
	t.Helper()
	h := must(httprpc.NewHandler(s))
	mux := http.NewServeMux()
	mux.Handle("/{$}", h)
	mux.Handle("/RPC2", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := must(httprpc.NewServer(mux))
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return &testServer{URL: "http://" + ln.Addr().String()}
}

// post sends body with the content type and returns status and body.
func post(t testing.TB, url, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// jsonValue decodes JSON keeping numbers exact, for semantic comparison.
func jsonValue(t testing.TB, b []byte) any {
	t.Helper()
	d := stdjson.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

// sameJSON compares two JSON texts as values; arrays at the top level are
// compared as multisets (a batch's replies may come in any order).
func sameJSON(t testing.TB, got, want []byte) bool {
	t.Helper()
	g, w := jsonValue(t, got), jsonValue(t, want)
	ga, gok := g.([]any)
	wa, wok := w.([]any)
	if gok && wok {
		return reflect.DeepEqual(sortedByText(ga), sortedByText(wa))
	}
	return reflect.DeepEqual(g, w)
}

func sortedByText(vs []any) []any {
	keyed := make([]string, len(vs))
	for i, v := range vs {
		b, _ := stdjson.Marshal(v)
		keyed[i] = string(b)
	}
	idx := make([]int, len(vs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return keyed[idx[a]] < keyed[idx[b]] })
	out := make([]any, len(vs))
	for i, j := range idx {
		out[i] = vs[j]
	}
	return out
}

// maskMessages replaces the message of every error object in got by "*"
// unless want names that exact message, so that tables state the messages
// that matter and let others be free.
func maskMessages(got, want any) any {
	keep := map[string]bool{}
	walkErrors(want, func(e map[string]any) {
		if m, ok := e["message"].(string); ok && m != "*" {
			keep[m] = true
		}
	})
	walkErrors(got, func(e map[string]any) {
		if m, ok := e["message"].(string); ok && !keep[m] {
			e["message"] = "*"
		}
	})
	return got
}

func walkErrors(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			walkErrors(e, f)
		}
	case map[string]any:
		if e, ok := x["error"].(map[string]any); ok {
			f(e)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := stdjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// must returns v, or panics with err: for constructors whose options are
// known to be valid, as template.Must does.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
