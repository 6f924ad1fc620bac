package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// The metadata of the golden messages that carry some: a call's deadline
// and trace, and a reply's.
var (
	goldenCallMeta = metadata.MD{
		metadata.TimeoutKey: "1500",
		"traceparent":       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	goldenReplyMeta = metadata.MD{"x-request-id": "f81d4fae-7dec", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"}
)

// goldenCases are the encoder outputs fixed byte for byte in
// testdata/golden/<name>.json. The call_* files are requests, and seed
// FuzzDecodeRequest.
func goldenCases() map[string]func(c *json.Codec) ([]byte, error) {
	id := func(raw string) wire.ID { return wire.ID{Raw: []byte(raw)} }
	resp := func(r wire.Response) func(c *json.Codec) ([]byte, error) {
		return func(c *json.Codec) ([]byte, error) { return c.AppendResponse(nil, &r) }
	}
	call := func(r wire.Call) func(c *json.Codec) ([]byte, error) {
		return func(c *json.Codec) ([]byte, error) { return c.AppendCall(nil, &r) }
	}
	return map[string]func(c *json.Codec) ([]byte, error){
		"response_result": resp(wire.Response{ID: id("1"), Dialect: json.Dialect2, Result: int64(19)}),
		"response_result_exact_ints": resp(wire.Response{ID: id("9007199254740993"), Dialect: json.Dialect2,
			Result: []any{int64(1<<53 + 1), int64(math.MinInt64), uint64(math.MaxUint64)}}),
		"response_result_floats": resp(wire.Response{ID: id("1"), Dialect: json.Dialect2,
			Result: []any{0.1, 0.0, math.Copysign(0, -1), 1e20, 1e21, 1e-6, 1e-7, float32(0.1), float32(math.Copysign(0, -1)), math.MaxFloat64}}),
		"response_result_string": resp(wire.Response{ID: id(`"abc"`), Dialect: json.Dialect2,
			Result: "quote\" back\\ <tag> & \n\t\x01 é 😀 \u2028 bad\xff"}),
		"response_result_struct": resp(wire.Response{ID: id("1.0e3"), Dialect: json.Dialect2,
			Result: Point{X: 1, Y: -2, Label: "p"}}),
		"response_result_map": resp(wire.Response{ID: id("1"), Dialect: json.Dialect2,
			Result: map[string]any{"z": nil, "a": []any{true, false}, "m": map[string]int{"y": 2, "x": 1}}}),
		"response_result_null_id": resp(wire.Response{Dialect: json.Dialect2, Result: nil}),
		"response_error": resp(wire.Response{ID: id("1"), Dialect: json.Dialect2,
			Error: &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not found: foobar"}}),
		"response_error_data": resp(wire.Response{ID: id(`"x"`), Dialect: json.Dialect2,
			Error: &wire.Error{Code: 42, Message: "boom", Data: map[string]any{"why": "because", "n": int64(math.MaxInt64)}}}),
		"response_error_null_id": resp(wire.Response{
			Error: &wire.Error{Code: wire.CodeParseError, Message: "parse error"}}),
		"response_v1_result": resp(wire.Response{ID: id("7"), Dialect: json.Dialect1, Result: "ok"}),
		"response_v1_error": resp(wire.Response{ID: id("7"), Dialect: json.Dialect1,
			Error: &wire.Error{Code: wire.CodeInvalidParams, Message: "invalid params"}}),
		"call_positional": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Args: []any{42, 23}}),
		"call_named_map": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 3},
			Named: map[string]any{"subtrahend": 23, "minuend": 42}}),
		"call_named_struct":  call(wire.Call{Method: "point", ID: wire.ID{Seq: 4}, Named: Point{X: 1, Y: 2, Label: "<p>"}}),
		"call_named_nil_map": call(wire.Call{Method: "get_data", ID: wire.ID{Seq: 5}, Named: map[string]any(nil)}),
		"call_no_params":     call(wire.Call{Method: "get_data", ID: wire.ID{Seq: 18446744073709551615}}),
		"call_empty_params":  call(wire.Call{Method: "sum", ID: wire.ID{Seq: 6}, Args: []any{}}),
		"call_notification":  call(wire.Call{Method: "update", Notification: true, Args: []any{1, 2, 3, 4, 5}}),
		"call_exact_ints": call(wire.Call{Method: "list", ID: wire.ID{Seq: 9},
			Args: []any{int64(1<<53 + 1), int64(math.MinInt64), uint64(math.MaxUint64), "é"}}),
		"call_meta": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Args: []any{42, 23}, Meta: goldenCallMeta}),
		"call_notification_meta": call(wire.Call{Method: "update", Notification: true, Args: []any{1, 2, 3, 4, 5},
			Meta: metadata.MD{"traceparent": goldenCallMeta["traceparent"]}}),
		"call_cancel": call(wire.Call{Method: wire.CancelMethod, Notification: true, Named: map[string]any{"id": uint64(1)}}),
		"response_meta": resp(wire.Response{ID: id("1"), Dialect: json.Dialect2 | json.DialectMeta, Result: int64(19),
			Meta: goldenReplyMeta}),
		"response_error_meta": resp(wire.Response{ID: id("1"), Dialect: json.Dialect2 | json.DialectMeta,
			Error: &wire.Error{Code: wire.CodeDeadline, Message: "deadline exceeded"}, Meta: goldenReplyMeta}),
		"response_v1_meta": resp(wire.Response{ID: id("7"), Dialect: json.Dialect1 | json.DialectMeta, Result: "ok",
			Meta: goldenReplyMeta}),
		"batch": func(c *json.Codec) ([]byte, error) {
			return c.AppendBatch(nil, [][]byte{
				[]byte(`{"jsonrpc":"2.0","result":7,"id":"1"}`),
				[]byte(`{"jsonrpc":"2.0","error":{"code":-32600,"message":"invalid request"},"id":null}`),
			}), nil
		},
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	c := json.New()
	for name, encode := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := encode(c)
			if err != nil {
				t.Fatal(err)
			}
			if !stdjson.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s:\n got %s\nwant %s", path, got, want)
			}
		})
	}
}

// TestGoldenCallsServe sends every golden call to a server, so the fixtures
// are requests the server accepts, not only bytes the encoder happens to
// write.
func TestGoldenCallsServe(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "call_*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden calls: %v", err)
	}
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		reply := serve(s, c, string(msg))
		if req.Notification != (reply == "") {
			t.Errorf("%s: notification %v, reply %q", f, req.Notification, reply)
		}
		if reply != "" && parseReply(t, reply).Error != nil {
			t.Errorf("%s: %s", f, reply)
		}
	}
}
