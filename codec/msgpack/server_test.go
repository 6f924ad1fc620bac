package msgpack_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
	mp "github.com/vmihailenco/msgpack/v5"
)

// Point is a single struct param that takes named params.
type Point struct {
	X     int64  `json:"x"`
	Y     int64  `json:"y"`
	Label string `json:"label,omitempty"`
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

// newServer returns a server with the msgpack codec only and the methods
// the tests call.
func newServer(t testing.TB) (*rpc.Server, *msgpack.Codec, *notes) {
	t.Helper()
	c := msgpack.New()
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
	must(s.Register("point", func(p Point) (Point, error) { return Point{X: p.X * 2, Y: p.Y * 2, Label: p.Label}, nil }))
	must(s.Register("update", func(ctx context.Context, a, b int64) error {
		n.add("update")
		return nil
	}))
	must(s.Register("ping", func() (string, error) { return "pong", nil }))
	must(s.Register("fail", func() error {
		return &rpc.Error{Code: 42, Message: "boom", Data: map[string]any{"big": int64(math.MaxInt64), "why": "because"}}
	}))
	must(s.Register("plainfail", func() error { return errors.New("plain failure") }))
	must(s.Register("chan", func() (any, error) { return make(chan int), nil }))
	must(s.Register("deep", func(n int) (any, error) { return nested(n), nil }))
	return s, c, n
}

// nested returns n levels of arrays around "x".
func nested(n int) any {
	var v any = "x"
	for range n {
		v = []any{v}
	}
	return v
}

// hexb parses hex bytes, ignoring spaces.
func hexb(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// pack encodes v with vmihailenco/msgpack, an implementation independent
// of the codec's encoder, in the compact form most libraries write.
func pack(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := mp.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wireError is the error map, its members in the order the codec writes.
type wireError struct {
	Code    int64  `msgpack:"code"`
	Message string `msgpack:"message"`
	Data    any    `msgpack:"data,omitempty"`
}

// reply is a response built for comparison: [1, msgid, error, result].
func reply(msgid any, e *wireError, result any) []any {
	if e == nil {
		return []any{1, msgid, nil, result}
	}
	return []any{1, msgid, e, nil}
}

func serve(s *rpc.Server, c rpc.Codec, msg []byte) []byte {
	return s.ServeMessage(context.Background(), c, msg, nil)
}

func TestServeExact(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	tests := []struct {
		name string
		req  any // encoded with pack, or []byte as is
		want any // encoded with pack, or []byte as is
	}{
		{"positional", []any{0, 1, "subtract", []any{42, 23}}, reply(1, nil, 19)},
		{"positional reversed", []any{0, 2, "subtract", []any{23, 42}}, reply(2, nil, -19)},
		{"named", []any{0, 3, "subtract", map[string]any{"subtrahend": 23, "minuend": 42}}, reply(3, nil, 19)},
		{"named repeated key, last wins", hexb("94 00 03 a8" + hex.EncodeToString([]byte("subtract")) +
			"83 a7" + hex.EncodeToString([]byte("minuend")) + "01 aa" + hex.EncodeToString([]byte("subtrahend")) +
			"01 a7" + hex.EncodeToString([]byte("minuend")) + "2a"), reply(3, nil, 41)},
		{"variadic", []any{0, 4, "sum", []any{1, 2, 4}}, reply(4, nil, 7)},
		{"variadic none", []any{0, 4, "sum", []any{}}, reply(4, nil, 0)},
		{"variadic beyond the inline params", []any{0, 4, "sum", []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, reply(4, nil, 78)},
		{"struct param from a map", []any{0, 5, "point", map[string]any{"x": 1, "y": -2, "label": "p"}},
			reply(5, nil, Point{X: 2, Y: -4, Label: "p"})},
		{"struct param positional", []any{0, 5, "point", []any{map[string]any{"x": 1, "y": 2}}},
			reply(5, nil, Point{X: 2, Y: 4})},
		{"unicode", []any{0, 6, "greet", []any{"wörld 😀"}}, reply(6, nil, "hello, wörld 😀")},
		{"method name as bin", []any{0, 6, []byte("greet"), []any{"bin"}}, reply(6, nil, "hello, bin")},
		{"msgid uint32 max", []any{0, uint32(math.MaxUint32), "sum", []any{1}}, reply(uint32(math.MaxUint32), nil, 1)},
		{"msgid zero", []any{0, 0, "sum", []any{1}}, reply(0, nil, 1)},
		{"msgid echoed in its own format", hexb("94 00 d3 00 00 00 00 00 00 00 07 a3 73 75 6d 91 01"),
			hexb("94 01 d3 00 00 00 00 00 00 00 07 c0 01")},
		{"msgid string", []any{0, "abc", "sum", []any{2}}, reply("abc", nil, 2)},
		{"method not found", []any{0, 9, "nope", []any{}},
			reply(9, &wireError{Code: -32601, Message: "method not found: nope"}, nil)},
		{"too few params", []any{0, 1, "subtract", []any{1}},
			reply(1, &wireError{Code: -32602, Message: "invalid params: subtract wants 2 params, got 1"}, nil)},
		{"wrong param type", []any{0, 1, "subtract", []any{1, "x"}},
			reply(1, &wireError{Code: -32602, Message: "invalid params: param 2: cannot use string as a 64-bit integer"}, nil)},
		{"unknown named param", []any{0, 1, "subtract", map[string]any{"a": 1}},
			reply(1, &wireError{Code: -32602, Message: `invalid params: subtract has no param "a"`}, nil)},
		{"error with data", []any{0, 5, "fail", []any{}},
			reply(5, &wireError{Code: 42, Message: "boom", Data: map[string]any{"big": int64(math.MaxInt64), "why": "because"}}, nil)},
		{"plain error", []any{0, 5, "plainfail", []any{}},
			reply(5, &wireError{Code: -32500, Message: "plain failure"}, nil)},
		{"unencodable result", []any{0, 5, "chan", []any{}},
			reply(5, &wireError{Code: -32603, Message: "internal error: cannot encode the result: a channel cannot be encoded or decoded"}, nil)},
		{"result deeper than the limit", []any{0, 5, "deep", []any{msgpack.DefaultMaxDepth}},
			reply(5, &wireError{Code: -32603, Message: "internal error: cannot encode the result: msgpack: value nested too deeply (or cyclic)"}, nil)},
		{"result at the limit", []any{0, 5, "deep", []any{msgpack.DefaultMaxDepth - 1}},
			reply(5, nil, nested(msgpack.DefaultMaxDepth-1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, ok := tt.req.([]byte)
			if !ok {
				req = pack(t, tt.req)
			}
			want, ok := tt.want.([]byte)
			if !ok {
				want = pack(t, tt.want)
			}
			if got := serve(s, c, req); !bytes.Equal(got, want) {
				t.Errorf("reply\n got % x\nwant % x", got, want)
			}
		})
	}
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	s, c, n := newServer(t)
	for _, msg := range [][]byte{
		pack(t, []any{2, "update", []any{1, 2}}),
		pack(t, []any{2, "update", map[string]any{}}), // no names: refused, silently
		pack(t, []any{2, "nope", []any{}}),
	} {
		if got := serve(s, c, msg); len(got) != 0 {
			t.Errorf("notification % x got reply % x", msg, got)
		}
	}
	if got := n.list(); len(got) != 1 || got[0] != "update" {
		t.Errorf("notifications served: %q, want [update]", got)
	}

	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Notify(context.Background(), "update", 3, 4); err != nil {
		t.Fatal(err)
	}
	if got := n.list(); len(got) != 2 {
		t.Errorf("notifications served: %q, want two", got)
	}
}

// TestInvalidRequests sends well-formed messages that are not requests.
func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	tests := []struct {
		name  string
		req   any
		msgid any // echoed msgid; nil when none
		msg   string
	}{
		{"not an array", map[string]any{"method": "sum"}, nil, "invalid request: a message must be an array, not map"},
		{"string", "hello", nil, "invalid request: a message must be an array, not string"},
		{"empty array", []any{}, nil, "invalid request: an empty array"},
		{"type not an integer", []any{"0", 1, "sum", []any{}}, nil, "invalid request: the message type must be an integer, not string"},
		{"unknown type", []any{7, 1, "sum", []any{}}, nil, "invalid request: unknown message type 7"},
		{"response sent", []any{1, 1, nil, 3}, nil, "invalid request: a response sent to a server"},
		{"request of 3", []any{0, 1, "sum"}, 1, "invalid request: a request is [0, msgid, method, params] or [0, msgid, method, params, meta], not an array of 3"},
		{"request of 6", []any{0, 8, "sum", []any{}, nil, 1}, 8, "invalid request: a request is [0, msgid, method, params] or [0, msgid, method, params, meta], not an array of 6"},
		{"request of 5, meta an integer", []any{0, 8, "sum", []any{}, 1}, 8, "invalid request: meta must be a map of strings, not an integer"},
		{"notification of 5", []any{2, "sum", []any{}, nil, 1}, nil, "invalid request: a notification is [2, method, params] or [2, method, params, meta], not an array of 5"},
		{"notification of 4, method not a string", []any{2, 1, "sum", []any{}}, nil, "invalid request: the method must be a string, not integer"},
		{"method not a string", []any{0, 2, 42, []any{}}, 2, "invalid request: the method must be a string, not integer"},
		{"params a string", []any{0, 3, "sum", "1,2"}, 3, "invalid request: params must be an array or a map, not string"},
		{"params nil", []any{0, 3, "sum", nil}, 3, "invalid request: params must be an array or a map, not nil"},
		{"named params with an integer key", []any{0, 4, "sum", map[int]any{1: 2}}, 4, "invalid request: named params must have string keys"},
		{"notification with a bad method", []any{2, nil, []any{}}, nil, "invalid request: the method must be a string, not nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := serve(s, c, pack(t, tt.req))
			want := pack(t, reply(tt.msgid, &wireError{Code: -32600, Message: tt.msg}, nil))
			if !bytes.Equal(got, want) {
				t.Errorf("reply\n got % x\nwant % x", got, want)
			}
		})
	}
}

// TestParseErrors sends messages that are not well-formed MessagePack.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	tests := []struct {
		name  string
		msg   string // hex
		msgid any
		code  int64
	}{
		{"empty", "", nil, -32700},
		{"reserved byte", "c1", nil, -32700},
		{"reserved byte inside", "94 00 01 a3 73 75 6d 91 c1", 1, -32700},
		{"truncated header", "dc 00", nil, -32700},
		{"truncated before the msgid", "94 00", nil, -32700},
		{"truncated in params", "94 00 05 a3 73 75 6d 92 01", 5, -32700},
		{"truncated string", "94 00 05 a3 73 75", 5, -32700},
		{"trailing garbage", "94 00 06 a3 73 75 6d 90 00", 6, -32700},
		{"two messages", "94 00 06 a3 73 75 6d 90 94 00 06 a3 73 75 6d 90", 6, -32700},
		{"array32 beyond the bytes", "dd ff ff ff ff 00", nil, -32700},
		{"str32 beyond the bytes as the method", "94 00 07 db ff ff ff ff 61", 7, -32700},
		{"a notification's damage", "93 02 a3 73 75 6d dc ff ff", nil, -32700},
		{"too deep", strings.Repeat("91", msgpack.DefaultMaxDepth+1) + "c0", nil, -32004},
		{"params too deep", "94 00 09 a4 65 63 68 6f " + strings.Repeat("91", msgpack.DefaultMaxDepth) + "c0", 9, -32004},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := serve(s, c, hexb(tt.msg))
			var r []mp.RawMessage
			if err := mp.Unmarshal(got, &r); err != nil || len(r) != 4 {
				t.Fatalf("reply % x: %v", got, err)
			}
			var e wireError
			if err := mp.Unmarshal(r[2], &e); err != nil {
				t.Fatalf("error % x: %v", r[2], err)
			}
			if e.Code != tt.code {
				t.Errorf("code %d (%s), want %d", e.Code, e.Message, tt.code)
			}
			// vmihailenco/msgpack leaves a nil element's RawMessage empty.
			if want := pack(t, tt.msgid); !bytes.Equal(r[1], want) && !(tt.msgid == nil && len(r[1]) == 0) {
				t.Errorf("msgid % x, want % x", []byte(r[1]), want)
			}
			if len(e.Message) > 120 {
				t.Errorf("message of %d bytes: %.200s", len(e.Message), e.Message)
			}
		})
	}
}

// TestDecodeRequestErrors checks the *wire.Error and the id DecodeRequest
// itself returns.
func TestDecodeRequestErrors(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	for _, tt := range []struct {
		msg  string
		code int
		id   string
	}{
		{"94 00 cd 01 00 a1 6d 92 01", wire.CodeParseError, "cd 01 00"},
		{"94 00 cd 01 00 01 90", wire.CodeInvalidRequest, "cd 01 00"},
		{"91 00", wire.CodeInvalidRequest, ""},
		{"c1", wire.CodeParseError, ""},
	} {
		var req wire.Request
		err := c.DecodeRequest(hexb(tt.msg), &req)
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != tt.code {
			t.Errorf("%s: error %v, want code %d", tt.msg, err, tt.code)
		}
		if !bytes.Equal(req.ID.Raw, hexb(tt.id)) {
			t.Errorf("%s: id % x, want %s", tt.msg, req.ID.Raw, tt.id)
		}
	}
}

func TestDecodeRequestParams(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	var req wire.Request
	if err := c.DecodeRequest(pack(t, []any{0, 1, "m", []any{}}), &req); err != nil {
		t.Fatal(err)
	}
	if req.Method != "m" || req.Notification || req.Params.Len() != 0 || !bytes.Equal(req.ID.Raw, []byte{1}) {
		t.Errorf("request %+v", req)
	}
	var v any
	if err := req.Params.DecodeAt(0, &v); err == nil {
		t.Error("param 0 of none decoded")
	}
	if err := req.Params.DecodeNamed("a", &v); err == nil {
		t.Error("named param of positional params decoded")
	}

	// Named params: in message order, repeated names once, the last value;
	// a few, more than are kept inline, and more than are searched without
	// an index.
	for _, distinct := range []int{3, 6, 17} {
		n := distinct + 3
		many := []byte{0x94, 0x00, 0x01, 0xa1, 'm', 0xde, 0x00, byte(n)}
		for i := range n {
			many = append(many, 0xa2, 'k', byte('a'+i%distinct), byte(i))
		}
		if err := c.DecodeRequest(many, &req); err != nil {
			t.Fatal(err)
		}
		names := req.Params.Names()
		if len(names) != distinct || names[0] != "ka" || names[distinct-1] != "k"+string(rune('a'+distinct-1)) ||
			req.Params.Len() != -1 {
			t.Fatalf("names %q", names)
		}
		var x int
		if err := req.Params.DecodeNamed("kb", &x); err != nil || x != distinct+1 {
			t.Errorf("kb = %d, %v; want %d, the last", x, err, distinct+1)
		}
		if err := req.Params.DecodeNamed("kz", &x); err == nil {
			t.Error("missing name decoded")
		}
		if err := req.Params.DecodeAt(0, &x); err == nil {
			t.Error("positional param of named params decoded")
		}
	}

	// Positional params beyond the inline ones, in and out of order.
	args := make([]any, 40)
	for i := range args {
		args[i] = []any{i, strings.Repeat("x", i)}
	}
	if err := c.DecodeRequest(pack(t, []any{2, "m", args}), &req); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 7, 8, 9, 39, 20, 3, 21, 8} {
		var got []any
		if err := req.Params.DecodeAt(i, &got); err != nil || len(got) != 2 || got[0] != int64(i) {
			t.Errorf("param %d = %v, %v", i, got, err)
		}
	}
}

func TestCodecInfo(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	if c.Name() != "msgpack" {
		t.Errorf("name %q", c.Name())
	}
	if got, ok := rpc.LookupCodec("msgpack"); !ok || got.Name() != "msgpack" {
		t.Error("codec not registered")
	}
	if mt := c.MediaTypes(); len(mt) != 3 || mt[0] != "application/msgpack" {
		t.Errorf("media types %q", mt)
	}
	for b := range 256 {
		want := b >= 0x90 && b <= 0x9f || b == 0xdc || b == 0xdd
		if c.Sniff(byte(b)) != want {
			t.Errorf("Sniff(%#x) = %v", b, !want)
		}
	}
}

// TestMaxDepth checks how levels count: the message's array is the first,
// the params array the second.
func TestMaxDepth(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		limit, levels int // levels of nesting in the param
		ok            bool
	}{
		{3, 1, true},
		{3, 2, false},
		{50, 48, true},
		{50, 49, false},
		{0, msgpack.DefaultMaxDepth - 2, true}, // 0 selects the default
		{0, msgpack.DefaultMaxDepth - 1, false},
	} {
		c := msgpack.New(msgpack.WithMaxDepth(tt.limit))
		s, err := rpc.NewServer(rpc.WithCodecs(c))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Register("echo", func(v any) (any, error) { return v, nil }); err != nil {
			t.Fatal(err)
		}
		got := serve(s, c, pack(t, []any{0, 1, "echo", []any{nested(tt.levels)}}))
		var r wire.Reply
		if err := c.DecodeReply(got, &r); err != nil {
			t.Fatal(err)
		}
		if ok := r.Error == nil; ok != tt.ok || !ok && r.Error.Code != wire.CodeLimitExceeded {
			t.Errorf("limit %d, %d levels: error %v, want ok %v", tt.limit, tt.levels, r.Error, tt.ok)
		}
	}
}
