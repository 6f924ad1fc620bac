package json_test

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Point is a single struct param that takes a params object.
type Point struct {
	X     int64  `json:"x"`
	Y     int64  `json:"y"`
	Label string `json:"label"`
}

// notes records the notifications a test server received.
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) add(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, s)
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.got...)
}

// newServer returns a server with the JSON codec only and the methods the
// tests call, among them those of the JSON-RPC 2.0 specification's examples.
func newServer(t testing.TB) (*rpc.Server, *json.Codec, *notes) {
	t.Helper()
	c := json.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	n := &notes{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("subtract", func(a, b int64) (int64, error) { return a - b, nil },
		rpc.WithParamNames("minuend", "subtrahend")))
	must(s.Register("sum", func(xs ...int64) (int64, error) {
		var t int64
		for _, x := range xs {
			t += x
		}
		return t, nil
	}))
	must(s.Register("echo", func(v any) (any, error) { return v, nil }))
	must(s.Register("list", func(xs ...any) ([]any, error) { return xs, nil }))
	must(s.Register("greet", func(name string) (string, error) { return "hello, " + name, nil }))
	must(s.Register("point", func(p Point) (string, error) {
		return p.Label + ":" + stdjsonString(p.X) + "," + stdjsonString(p.Y), nil
	}))
	must(s.Register("update", func(ctx context.Context, a, b, c, d, e int64) error {
		n.add("update")
		return nil
	}))
	must(s.Register("ping", func() error { n.add("ping"); return nil }))
	must(s.Register("notify_hello", func(x int64) error { n.add("notify_hello"); return nil }))
	must(s.Register("notify_sum", func(xs ...int64) error { n.add("notify_sum"); return nil }))
	must(s.Register("get_data", func() ([]any, error) { return []any{"hello", 5}, nil }))
	must(s.Register("fail", func() error {
		return &rpc.Error{Code: 42, Message: "boom", Data: map[string]any{"big": int64(math.MaxInt64), "why": "because"}}
	}))
	must(s.Register("plainfail", func() error { return errors.New("plain failure") }))
	must(s.Register("nan", func() (float64, error) { return math.NaN(), nil }))
	must(s.Register("chan", func() (any, error) { return make(chan int), nil }))
	must(s.Register("html", func() (string, error) { return "<a href=\"x\">&</a>", nil }))
	return s, c, n
}

func stdjsonString(v any) string {
	b, _ := stdjson.Marshal(v)
	return string(b)
}

func serve(s *rpc.Server, c rpc.Codec, msg string) string {
	return string(s.ServeMessage(context.Background(), c, []byte(msg), nil))
}

// wireReply is a reply as a test reads it back: ids and results stay raw so
// that tests see them byte for byte.
type wireReply struct {
	JSONRPC *string            `json:"jsonrpc"`
	Result  stdjson.RawMessage `json:"result"`
	Error   *struct {
		Code    int                `json:"code"`
		Message string             `json:"message"`
		Data    stdjson.RawMessage `json:"data"`
	} `json:"error"`
	ID stdjson.RawMessage `json:"id"`
}

func parseReply(t *testing.T, reply string) wireReply {
	t.Helper()
	var r wireReply
	if err := stdjson.Unmarshal([]byte(reply), &r); err != nil {
		t.Fatalf("reply %s: %v", reply, err)
	}
	return r
}

func TestServeExact(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	tests := []struct {
		name, req, want string
	}{
		{"positional", `{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
			`{"jsonrpc":"2.0","result":19,"id":1}`},
		{"positional reversed", `{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}`,
			`{"jsonrpc":"2.0","result":-19,"id":2}`},
		{"named", `{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
			`{"jsonrpc":"2.0","result":19,"id":3}`},
		{"named escaped key", `{"jsonrpc":"2.0","method":"subtract","params":{"subtr\u0061hend":23,"minuend":42},"id":3}`,
			`{"jsonrpc":"2.0","result":19,"id":3}`},
		{"named repeated key, last wins", `{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1,"subtrahend":1,"minuend":42},"id":3}`,
			`{"jsonrpc":"2.0","result":41,"id":3}`},
		{"variadic", `{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"}`,
			`{"jsonrpc":"2.0","result":7,"id":"1"}`},
		{"variadic none", `{"jsonrpc":"2.0","method":"sum","params":[],"id":1}`,
			`{"jsonrpc":"2.0","result":0,"id":1}`},
		{"variadic many", `{"jsonrpc":"2.0","method":"sum","params":[1,2,3,4,5,6,7,8,9,10,11,12],"id":1}`,
			`{"jsonrpc":"2.0","result":78,"id":1}`},
		{"variadic no params member", `{"jsonrpc":"2.0","method":"sum","id":1}`,
			`{"jsonrpc":"2.0","result":0,"id":1}`},
		{"struct param from object", `{"jsonrpc":"2.0","method":"point","params":{"x":1,"label":"p","y":-2},"id":1}`,
			`{"jsonrpc":"2.0","result":"p:1,-2","id":1}`},
		{"struct param positional", `{"jsonrpc":"2.0","method":"point","params":[{"x":1,"y":2,"label":"q"}],"id":1}`,
			`{"jsonrpc":"2.0","result":"q:1,2","id":1}`},
		{"string escapes", `{"jsonrpc":"2.0","method":"greet","params":["w\u00f6rld \ud83d\ude00 \"q\""],"id":1}`,
			`{"jsonrpc":"2.0","result":"hello, wörld 😀 \"q\"","id":1}`},
		{"no html escaping", `{"jsonrpc":"2.0","method":"html","id":1}`,
			`{"jsonrpc":"2.0","result":"<a href=\"x\">&</a>","id":1}`},
		{"whitespace around", " \r\n\t{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[1],\"id\":1} \n",
			`{"jsonrpc":"2.0","result":1,"id":1}`},
		{"member order", `{"id":9,"params":[5],"method":"sum","jsonrpc":"2.0"}`,
			`{"jsonrpc":"2.0","result":5,"id":9}`},
		{"unknown members ignored", `{"jsonrpc":"2.0","method":"sum","params":[5],"id":9,"extra":{"a":[1,2]}}`,
			`{"jsonrpc":"2.0","result":5,"id":9}`},
		{"escaped member names", `{"json\u0072pc":"2.0","m\u0065thod":"sum","params":[5],"\u0069d":9}`,
			`{"jsonrpc":"2.0","result":5,"id":9}`},
		{"result array", `{"jsonrpc":"2.0","method":"get_data","id":"9"}`,
			`{"jsonrpc":"2.0","result":["hello",5],"id":"9"}`},
		{"error with data", `{"jsonrpc":"2.0","method":"fail","id":1}`,
			`{"jsonrpc":"2.0","error":{"code":42,"message":"boom","data":{"big":9223372036854775807,"why":"because"}},"id":1}`},
		{"plain error", `{"jsonrpc":"2.0","method":"plainfail","id":1}`,
			`{"jsonrpc":"2.0","error":{"code":-32500,"message":"plain failure"},"id":1}`},
		{"null id answered", `{"jsonrpc":"2.0","method":"sum","params":[2],"id":null}`,
			`{"jsonrpc":"2.0","result":2,"id":null}`},

		// JSON-RPC 1.0: no jsonrpc member.
		{"1.0 request", `{"method":"sum","params":[1,2],"id":7}`,
			`{"result":3,"error":null,"id":7}`},
		{"1.0 error", `{"method":"nope","params":[],"id":"x"}`,
			`{"result":null,"error":{"code":-32601,"message":"method not found: nope"},"id":"x"}`},
		{"1.0 null params", `{"method":"sum","params":null,"id":7}`,
			`{"result":0,"error":null,"id":7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := serve(s, c, tt.req); got != tt.want {
				t.Errorf("reply\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestServeIDsVerbatim(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	ids := []string{
		`1`, `0`, `-1`, `1.0e3`, `1E+2`, `-0.0`, `12345678901234567890123`,
		`9007199254740993`, `-9223372036854775808`, `18446744073709551615`,
		`"abc"`, `""`, `"\u00e9\n\"x\""`, `"1"`, `null`,
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			want := `{"jsonrpc":"2.0","result":3,"id":` + id + `}`
			if got := serve(s, c, `{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":`+id+`}`); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			// The id is echoed in error replies too.
			r := parseReply(t, serve(s, c, `{"jsonrpc":"2.0","method":"nope","id":`+id+`}`))
			if string(r.ID) != id || r.Error == nil || r.Error.Code != int(rpc.CodeMethodNotFound) {
				t.Errorf("error reply id %s, error %+v; want id %s", r.ID, r.Error, id)
			}
		})
	}
}

func TestServeExactIntegers(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	// Through a param of type any and back: none of these survive float64.
	values := []string{
		`9007199254740993`,     // 2^53+1
		`-9007199254740993`,    // -(2^53+1)
		`9223372036854775807`,  // max int64
		`-9223372036854775808`, // min int64
		`18446744073709551615`, // max uint64
		`[9223372036854775807,{"n":-9223372036854775808}]`,
		`1.5`,
		`1e+300`,
		`-1.25e-7`,
		`{"a":[1,{"b":9007199254740993}]}`,
	}
	for _, v := range values {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			want := `{"jsonrpc":"2.0","result":` + v + `,"id":1}`
			if got := serve(s, c, `{"jsonrpc":"2.0","method":"echo","params":[`+v+`],"id":1}`); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	// Whole numbers spelled as floats come back as integers; the value, not
	// the spelling, decides.
	for in, out := range map[string]string{`1.0`: `1`, `1e3`: `1000`, `-2.50e1`: `-25`, `12345678901234567890e-1`: `1234567890123456789`, `0e99`: `0`} {
		want := `{"jsonrpc":"2.0","result":` + out + `,"id":1}`
		if got := serve(s, c, `{"jsonrpc":"2.0","method":"echo","params":[`+in+`],"id":1}`); got != want {
			t.Errorf("echo %s: got %s, want %s", in, got, want)
		}
	}
}

func TestServeNotifications(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, req string
		ran       string
	}{
		{"2.0 without id", `{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`, "update"},
		{"2.0 without params", `{"jsonrpc": "2.0", "method": "ping"}`, "ping"},
		{"spec unknown method", `{"jsonrpc": "2.0", "method": "foobar"}`, ""},
		{"1.0 null id", `{"method": "ping", "params": [], "id": null}`, "ping"},
		{"failing notification stays silent", `{"jsonrpc": "2.0", "method": "notify_hello", "params": ["x"]}`, ""},
		{"unknown method stays silent", `{"jsonrpc": "2.0", "method": "nope"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c, n := newServer(t)
			if got := serve(s, c, tt.req); got != "" {
				t.Errorf("notification answered: %s", got)
			}
			got := strings.Join(n.list(), ",")
			if got != tt.ran {
				t.Errorf("ran %q, want %q", got, tt.ran)
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	tests := []struct {
		name, req string
		code      rpc.Code
		id        string // the raw id of the reply
	}{
		// Parse errors: id null, whatever could be read.
		{"spec parse error", `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`, rpc.CodeParseError, "null"},
		{"empty", ``, rpc.CodeParseError, "null"},
		{"spaces", "  \n ", rpc.CodeParseError, "null"},
		{"garbage", `hello`, rpc.CodeParseError, "null"},
		{"trailing garbage", `{"jsonrpc":"2.0","method":"sum","id":1} x`, rpc.CodeParseError, "null"},
		{"two objects", `{"jsonrpc":"2.0","method":"sum","id":1}{}`, rpc.CodeParseError, "null"},
		{"truncated", `{"jsonrpc":"2.0","method":"sum","id":1`, rpc.CodeParseError, "null"},
		{"trailing comma", `{"jsonrpc":"2.0","method":"sum","id":1,}`, rpc.CodeParseError, "null"},
		{"single quotes", `{'jsonrpc':'2.0'}`, rpc.CodeParseError, "null"},
		{"bad escape", `{"jsonrpc":"2.0","method":"s\qm","id":1}`, rpc.CodeParseError, "null"},
		{"control char", "{\"jsonrpc\":\"2.0\",\"method\":\"s\x01\",\"id\":1}", rpc.CodeParseError, "null"},
		{"leading zero", `{"jsonrpc":"2.0","method":"sum","params":[01],"id":1}`, rpc.CodeParseError, "null"},
		{"bad number", `{"jsonrpc":"2.0","method":"sum","params":[1.],"id":1}`, rpc.CodeParseError, "null"},
		{"NaN literal", `{"jsonrpc":"2.0","method":"sum","params":[NaN],"id":1}`, rpc.CodeParseError, "null"},

		// Invalid requests: valid JSON, not a request.
		{"spec invalid request", `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`, rpc.CodeInvalidRequest, "null"},
		{"number", `1`, rpc.CodeInvalidRequest, "null"},
		{"string", `"x"`, rpc.CodeInvalidRequest, "null"},
		{"null", `null`, rpc.CodeInvalidRequest, "null"},
		{"empty object", `{}`, rpc.CodeInvalidRequest, "null"},
		{"wrong version", `{"jsonrpc":"1.0","method":"sum","id":5}`, rpc.CodeInvalidRequest, "5"},
		{"version as number", `{"jsonrpc":2.0,"method":"sum","id":5}`, rpc.CodeInvalidRequest, "5"},
		{"no method", `{"jsonrpc":"2.0","id":5}`, rpc.CodeInvalidRequest, "5"},
		{"method null", `{"jsonrpc":"2.0","method":null,"id":"a"}`, rpc.CodeInvalidRequest, `"a"`},
		{"params string", `{"jsonrpc":"2.0","method":"sum","params":"bar","id":5}`, rpc.CodeInvalidRequest, "5"},
		{"params number", `{"jsonrpc":"2.0","method":"sum","params":3,"id":5}`, rpc.CodeInvalidRequest, "5"},
		{"params null in 2.0", `{"jsonrpc":"2.0","method":"sum","params":null,"id":5}`, rpc.CodeInvalidRequest, "5"},
		{"id object", `{"jsonrpc":"2.0","method":"sum","id":{"a":1}}`, rpc.CodeInvalidRequest, "null"},
		{"id array", `{"jsonrpc":"2.0","method":"sum","id":[1]}`, rpc.CodeInvalidRequest, "null"},
		{"id bool", `{"jsonrpc":"2.0","method":"sum","id":true}`, rpc.CodeInvalidRequest, "null"},

		// Dispatch errors.
		{"spec method not found", `{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`, rpc.CodeMethodNotFound, `"1"`},
		{"method case matters", `{"jsonrpc": "2.0", "method": "Subtract", "params": [1,2], "id": 1}`, rpc.CodeMethodNotFound, "1"},
		{"wrong type", `{"jsonrpc":"2.0","method":"subtract","params":["a",1],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"float for int", `{"jsonrpc":"2.0","method":"subtract","params":[1.5,1],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"int64 overflow", `{"jsonrpc":"2.0","method":"subtract","params":[9223372036854775808,1],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"too many", `{"jsonrpc":"2.0","method":"subtract","params":[1,2,3],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"too few", `{"jsonrpc":"2.0","method":"subtract","params":[1],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"none for two", `{"jsonrpc":"2.0","method":"subtract","id":1}`, rpc.CodeInvalidParams, "1"},
		{"unknown name", `{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1,"subtrahend":2,"x":3},"id":1}`, rpc.CodeInvalidParams, "1"},
		{"name case matters", `{"jsonrpc":"2.0","method":"subtract","params":{"Minuend":1,"subtrahend":2},"id":1}`, rpc.CodeInvalidParams, "1"},
		{"missing name", `{"jsonrpc":"2.0","method":"subtract","params":{"minuend":1},"id":1}`, rpc.CodeInvalidParams, "1"},
		{"unknown field", `{"jsonrpc":"2.0","method":"point","params":{"x":1,"z":2},"id":1}`, rpc.CodeInvalidParams, "1"},
		{"variadic wrong type", `{"jsonrpc":"2.0","method":"sum","params":[1,2,"x"],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"named for positional-only", `{"jsonrpc":"2.0","method":"greet","params":{"name":"x"},"id":1}`, rpc.CodeInvalidParams, "1"},
		{"huge number into any", `{"jsonrpc":"2.0","method":"echo","params":[1e400],"id":1}`, rpc.CodeInvalidParams, "1"},
		{"NaN result", `{"jsonrpc":"2.0","method":"nan","id":1}`, rpc.CodeInternal, "1"},
		{"chan result", `{"jsonrpc":"2.0","method":"chan","id":1}`, rpc.CodeInternal, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reply := serve(s, c, tt.req)
			r := parseReply(t, reply)
			if r.Error == nil || rpc.Code(r.Error.Code) != tt.code {
				t.Fatalf("reply %s: want error code %d", reply, tt.code)
			}
			if string(r.ID) != tt.id {
				t.Errorf("reply %s: id %s, want %s", reply, r.ID, tt.id)
			}
			if r.Result != nil {
				t.Errorf("reply %s has both result and error", reply)
			}
			if r.Error.Message == "" {
				t.Errorf("reply %s: empty error message", reply)
			}
			if r.JSONRPC == nil || *r.JSONRPC != "2.0" {
				t.Errorf("reply %s: not a JSON-RPC 2.0 reply", reply)
			}
		})
	}
}

func TestServeBatch(t *testing.T) {
	t.Parallel()
	type item struct {
		id     string
		code   rpc.Code // 0 for a result
		result string
	}
	tests := []struct {
		name string
		req  string
		want []item // nil: no reply at all
		one  rpc.Code
	}{
		{name: "spec mixed", req: `[
			{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
			{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
			{"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
			{"foo": "boo"},
			{"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
			{"jsonrpc": "2.0", "method": "get_data", "id": "9"}
		]`, want: []item{
			{id: `"1"`, result: `7`},
			{id: `"2"`, result: `19`},
			{id: `null`, code: rpc.CodeInvalidRequest},
			{id: `"5"`, code: rpc.CodeMethodNotFound},
			{id: `"9"`, result: `["hello",5]`},
		}},
		{name: "all notifications", req: `[
			{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
			{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
		]`},
		{name: "one item", req: `[{"jsonrpc":"2.0","method":"sum","params":[1],"id":1}]`,
			want: []item{{id: `1`, result: `1`}}},
		{name: "empty", req: `[]`, one: rpc.CodeInvalidRequest},
		{name: "empty with spaces", req: ` [ ] `, one: rpc.CodeInvalidRequest},
		{name: "spec one non-object", req: `[1]`, want: []item{{id: "null", code: rpc.CodeInvalidRequest}}},
		{name: "spec non-objects", req: `[1,2,3]`, want: []item{
			{id: "null", code: rpc.CodeInvalidRequest},
			{id: "null", code: rpc.CodeInvalidRequest},
			{id: "null", code: rpc.CodeInvalidRequest},
		}},
		{name: "spec invalid JSON", req: `[
			{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
			{"jsonrpc": "2.0", "method"
		]`, one: rpc.CodeParseError},
		{name: "trailing garbage", req: `[{"jsonrpc":"2.0","method":"sum","id":1}] x`, one: rpc.CodeParseError},
		{name: "nested batch", req: `[[{"jsonrpc":"2.0","method":"sum","id":1}]]`,
			want: []item{{id: "null", code: rpc.CodeInvalidRequest}}},
		{name: "1.0 item", req: `[{"method":"sum","params":[2],"id":3}]`, want: []item{{id: "3", result: "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c, _ := newServer(t)
			reply := serve(s, c, tt.req)
			switch {
			case tt.one != 0:
				r := parseReply(t, reply)
				if r.Error == nil || rpc.Code(r.Error.Code) != tt.one || string(r.ID) != "null" {
					t.Fatalf("reply %s: want one error %d with id null", reply, tt.one)
				}
				return
			case tt.want == nil:
				if reply != "" {
					t.Fatalf("all-notification batch answered: %s", reply)
				}
				return
			}
			var got []stdjson.RawMessage
			if err := stdjson.Unmarshal([]byte(reply), &got); err != nil {
				t.Fatalf("reply %s: %v", reply, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("reply %s: %d items, want %d", reply, len(got), len(tt.want))
			}
			for i, w := range tt.want {
				r := parseReply(t, string(got[i]))
				if string(r.ID) != w.id {
					t.Errorf("item %d: id %s, want %s", i, r.ID, w.id)
				}
				if w.code != 0 {
					if r.Error == nil || rpc.Code(r.Error.Code) != w.code {
						t.Errorf("item %d: %s, want error %d", i, got[i], w.code)
					}
				} else if string(r.Result) != w.result {
					t.Errorf("item %d: %s, want result %s", i, got[i], w.result)
				}
			}
		})
	}
}

func TestServeDepth(t *testing.T) {
	t.Parallel()
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name  string
		c     *json.Codec
		param string
		code  rpc.Code // 0: echoed
	}{
		// The request object and the params array take two levels.
		{"default allows 126 in a param", json.New(), nest(126), 0},
		{"default refuses 127", json.New(), nest(127), rpc.CodeLimitExceeded},
		{"60 levels of objects", json.New(), strings.Repeat(`{"a":`, 60) + "1" + strings.Repeat("}", 60), 0},
		{"limit of 50", json.New(json.WithMaxDepth(50)), nest(48), 0},
		{"limit of 50 refused", json.New(json.WithMaxDepth(50)), nest(49), rpc.CodeLimitExceeded},
		{"zero means default", json.New(json.WithMaxDepth(0)), nest(126), 0},
		{"limit of 1000", json.New(json.WithMaxDepth(1000)), nest(998), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := rpc.NewServer(rpc.WithCodecs(tt.c))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Register("echo", func(v any) (any, error) { return v, nil }); err != nil {
				t.Fatal(err)
			}
			req := `{"jsonrpc":"2.0","method":"echo","params":[` + tt.param + `],"id":1}`
			reply := serve(s, tt.c, req)
			if tt.code == 0 {
				if want := `{"jsonrpc":"2.0","result":` + tt.param + `,"id":1}`; reply != want {
					t.Errorf("reply %.200s..., want the param echoed", reply)
				}
			} else if r := parseReply(t, reply); r.Error == nil || rpc.Code(r.Error.Code) != tt.code {
				t.Errorf("reply %s, want error %d", reply, tt.code)
			}
			// In a batch each call gets the same depth as on its own.
			reply = serve(s, tt.c, "["+req+"]")
			if tt.code == 0 && !strings.HasPrefix(reply, `[{"jsonrpc":"2.0","result":`) {
				t.Errorf("batch reply %.200s, want the param echoed", reply)
			}
			if tt.code != 0 && !strings.Contains(reply, `"code":-32004`) {
				t.Errorf("batch reply %.200s, want error -32004", reply)
			}
		})
	}
}

func TestAppendResponseUnencodable(t *testing.T) {
	t.Parallel()
	c := json.New()
	prefix := []byte("keep")
	for _, v := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), []any{1, math.NaN()}, make(chan int), map[string]any{"f": func() {}}} {
		for _, dialect := range []uint8{json.Dialect1, json.Dialect2} {
			out, err := c.AppendResponse(bytes.Clone(prefix), &wire.Response{ID: wire.ID{Raw: []byte("1")}, Dialect: dialect, Result: v})
			if err == nil {
				t.Errorf("%T result encoded as %s", v, out)
			}
			if string(out) != string(prefix) {
				t.Errorf("%T result: dst became %q", v, out)
			}
			out, err = c.AppendResponse(bytes.Clone(prefix), &wire.Response{Dialect: dialect, Error: &wire.Error{Code: 1, Message: "m", Data: v}})
			if err == nil || string(out) != string(prefix) {
				t.Errorf("%T error data: %q, %v", v, out, err)
			}
		}
	}
}

// TestErrorWording: a param that does not fit its Go type, and a result
// that JSON cannot carry, are described in the protocol's terms: where
// (param, field, element) and what was wanted, never by the Go type names
// that encoding/json's own errors carry ("Go struct field Point.x of type
// int64", "Go value of type json_test.Point", "json: unsupported value").
func TestErrorWording(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	if err := s.Register("points", func(ps []Point) (int, error) { return len(ps), nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("small", func(x int8) (int8, error) { return x, nil }); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, params, want string }{
		{"point", `[{"x":1,"y":"two"}]`, "invalid params: param 1: y: cannot use string as a 64-bit integer"},
		{"point", `[[1,2]]`, "invalid params: param 1: cannot use array as object"},
		{"points", `[[{"x":1},{"x":2.5}]]`, "invalid params: param 1: x: cannot use number 2.5 as a 64-bit integer"},
		{"small", `[300]`, "invalid params: param 1: 300 is out of the range of an 8-bit integer"},
		{"small", `[true]`, "invalid params: param 1: cannot use boolean as an 8-bit integer"},
		{"subtract", `[1,9223372036854775808]`, "invalid params: param 2: 9223372036854775808 is out of the range of a 64-bit integer"},
		{"nan", `[]`, "internal error: cannot encode the result: NaN cannot be encoded: JSON has no representation for it"},
		{"chan", `[]`, "internal error: cannot encode the result: a channel cannot be encoded or decoded"},
	} {
		r := parseReply(t, serve(s, c, `{"jsonrpc":"2.0","method":"`+tt.method+`","params":`+tt.params+`,"id":1}`))
		if r.Error == nil || r.Error.Message != tt.want {
			t.Errorf("%s %s: error %+v\nwant %q", tt.method, tt.params, r.Error, tt.want)
		}
	}
}
