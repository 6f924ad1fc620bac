package proto_test

import (
	"bytes"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/internal/metatest"
	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenMeta: the golden messages with metadata are what protobuf-go
// marshals for the generated messages with the same fields, and decode to
// the values they were encoded from.
func TestGoldenMeta(t *testing.T) {
	t.Parallel()
	c := proto.New()
	tp := goldenCallMeta["traceparent"]
	idMap := &polyrpcpb.Value{Kind: &polyrpcpb.Value_MapValue{MapValue: &polyrpcpb.Map{
		Fields: map[string]*polyrpcpb.Value{"id": {Kind: &polyrpcpb.Value_UintValue{UintValue: 1}}}}}}
	for name, want := range map[string]pb.Message{
		"call_meta": &polyrpcpb.Request{Id: 1, Method: "subtract", Params: []*polyrpcpb.Value{vInt(42), vInt(23)},
			Meta: goldenCallMeta},
		"call_notification_meta": &polyrpcpb.Request{Method: "update", Params: []*polyrpcpb.Value{vInt(1), vInt(2)},
			Notification: true, Meta: map[string]string{"traceparent": tp}},
		"call_cancel": &polyrpcpb.Request{Method: wire.CancelMethod, Named: idMap.GetMapValue(), Notification: true},
		"call_cancel_positional": &polyrpcpb.Request{Method: wire.CancelMethod, Params: []*polyrpcpb.Value{idMap},
			Notification: true},
		"response_meta": &polyrpcpb.Response{Id: 1, Result: vInt(19), Meta: goldenReplyMeta},
		"response_error_meta": &polyrpcpb.Response{Id: 1, Error: &polyrpcpb.Error{Code: int64(wire.CodeDeadline),
			Message: "deadline exceeded"}, Meta: goldenReplyMeta},
	} {
		if got, marshalled := readGolden(t, name), marshal(t, want); !bytes.Equal(got, marshalled) {
			t.Errorf("%s:\n got % x\nwant % x", name, got, marshalled)
		}
	}

	var req wire.Request
	if err := c.DecodeRequest(readGolden(t, "call_meta"), &req); err != nil {
		t.Fatal(err)
	}
	var a, b int64
	if req.Method != "subtract" || req.Dialect != proto.DialectMeta || !maps.Equal(req.Entries.MD(), goldenCallMeta) ||
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
			if err := req.Params.DecodeNamed("id", &id); err != nil {
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

// TestMetaRoundTrip: metadata survives a call and a response; without it
// the bytes are those of a message without the field, and a response
// carries metadata only to a request that carried some.
func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	c := proto.New()
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
		msg, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatal(err)
		}
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil || !maps.Equal(req.Entries.MD(), md) || req.Notification != notification ||
			req.Dialect != proto.DialectMeta {
			t.Errorf("% x: %+v, %v", msg, req, err)
		}
		var ref polyrpcpb.Request
		if err := pb.Unmarshal(msg, &ref); err != nil || !maps.Equal(ref.Meta, md) || !bytes.Equal(marshal(t, &ref), msg) {
			t.Errorf("protobuf-go reads % x as %v, %v", msg, &ref, err)
		}
	}
	if _, err := c.AppendCall(nil, &wire.Call{Method: "m", Meta: metadata.MD{"a": "bad\xff"}}); err == nil {
		t.Error("a value that is not UTF-8 encoded in a call")
	}

	resp := wire.Response{ID: wire.ID{Raw: []byte{5}}, Result: "ok", Meta: md}
	notAsked, err := c.AppendResponse(nil, &resp)
	if want := marshal(t, &polyrpcpb.Response{Id: 5, Result: &polyrpcpb.Value{Kind: &polyrpcpb.Value_StringValue{StringValue: "ok"}}}); err != nil || !bytes.Equal(notAsked, want) {
		t.Errorf("to a request without metadata: % x, %v; want % x", notAsked, err, want)
	}
	resp.Dialect = proto.DialectMeta
	msg, err := c.AppendResponse(nil, &resp)
	if err != nil {
		t.Fatal(err)
	}
	var r wire.Reply
	if err := c.DecodeReply(msg, &r); err != nil || !maps.Equal(r.Meta, md) {
		t.Errorf("% x: meta %v, %v", msg, r.Meta, err)
	}
	resp.Meta = metadata.MD{"a": "bad\xff"}
	if msg, err := c.AppendResponse(nil, &resp); err != nil || c.DecodeReply(msg, &r) != nil || r.Meta["a"] != "bad\uFFFD" {
		t.Errorf("a reply value that is not UTF-8: % x, %v, %v", msg, err, r.Meta)
	}
	resp.Meta = nil
	if none, _ := c.AppendResponse(nil, &resp); !bytes.Equal(none, notAsked) {
		t.Errorf("no reply metadata: % x, want % x", none, notAsked)
	}
}

// metaEntry appends one entry of the meta field num, key and value as
// given, to b.
func metaEntry(b []byte, num protowire.Number, key, val string) []byte {
	var e []byte
	e = protowire.AppendTag(e, 1, protowire.BytesType)
	e = protowire.AppendString(e, key)
	e = protowire.AppendTag(e, 2, protowire.BytesType)
	e = protowire.AppendString(e, val)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, e)
}

// TestMetaRefused: metadata beyond metadata's bounds, or that it refuses,
// is an invalid request that keeps its id, and a reply carrying it is an
// error on a client; text that is not UTF-8 is malformed, as protobuf-go
// has it.
func TestMetaRefused(t *testing.T) {
	t.Parallel()
	c := proto.New()
	type kv struct{ k, v string }
	many := func(n int, dup bool) []kv {
		var out []kv
		for i := range n {
			k := "k" + strconv.Itoa(i)
			if dup {
				k = "k"
			}
			out = append(out, kv{k, "v"})
		}
		return out
	}
	tests := []struct {
		entries []kv
		why     string
	}{
		{[]kv{{"Upper", "x"}}, `metadata: key "Upper": only a-z`},
		{[]kv{{"", "x"}}, `metadata: key of 0 bytes`},
		{[]kv{{"host", "x"}}, `metadata: key "host" is an HTTP header of HTTP's own`},
		{[]kv{{"a", "line\nbreak"}}, `metadata a: value with control character 0xa`},
		{[]kv{{strings.Repeat("k", 65), "x"}}, `metadata: key of 65 bytes: want 1 to 64`},
		{[]kv{{"a", strings.Repeat("v", 4097)}}, `metadata a: value of 4097 bytes, more than 4096`},
		{many(65, false), `metadata: more than 64 entries`},
		{many(65, true), `metadata: more than 64 entries`},
	}
	for _, tc := range tests {
		req := marshal(t, &polyrpcpb.Request{Id: 9, Method: "m"})
		reply := marshal(t, &polyrpcpb.Response{Id: 9, Result: vInt(1)})
		for _, e := range tc.entries {
			req = metaEntry(req, 6, e.k, e.v)
			reply = metaEntry(reply, 4, e.k, e.v)
		}
		var ref polyrpcpb.Request
		if err := pb.Unmarshal(req, &ref); err != nil {
			t.Fatalf("protobuf-go refuses % .40x: %v", req, err)
		}
		var wr wire.Request
		err := c.DecodeRequest(req, &wr)
		var e *wire.Error
		if !errors.As(err, &e) || e.Code != wire.CodeInvalidRequest || !strings.Contains(e.Message, tc.why) || !bytes.Equal(wr.ID.Raw, []byte{9}) {
			t.Errorf("meta %.60v: %v (id % x), want -32600 with %q", tc.entries, err, wr.ID.Raw, tc.why)
		}
		var r wire.Reply
		err = c.DecodeReply(reply, &r)
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "proto: the reply's meta: ") {
			t.Errorf("reply meta %.60v: %v, want a plain error with %q", tc.entries, err, tc.why)
		}
	}
	// Not UTF-8: malformed, for protobuf-go too.
	for _, bad := range [][]kv{{{"a", "bad\xff"}}, {{"a\xff", "v"}}} {
		req := metaEntry(marshal(t, &polyrpcpb.Request{Id: 9, Method: "m"}), 6, bad[0].k, bad[0].v)
		var ref polyrpcpb.Request
		if pb.Unmarshal(req, &ref) == nil {
			t.Errorf("protobuf-go reads % x", req)
		}
		var wr wire.Request
		var e *wire.Error
		if err := c.DecodeRequest(req, &wr); !errors.As(err, &e) || e.Code != wire.CodeParseError {
			t.Errorf("% x: %v, want a parse error", req, err)
		}
	}
	// At the bounds, a key given twice (the last value counts), an entry
	// laid out oddly (value first, an unknown field, the key twice): read
	// as protobuf-go reads them.
	req := marshal(t, &polyrpcpb.Request{Id: 9, Method: "m"})
	for _, e := range many(62, false) {
		req = metaEntry(req, 6, e.k, e.v)
	}
	req = metaEntry(req, 6, "k0", "second")
	odd := []byte{0x12, 0x01, 'v', 0x18, 0x05, 0x0a, 0x01, 'x', 0x0a, 0x01, 'y'}
	req = protowire.AppendBytes(protowire.AppendTag(req, 6, protowire.BytesType), odd)
	var ref polyrpcpb.Request
	if err := pb.Unmarshal(req, &ref); err != nil {
		t.Fatal(err)
	}
	var wr wire.Request
	if err := c.DecodeRequest(req, &wr); err != nil || !maps.Equal(wr.Entries.MD(), ref.Meta) || wr.Entries.MD()["k0"] != "second" || wr.Entries.MD()["y"] != "v" {
		t.Errorf("meta %v, protobuf-go reads %v: %v", wr.Entries.MD(), ref.Meta, err)
	}
}

// TestIDKey: the key of an id as it stood in a request is the key of the
// value the id decodes into when $/cancelRequest's params name it.
func TestIDKey(t *testing.T) {
	t.Parallel()
	c := proto.New()
	for _, id := range []uint64{1, 127, 128, 1 << 32, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		var req wire.Request
		if err := c.DecodeRequest(marshal(t, &polyrpcpb.Request{Id: id, Method: "m"}), &req); err != nil {
			t.Fatal(err)
		}
		got, ok := c.IDKey(req.ID.Raw)
		for _, v := range []*polyrpcpb.Value{
			{Kind: &polyrpcpb.Value_UintValue{UintValue: id}},
			{Kind: &polyrpcpb.Value_IntValue{IntValue: int64(id)}},
		} {
			var cancel wire.Request
			msg := marshal(t, &polyrpcpb.Request{Method: wire.CancelMethod, Notification: true,
				Named: &polyrpcpb.Map{Fields: map[string]*polyrpcpb.Value{"id": v}}})
			if err := c.DecodeRequest(msg, &cancel); err != nil {
				t.Fatal(err)
			}
			var n any
			if err := cancel.Params.DecodeNamed("id", &n); err != nil {
				t.Fatal(err)
			}
			want, wantOK := wire.KeyOf(n)
			// An int_value above int64 is a negative number: no such id.
			if match := v.GetIntValue() >= 0; match && (got != want || ok != wantOK) || !match && got == want {
				t.Errorf("id %d: IDKey %+v, %v; KeyOf(%#v) %+v, %v", id, got, ok, n, want, wantOK)
			}
		}
	}
	for _, raw := range [][]byte{nil, {}, {0x80}, {0x01, 0x01}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if got, ok := c.IDKey(raw); ok {
			t.Errorf("IDKey(% x) = %+v, want none", raw, got)
		}
	}
}

// TestMetadataOverTCP: metadata, deadlines and cancellation end to end,
// through rpc.Server behind tcprpc.
func TestMetadataOverTCP(t *testing.T) {
	t.Parallel()
	metatest.Run(t, proto.New())
}
