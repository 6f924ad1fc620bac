package msgpack_test

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/msgpack"
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
// testdata/golden/<name>.msgpack. The call_* files are requests, and seed
// the fuzz tests, as do the response_* files.
func goldenCases() map[string]func(c *msgpack.Codec) ([]byte, error) {
	id := func(raw ...byte) wire.ID { return wire.ID{Raw: raw} }
	resp := func(r wire.Response) func(c *msgpack.Codec) ([]byte, error) {
		return func(c *msgpack.Codec) ([]byte, error) { return c.AppendResponse(nil, &r) }
	}
	call := func(r wire.Call) func(c *msgpack.Codec) ([]byte, error) {
		return func(c *msgpack.Codec) ([]byte, error) { return c.AppendCall(nil, &r) }
	}
	return map[string]func(c *msgpack.Codec) ([]byte, error){
		"response_result": resp(wire.Response{ID: id(1), Result: int64(19)}),
		"response_result_exact_ints": resp(wire.Response{ID: id(0xce, 0xff, 0xff, 0xff, 0xff),
			Result: []any{int64(1<<53 + 1), int64(math.MinInt64), uint64(math.MaxUint64), -1, -32, -33, 127, 128, 255, 256, 65535, 65536, int64(math.MinInt32)}}),
		"response_result_floats": resp(wire.Response{ID: id(2),
			Result: []any{0.1, math.Copysign(0, -1), float32(0.1), math.MaxFloat64, math.Inf(1), 1e-320}}),
		"response_result_strings": resp(wire.Response{ID: id(3),
			Result: []any{"", "wörld 😀", strings.Repeat("a", 31), strings.Repeat("b", 32), strings.Repeat("c", 256)}}),
		"response_result_binary": resp(wire.Response{ID: id(4),
			Result: []any{[]byte{}, []byte{0, 0xc1, 0xff}, [2]byte{7, 8}, []byte(nil)}}),
		"response_result_times": resp(wire.Response{ID: id(5), Result: []any{
			time.Unix(1700000000, 0),
			time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("", 5*3600+1800)),
			time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
			time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		}}),
		"response_result_struct": resp(wire.Response{ID: id(6), Result: Record{
			Embedded: Embedded{ID: 1, Owner: "o"}, Name: "n", Ratio: 0.25,
			When: time.Unix(0, 0), Attrs: map[string]int{"z": 1, "a": 2}, Any: []any{nil, true},
		}}),
		"response_result_map": resp(wire.Response{ID: id(7),
			Result: map[string]any{"z": nil, "a": []any{true, false}, "m": map[string]int{"y": 2, "x": 1}, "": map[string]any{}}}),
		"response_result_nil_id": resp(wire.Response{Result: nil}),
		"response_error": resp(wire.Response{ID: id(1),
			Error: &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not found: foobar"}}),
		"response_error_data": resp(wire.Response{ID: id(0xa1, 'x'),
			Error: &wire.Error{Code: 42, Message: "boom", Data: map[string]any{"why": "because", "n": int64(math.MaxInt64)}}}),
		"response_error_nil_id": resp(wire.Response{Error: &wire.Error{Code: wire.CodeParseError, Message: "parse error"}}),
		"call_positional":       call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Args: []any{42, 23}}),
		"call_named_map": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 3},
			Named: map[string]any{"subtrahend": 23, "minuend": 42}}),
		"call_named_struct": call(wire.Call{Method: "point", ID: wire.ID{Seq: 4}, Named: Point{X: 1, Y: 2, Label: "p"}}),
		"call_no_params":    call(wire.Call{Method: "ping", ID: wire.ID{Seq: math.MaxUint64}}),
		"call_notification": call(wire.Call{Method: "update", Notification: true, Args: []any{1, 2}}),
		"call_exact_ints": call(wire.Call{Method: "list", ID: wire.ID{Seq: 9},
			Args: []any{int64(1<<53 + 1), int64(math.MinInt64), uint64(math.MaxUint64), "é", []byte("é")}}),
		"call_many_params": call(wire.Call{Method: "sum", ID: wire.ID{Seq: 70000},
			Args: []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}}),
		"call_meta": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Args: []any{42, 23}, Meta: goldenCallMeta}),
		"call_notification_meta": call(wire.Call{Method: "update", Notification: true, Args: []any{1, 2},
			Meta: metadata.MD{"traceparent": goldenCallMeta["traceparent"]}}),
		"call_cancel": call(wire.Call{Method: wire.CancelMethod, Notification: true, Named: map[string]any{"id": uint64(1)}}),
		"call_cancel_positional": call(wire.Call{Method: wire.CancelMethod, Notification: true,
			Args: []any{map[string]any{"id": uint64(1)}}}),
		"response_meta": resp(wire.Response{ID: id(1), Dialect: msgpack.DialectMeta, Result: int64(19), Meta: goldenReplyMeta}),
		"response_error_meta": resp(wire.Response{ID: id(1), Dialect: msgpack.DialectMeta,
			Error: &wire.Error{Code: wire.CodeDeadline, Message: "deadline exceeded"}, Meta: goldenReplyMeta}),
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	for name, encode := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := encode(c)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".msgpack")
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
				t.Errorf("%s:\n got % x\nwant % x", path, got, want)
			}
		})
	}
}

// TestGoldenCallsServe sends every golden call to a server, so the fixtures
// are requests the server accepts, not only bytes the encoder happens to
// write; and decodes every golden response as a client.
func TestGoldenCallsServe(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.msgpack"))
	if err != nil || len(files) < len(goldenCases()) {
		t.Fatalf("golden files %q: %v", files, err)
	}
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(filepath.Base(f), "response_") {
			var r wire.Reply
			if err := c.DecodeReply(msg, &r); err != nil {
				t.Errorf("%s: %v", f, err)
			}
			continue
		}
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		out := serve(s, c, msg)
		if req.Notification != (len(out) == 0) {
			t.Errorf("%s: notification %v, reply % x", f, req.Notification, out)
			continue
		}
		var r wire.Reply
		if len(out) > 0 && (c.DecodeReply(out, &r) != nil || r.Error != nil) {
			t.Errorf("%s: reply % x: %v", f, out, r.Error)
		}
	}
}

// TestEncodeMatchesLibrary checks the codec's encoder against
// vmihailenco/msgpack's, with compact integers and sorted map keys, on
// values at the boundaries of every format.
func TestEncodeMatchesLibrary(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	var values []any
	for _, n := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64} {
		values = append(values, n)
	}
	for _, n := range []int{0, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		values = append(values, strings.Repeat("s", n), bytes.Repeat([]byte{'b'}, n), make([]any, n))
		m := map[string]any{}
		for i := range min(n, 300) {
			m[strings.Repeat("k", i)] = i
		}
		values = append(values, m)
	}
	values = append(values, uint64(math.MaxUint64), float32(1.5), 1.5, math.Inf(-1), true, false, nil,
		time.Unix(0, 0), time.Unix(math.MaxUint32, 0), time.Unix(math.MaxUint32+1, 0), time.Unix(1, 1),
		time.Unix(1<<34-1, 999999999), time.Unix(1<<34, 0), time.Unix(-1, 0), time.Date(-5000, 1, 1, 0, 0, 0, 7, time.UTC),
		[]string{"a"}, map[string]string{"b": "1", "a": "2"}, Point{X: 1})
	for i, v := range values {
		got, err := c.AppendResponse(nil, &wire.Response{Result: v})
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if want := pack(t, []any{1, nil, nil, v}); !bytes.Equal(got, want) {
			t.Errorf("value %d (%T):\n got % .60x\nwant % .60x", i, v, got, want)
		}
	}
}
