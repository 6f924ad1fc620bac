package json_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/internal/metatest"
	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenMetaDecodes reads the golden messages with metadata back: the
// fixtures are what the values encode to, and decode to the values again.
func TestGoldenMetaDecodes(t *testing.T) {
	t.Parallel()
	c := json.New()

	var req wire.Request
	if err := c.DecodeRequest(readGolden(t, "call_meta"), &req); err != nil {
		t.Fatal(err)
	}
	var a, b int64
	if req.Method != "subtract" || req.Dialect != json.Dialect2|json.DialectMeta || !maps.Equal(req.Entries.MD(), goldenCallMeta) ||
		req.Params.DecodeAt(0, &a) != nil || req.Params.DecodeAt(1, &b) != nil || a != 42 || b != 23 || string(req.ID.Raw) != "1" {
		t.Errorf("call_meta decodes to %+v", req)
	}

	if err := c.DecodeRequest(readGolden(t, "call_notification_meta"), &req); err != nil {
		t.Fatal(err)
	}
	if req.Method != "update" || !req.Notification || req.Entries.MD()["traceparent"] != goldenCallMeta["traceparent"] || len(req.Entries.MD()) != 1 {
		t.Errorf("call_notification_meta decodes to %+v", req)
	}

	if err := c.DecodeRequest(readGolden(t, "call_cancel"), &req); err != nil {
		t.Fatal(err)
	}
	var id any
	if req.Method != wire.CancelMethod || !req.Notification || req.Entries.MD() != nil || req.Params.DecodeNamed("id", &id) != nil {
		t.Fatalf("call_cancel decodes to %+v", req)
	}
	if k, ok := wire.KeyOf(id); !ok || k != (wire.Key{Num: 1}) {
		t.Errorf("call_cancel names id %#v, key %+v", id, k)
	}

	for _, name := range []string{"response_meta", "response_error_meta", "response_v1_meta"} {
		var r wire.Reply
		if err := c.DecodeReply(readGolden(t, name), &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !maps.Equal(r.Meta, goldenReplyMeta) {
			t.Errorf("%s: metadata %v, want %v", name, r.Meta, goldenReplyMeta)
		}
		switch name {
		case "response_meta":
			var n int64
			if r.Error != nil || r.Result.Decode(&n) != nil || n != 19 || r.ID.Seq != 1 {
				t.Errorf("%s decodes to %+v", name, r)
			}
		case "response_error_meta":
			if r.Error == nil || r.Error.Code != wire.CodeDeadline || r.ID.Seq != 1 {
				t.Errorf("%s decodes to %+v", name, r)
			}
		}
	}
}

// TestMetaRoundTrip: metadata survives a call and a response, any text in
// its values; without metadata the bytes are those of a message without
// the field, and a response carries metadata only to a request that had a
// "meta" member.
func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	c := json.New()
	md := metadata.MD{"a": "1", "b.c_d-e": "quote\" back\\ tab\t é 😀 \u2028", "z": ""}
	for _, notification := range []bool{false, true} {
		call := wire.Call{Method: "m", ID: wire.ID{Seq: 5}, Notification: notification, Args: []any{1}}
		plain, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatal(err)
		}
		call.Meta = metadata.MD{}
		if empty, _ := c.AppendCall(nil, &call); !bytes.Equal(empty, plain) {
			t.Errorf("empty metadata: %s, want %s", empty, plain)
		}
		var req wire.Request
		if err := c.DecodeRequest(plain, &req); err != nil || req.Entries.MD() != nil || req.Dialect != json.Dialect2 {
			t.Errorf("%s: meta %v, dialect %d, %v", plain, req.Entries.MD(), req.Dialect, err)
		}
		call.Meta = md
		msg, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DecodeRequest(msg, &req); err != nil || !maps.Equal(req.Entries.MD(), md) || req.Notification != notification ||
			req.Dialect != json.Dialect2|json.DialectMeta {
			t.Errorf("%s: meta %v, dialect %d, %v", msg, req.Entries.MD(), req.Dialect, err)
		}
	}

	resp := wire.Response{ID: wire.ID{Raw: []byte("5")}, Dialect: json.Dialect2, Result: "ok", Meta: md}
	notAsked, err := c.AppendResponse(nil, &resp)
	if err != nil || string(notAsked) != `{"jsonrpc":"2.0","result":"ok","id":5}` {
		t.Errorf("to a request without meta: %s, %v", notAsked, err)
	}
	resp.Dialect |= json.DialectMeta
	msg, err := c.AppendResponse(nil, &resp)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Reply
	if err := c.DecodeReply(msg, &r); err != nil || !maps.Equal(r.Meta, md) {
		t.Errorf("%s: meta %v, %v", msg, r.Meta, err)
	}
	resp.Meta = nil
	if none, _ := c.AppendResponse(nil, &resp); !bytes.Equal(none, notAsked) {
		t.Errorf("no reply metadata: %s, want %s", none, notAsked)
	}

	// Over a server: asked with {} (no metadata, yet a reply that may
	// carry some), with null (as without), and in a batch, per element.
	s, sc, _ := newServer(t)
	for _, tc := range []struct{ req, want string }{
		{`{"jsonrpc":"2.0","method":"greet","params":["x"],"id":1,"meta":{}}`, `{"jsonrpc":"2.0","result":"hello, x","id":1}`},
		{`{"jsonrpc":"2.0","method":"greet","params":["x"],"id":1,"meta":null}`, `{"jsonrpc":"2.0","result":"hello, x","id":1}`},
		{`{"method":"greet","params":["x"],"id":1,"meta":{"polyrpc-timeout-ms":"1000"}}`, `{"result":"hello, x","error":null,"id":1}`},
		{`[{"jsonrpc":"2.0","method":"greet","params":["x"],"id":1,"meta":{"k":"v"}},{"jsonrpc":"2.0","method":"greet","params":["y"],"id":2,"meta":{"K":"v"}}]`,
			`[{"jsonrpc":"2.0","result":"hello, x","id":1},{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request: metadata: key \"K\": only a-z, 0-9, '-', '_' and '.'"},"id":2}]`},
	} {
		if got := serve(s, sc, tc.req); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.req, got, tc.want)
		}
	}
}

// TestMetaRefused: metadata that is not an object of strings, or beyond
// metadata's bounds, is an invalid request that keeps its id, and a reply
// carrying it is an error on a client.
func TestMetaRefused(t *testing.T) {
	t.Parallel()
	c := json.New()
	many := func(n int) string {
		var sb strings.Builder
		sb.WriteString("{")
		for i := range n {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString(`"k` + strconv.Itoa(i) + `":"v"`)
		}
		return sb.String() + "}"
	}
	tests := []struct{ meta, why string }{
		{`[]`, "meta must be an object of strings, not array"},
		{`"k=v"`, "meta must be an object of strings, not string"},
		{`1`, "meta must be an object of strings, not number"},
		{`true`, "meta must be an object of strings, not boolean"},
		{`{"a":1}`, `meta must be an object of strings: a is number`},
		{`{"a":null}`, `meta must be an object of strings: a is null`},
		{`{"a":{"b":"c"}}`, `meta must be an object of strings: a is object`},
		{`{"a":["b"]}`, `meta must be an object of strings: a is array`},
		{`{"Upper":"x"}`, `metadata: key "Upper": only a-z`},
		{`{"":"x"}`, `metadata: key of 0 bytes`},
		{`{"a b":"x"}`, `metadata: key "a b"`},
		{`{"host":"x"}`, `metadata: key "host" is an HTTP header of HTTP's own`},
		{`{"a":"line\nbreak"}`, `metadata a: value with control character 0xa`},
		{`{"a":"\u0000"}`, `metadata a: value with control character 0x0`},
		{`{"` + strings.Repeat("k", 65) + `":"x"}`, `metadata: key of 65 bytes: want 1 to 64`},
		{`{"a":"` + strings.Repeat("v", 4097) + `"}`, `metadata a: value of 4097 bytes, more than 4096`},
		{many(65), `metadata: more than 64 entries`},
	}
	for _, tc := range tests {
		msg := `{"jsonrpc":"2.0","method":"m","params":[],"id":"x","meta":` + tc.meta + `}`
		var req wire.Request
		err := c.DecodeRequest([]byte(msg), &req)
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != wire.CodeInvalidRequest || !strings.Contains(e.Message, tc.why) || string(req.ID.Raw) != `"x"` {
			t.Errorf("meta %.80s: %v (id %s), want -32600 with %q", tc.meta, err, req.ID.Raw, tc.why)
		}
		reply := `{"jsonrpc":"2.0","result":1,"id":1,"meta":` + tc.meta + `}`
		var r wire.Reply
		err = c.DecodeReply([]byte(reply), &r)
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "json: the reply's meta: ") {
			t.Errorf("reply meta %.80s: %v, want a plain error with %q", tc.meta, err, tc.why)
		}
	}
	// At the bounds: accepted.
	for _, meta := range []string{many(64), `{"` + strings.Repeat("k", 64) + `":"` + strings.Repeat("v", 4096) + `"}`, `{"a":"tab\tok"}`} {
		var req wire.Request
		if err := c.DecodeRequest([]byte(`{"jsonrpc":"2.0","method":"m","id":1,"meta":`+meta+`}`), &req); err != nil || len(req.Entries.MD()) == 0 {
			t.Errorf("meta %.80s: %v", meta, err)
		}
	}
	// A key given twice counts once in the map and twice against the bound.
	var req wire.Request
	if err := c.DecodeRequest([]byte(`{"jsonrpc":"2.0","method":"m","id":1,"meta":{"a":"1","a":"2"}}`), &req); err != nil || req.Entries.MD()["a"] != "2" {
		t.Errorf("repeated key: %v, %v", req.Entries.MD(), err)
	}
}

// TestIDKey: the key of an id as it stood in a request is the key of the
// value the codec decodes that id into, as $/cancelRequest's params name it.
func TestIDKey(t *testing.T) {
	t.Parallel()
	c := json.New()
	ids := []string{
		`0`, `1`, `42`, `-0`, `1.0`, `1e2`, `100E-2`, `1.5`, `-1`, `-5`, `-1.0`, `-0.5`,
		`9223372036854775807`, `9223372036854775808`, `18446744073709551615`, `18446744073709551616`,
		`-9223372036854775808`, `-9223372036854775809`, `1e20`, `1e400`, `-1e400`, `0.1e1`,
		`"abc"`, `"1"`, `""`, `"a\u0062c"`, `"\ud800"`, "\"\xff\"", `"é"`,
		`null`, `true`, `{}`, `[]`,
	}
	for _, raw := range ids {
		got, gotOK := c.IDKey([]byte(raw))
		var req wire.Request
		if err := c.DecodeRequest([]byte(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":`+raw+`}}`), &req); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var v any
		err := req.Params.DecodeNamed("id", &v)
		want, wantOK := wire.KeyOf(v)
		if err != nil {
			want, wantOK = wire.Key{}, false
		}
		if got != want || gotOK != wantOK {
			t.Errorf("IDKey(%s) = %+v, %v; KeyOf(%#v) = %+v, %v", raw, got, gotOK, v, want, wantOK)
		}
	}
	for raw, want := range map[string]wire.Key{
		`7`: {Num: 7}, `7.0`: {Num: 7}, `18446744073709551615`: {Num: 1<<64 - 1}, `-3`: {Str: "-3", IsStr: true},
		`"7"`: {Str: "\x007", IsStr: true},
	} {
		if got, ok := c.IDKey([]byte(raw)); !ok || got != want {
			t.Errorf("IDKey(%s) = %+v, %v; want %+v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{``, `null`, `1.5`, `1e20`, `"unterminated`, `1x`, `-`, `{}`} {
		if got, ok := c.IDKey([]byte(raw)); ok {
			t.Errorf("IDKey(%s) = %+v, want none", raw, got)
		}
	}
}

// TestMetadataOverTCP: metadata, deadlines and cancellation end to end,
// through rpc.Server behind tcprpc.
func TestMetadataOverTCP(t *testing.T) {
	t.Parallel()
	metatest.Run(t, json.New())
}

// TestMetaInBatch: in a batch, each call carries its own metadata, and
// each reply its own, to the calls that carried a "meta" member.
func TestMetaInBatch(t *testing.T) {
	t.Parallel()
	c := json.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("who", func(ctx context.Context) (string, error) {
		call, _ := rpc.CallFromContext(ctx)
		call.SetReplyMetadata("x-seen", call.Metadata().Get("x-who"))
		return call.Metadata().Get("x-who"), nil
	}); err != nil {
		t.Fatal(err)
	}
	got := serve(s, c, `[{"jsonrpc":"2.0","method":"who","id":1,"meta":{"x-who":"a"}},`+
		`{"jsonrpc":"2.0","method":"who","id":2},`+
		`{"jsonrpc":"2.0","method":"who","id":3,"meta":{}},`+
		`{"jsonrpc":"2.0","method":"who","id":4,"meta":{"x-who":"d"}}]`)
	want := `[{"jsonrpc":"2.0","result":"a","id":1,"meta":{"x-seen":"a"}},` +
		`{"jsonrpc":"2.0","result":"","id":2},` +
		`{"jsonrpc":"2.0","result":"","id":3,"meta":{"x-seen":""}},` +
		`{"jsonrpc":"2.0","result":"d","id":4,"meta":{"x-seen":"d"}}]`
	if got != want {
		t.Errorf("batch:\n got %s\nwant %s", got, want)
	}
}
