package msgpack_test

import (
	"bytes"
	"errors"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/internal/metatest"
	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenMeta: the golden messages with metadata are what
// vmihailenco/msgpack packs for the same arrays, and decode to the values
// they were encoded from.
func TestGoldenMeta(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	tp := goldenCallMeta["traceparent"]
	for name, want := range map[string]any{
		"call_meta":              []any{0, 1, "subtract", []any{42, 23}, map[string]string(goldenCallMeta)},
		"call_notification_meta": []any{2, "update", []any{1, 2}, map[string]string{"traceparent": tp}},
		"call_cancel":            []any{2, wire.CancelMethod, map[string]any{"id": 1}},
		"call_cancel_positional": []any{2, wire.CancelMethod, []any{map[string]any{"id": 1}}},
		"response_meta":          []any{1, 1, nil, 19, map[string]string(goldenReplyMeta)},
		"response_error_meta": []any{1, 1, wireError{Code: wire.CodeDeadline, Message: "deadline exceeded"}, nil,
			map[string]string(goldenReplyMeta)},
	} {
		if got, packed := readGolden(t, name), pack(t, want); !bytes.Equal(got, packed) {
			t.Errorf("%s:\n got % x\nwant % x", name, got, packed)
		}
	}

	var req wire.Request
	if err := c.DecodeRequest(readGolden(t, "call_meta"), &req); err != nil {
		t.Fatal(err)
	}
	var a, b int64
	if req.Method != "subtract" || req.Dialect != msgpack.DialectMeta || !maps.Equal(req.Entries.MD(), goldenCallMeta) ||
		req.Params.DecodeAt(0, &a) != nil || req.Params.DecodeAt(1, &b) != nil || a != 42 || b != 23 || !bytes.Equal(req.ID.Raw, []byte{1}) {
		t.Errorf("call_meta decodes to %+v", req)
	}
	if err := c.DecodeRequest(readGolden(t, "call_notification_meta"), &req); err != nil {
		t.Fatal(err)
	}
	if req.Method != "update" || !req.Notification || req.Entries.MD()["traceparent"] != tp || len(req.Entries.MD()) != 1 {
		t.Errorf("call_notification_meta decodes to %+v", req)
	}
	for _, name := range []string{"call_cancel", "call_cancel_positional"} {
		if err := c.DecodeRequest(readGolden(t, name), &req); err != nil {
			t.Fatal(err)
		}
		var id any
		if name == "call_cancel" {
			err := req.Params.DecodeNamed("id", &id)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			var p map[string]any
			if err := req.Params.DecodeAt(0, &p); err != nil {
				t.Fatal(err)
			}
			id = p["id"]
		}
		if k, ok := wire.KeyOf(id); req.Method != wire.CancelMethod || !req.Notification || !ok || k != (wire.Key{Num: 1}) {
			t.Errorf("%s decodes to %+v, id %#v", name, req, id)
		}
	}
	for _, name := range []string{"response_meta", "response_error_meta"} {
		var r wire.Reply
		if err := c.DecodeReply(readGolden(t, name), &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var n int64
		if !maps.Equal(r.Meta, goldenReplyMeta) || r.ID.Seq != 1 ||
			name == "response_meta" && (r.Error != nil || r.Result.Decode(&n) != nil || n != 19) ||
			name == "response_error_meta" && (r.Error == nil || r.Error.Code != wire.CodeDeadline) {
			t.Errorf("%s decodes to %+v", name, r)
		}
	}
}

// TestPythonReadsMeta: Python's msgpack reads the golden messages with
// metadata as the arrays of five (four for a notification) that they are,
// and what it packs for a request with metadata decodes here.
func TestPythonReadsMeta(t *testing.T) {
	t.Parallel()
	skipWithoutPython(t)
	script := `
import sys, msgpack
def load(name):
    with open(name, "rb") as f:
        return msgpack.unpackb(f.read(), raw=False)
tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
assert load("call_meta.msgpack") == [0, 1, "subtract", [42, 23], {"polyrpc-timeout-ms": "1500", "traceparent": tp}]
assert load("call_notification_meta.msgpack") == [2, "update", [1, 2], {"traceparent": tp}]
assert load("call_cancel_positional.msgpack") == [2, "$/cancelRequest", [{"id": 1}]]
r = load("response_meta.msgpack")
assert len(r) == 5 and r[:4] == [1, 1, None, 19] and r[4]["x-request-id"] == "f81d4fae-7dec", r
sys.stdout.write(msgpack.packb([0, 7, "greet", ["py"], {"x-test": "from python"}], use_bin_type=True).hex())
`
	cmd := exec.Command(systemPython, "-c", script)
	cmd.Dir = filepath.Join("testdata", "golden")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	s, c, _ := newServer(t)
	msg := hexb(string(out))
	var req wire.Request
	if err := c.DecodeRequest(msg, &req); err != nil || req.Entries.MD()["x-test"] != "from python" {
		t.Fatalf("Python's request: %+v, %v", req, err)
	}
	if got, want := serve(s, c, msg), pack(t, []any{1, 7, nil, "hello, py"}); !bytes.Equal(got, want) {
		t.Errorf("reply % x, want % x", got, want)
	}
}

// TestMetaRoundTrip: metadata survives a call and a response; without it
// the bytes are those of the specification's messages, and a response
// carries metadata only to a request that carried some.
func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	md := metadata.MD{"a": "1", "b.c_d-e": "tab\t é 😀", "z": "", "long": strings.Repeat("v", 300)}
	for _, notification := range []bool{false, true} {
		call := wire.Call{Method: "m", ID: wire.ID{Seq: 5}, Notification: notification, Args: []any{1}}
		plain, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatal(err)
		}
		call.Meta = metadata.MD{}
		if empty, _ := c.AppendCall(nil, &call); !bytes.Equal(empty, plain) {
			t.Errorf("empty metadata: % x, want % x", empty, plain)
		}
		call.Meta = md
		if without, _ := msgpack.New(msgpack.WithoutCallMetadata()).AppendCall(nil, &call); !bytes.Equal(without, plain) {
			t.Errorf("WithoutCallMetadata: % x, want % x", without, plain)
		}
		var req wire.Request
		if err := c.DecodeRequest(plain, &req); err != nil || req.Entries.MD() != nil || req.Dialect != 0 {
			t.Errorf("% x: meta %v, dialect %d, %v", plain, req.Entries.MD(), req.Dialect, err)
		}
		msg, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DecodeRequest(msg, &req); err != nil || !maps.Equal(req.Entries.MD(), md) || req.Notification != notification ||
			req.Dialect != msgpack.DialectMeta || req.Method != "m" {
			t.Errorf("% x: %+v, %v", msg, req, err)
		}
	}

	resp := wire.Response{ID: wire.ID{Raw: []byte{5}}, Result: "ok", Meta: md}
	notAsked, err := c.AppendResponse(nil, &resp)
	if want := pack(t, []any{1, 5, nil, "ok"}); err != nil || !bytes.Equal(notAsked, want) {
		t.Errorf("to a request without metadata: % x, %v; want % x", notAsked, err, want)
	}
	resp.Dialect = msgpack.DialectMeta
	msg, err := c.AppendResponse(nil, &resp)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Reply
	if err := c.DecodeReply(msg, &r); err != nil || !maps.Equal(r.Meta, md) {
		t.Errorf("% x: meta %v, %v", msg, r.Meta, err)
	}
	resp.Meta = nil
	if none, _ := c.AppendResponse(nil, &resp); !bytes.Equal(none, notAsked) {
		t.Errorf("no reply metadata: % x, want % x", none, notAsked)
	}

	// Over a server: an empty map asks for the reply's metadata without
	// sending any; nil is as none.
	s, sc, _ := newServer(t)
	for _, tc := range []struct {
		req  []any
		want []any
	}{
		{[]any{0, 1, "greet", []any{"x"}, map[string]string{}}, []any{1, 1, nil, "hello, x"}},
		{[]any{0, 1, "greet", []any{"x"}, nil}, []any{1, 1, nil, "hello, x"}},
		{[]any{0, 1, "greet", []any{"x"}, map[string]string{"polyrpc-timeout-ms": "1000"}}, []any{1, 1, nil, "hello, x"}},
		{[]any{0, 1, "greet", []any{"x"}, map[string]string{"K": "v"}},
			[]any{1, 1, wireError{Code: wire.CodeInvalidRequest, Message: `invalid request: metadata: key "K": only a-z, 0-9, '-', '_' and '.'`}, nil}},
		{[]any{0, 1, "greet", []any{"x"}, map[string]string{}, nil},
			[]any{1, 1, wireError{Code: wire.CodeInvalidRequest, Message: "invalid request: a request is [0, msgid, method, params] or [0, msgid, method, params, meta], not an array of 6"}, nil}},
		{[]any{2, "greet", []any{"x"}, map[string]string{}, nil},
			[]any{1, nil, wireError{Code: wire.CodeInvalidRequest, Message: "invalid request: a notification is [2, method, params] or [2, method, params, meta], not an array of 5"}, nil}},
	} {
		if got, want := serve(s, sc, pack(t, tc.req)), pack(t, tc.want); !bytes.Equal(got, want) {
			t.Errorf("%v:\n got % x\nwant % x", tc.req, got, want)
		}
	}
}

// TestMetaRefused: metadata that is not a map of strings, or beyond
// metadata's bounds, is an invalid request that keeps its msgid, and a
// reply carrying it is an error on a client.
func TestMetaRefused(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m["k"+strconv.Itoa(i)] = "v"
		}
		return m
	}
	tests := []struct {
		meta any
		why  string
	}{
		{[]any{}, "meta must be a map of strings, not an array"},
		{"k=v", "meta must be a map of strings, not a string"},
		{1, "meta must be a map of strings, not an integer"},
		{map[string]any{"a": 1}, "meta must be a map of strings: a is an integer"},
		{map[string]any{"a": nil}, "meta must be a map of strings: a is a nil"},
		{map[string]any{"a": []any{"b"}}, "meta must be a map of strings: a is an array"},
		{map[int]string{1: "a"}, "meta must be a map of strings: a key is an integer"},
		{map[string]string{"Upper": "x"}, `metadata: key "Upper": only a-z`},
		{map[string]string{"": "x"}, `metadata: key of 0 bytes`},
		{map[string]string{"host": "x"}, `metadata: key "host" is an HTTP header of HTTP's own`},
		{map[string]string{"a": "line\nbreak"}, `metadata a: value with control character 0xa`},
		{map[string]string{strings.Repeat("k", 65): "x"}, `metadata: key of 65 bytes: want 1 to 64`},
		{map[string]string{"a": strings.Repeat("v", 4097)}, `metadata a: value of 4097 bytes, more than 4096`},
		{many(65), `metadata: more than 64 entries`},
	}
	for _, tc := range tests {
		msg := pack(t, []any{0, 9, "m", []any{}, tc.meta})
		var req wire.Request
		err := c.DecodeRequest(msg, &req)
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != wire.CodeInvalidRequest || !strings.Contains(e.Message, tc.why) || !bytes.Equal(req.ID.Raw, []byte{9}) {
			t.Errorf("meta %.80v: %v (id % x), want -32600 with %q", tc.meta, err, req.ID.Raw, tc.why)
		}
		var r wire.Reply
		err = c.DecodeReply(pack(t, []any{1, 9, nil, 1, tc.meta}), &r)
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "msgpack: the reply's meta: ") {
			t.Errorf("reply meta %.80v: %v, want a plain error with %q", tc.meta, err, tc.why)
		}
	}
	// At the bounds, and str or bin: accepted.
	for _, meta := range []any{many(64), map[string]string{strings.Repeat("k", 64): strings.Repeat("v", 4096)},
		map[string][]byte{"bin": []byte("value")}} {
		var req wire.Request
		if err := c.DecodeRequest(pack(t, []any{0, 9, "m", []any{}, meta}), &req); err != nil || len(req.Entries.MD()) == 0 {
			t.Errorf("meta %.80v: %v", meta, err)
		}
	}
}

// TestIDKey: the key of a msgid as it stood in a request is the key of
// the natural value the codec decodes that msgid into, as $/cancelRequest's
// params name it.
func TestIDKey(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	ids := []any{
		0, 1, 127, 128, 255, 256, uint32(math.MaxUint32), int64(math.MaxInt64), uint64(math.MaxInt64) + 1, uint64(math.MaxUint64),
		-1, -32, -33, int64(math.MinInt64), float32(1), 1.0, 1.5, -1.0, math.Inf(1), math.NaN(), 1e19,
		"abc", "1", "", []byte("1"), nil, true, []any{}, map[string]any{},
	}
	for _, id := range ids {
		raw := pack(t, id)
		got, gotOK := c.IDKey(raw)
		var req wire.Request
		if err := c.DecodeRequest(pack(t, []any{2, wire.CancelMethod, map[string]any{"id": id}}), &req); err != nil {
			t.Fatalf("%v: %v", id, err)
		}
		var v any
		err := req.Params.DecodeNamed("id", &v)
		want, wantOK := wire.KeyOf(v)
		if err != nil {
			want, wantOK = wire.Key{}, false
		}
		if got != want || gotOK != wantOK {
			t.Errorf("IDKey(% x) = %+v, %v; KeyOf(%#v) = %+v, %v", raw, got, gotOK, v, want, wantOK)
		}
	}
	for raw, want := range map[string]wire.Key{
		"\x07": {Num: 7}, "\xce\xff\xff\xff\xff": {Num: math.MaxUint32}, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff": {Num: math.MaxUint64},
		"\xff": {Str: "-1", IsStr: true}, "\xa1\x37": {Str: "\x007", IsStr: true},
	} {
		if got, ok := c.IDKey([]byte(raw)); !ok || got != want {
			t.Errorf("IDKey(% x) = %+v, %v; want %+v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"", "\xc0", "\xc4\x01\x31", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", "\x07\x07", "\xce\xff", "\xc1"} {
		if got, ok := c.IDKey([]byte(raw)); ok {
			t.Errorf("IDKey(% x) = %+v, want none", raw, got)
		}
	}
}

// TestMetadataOverTCP: metadata, deadlines and cancellation end to end,
// through rpc.Server behind tcprpc, framed and unframed.
func TestMetadataOverTCP(t *testing.T) {
	t.Parallel()
	metatest.Run(t, msgpack.New())
}

// TestMetaAllocs: a call's metadata in entries encodes without an
// allocation, and a request's decodes with one, which its keys and values
// share.
func TestMetaAllocs(t *testing.T) {
	c := msgpack.New()
	var e wire.Entries
	e.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	e.Add(metadata.TimeoutKey, "1500")
	args := []any{int64(1), int64(2)}
	call := wire.Call{Method: "add", ID: wire.ID{Seq: 1}, Args: args, Entries: &e}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _, _ = c.AppendCall(buf[:0], &call) }); n != 0 {
		t.Errorf("AppendCall with entries: %v allocations", n)
	}
	withMeta, _ := c.AppendCall(nil, &call)
	call.Entries = nil
	plain, _ := c.AppendCall(nil, &call)
	var req wire.Request
	decode := func(msg []byte) func() {
		return func() {
			if err := c.DecodeRequest(msg, &req); err != nil {
				t.Fatal(err)
			}
		}
	}
	without, with := testing.AllocsPerRun(100, decode(plain)), testing.AllocsPerRun(100, decode(withMeta))
	if with != without+1 {
		t.Errorf("DecodeRequest: %v allocations with metadata, %v without", with, without)
	}
}
