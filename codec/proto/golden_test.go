package proto_test

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/internal/testvals"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
	pb "google.golang.org/protobuf/proto"
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
// testdata/golden/<name>.bin. The call_* files are requests, and seed
// FuzzDecodeRequest; the response_* files seed FuzzDecodeReply.
func goldenCases() map[string]func(c *proto.Codec) ([]byte, error) {
	id := func(n byte) wire.ID { return wire.ID{Raw: []byte{n}} }
	resp := func(r wire.Response) func(c *proto.Codec) ([]byte, error) {
		return func(c *proto.Codec) ([]byte, error) { return c.AppendResponse(nil, &r) }
	}
	call := func(r wire.Call) func(c *proto.Codec) ([]byte, error) {
		return func(c *proto.Codec) ([]byte, error) { return c.AppendCall(nil, &r) }
	}
	when := time.Date(2001, 2, 3, 4, 5, 6, 789, time.FixedZone("", -(3*3600+30*60)))
	thing := &testpb.Thing{Id: 7, Name: "thing", Blob: []byte{1, 2}, Nums: []int64{-1, 1}, Labels: map[string]string{"b": "2", "a": "1"}}
	return map[string]func(c *proto.Codec) ([]byte, error){
		"call_positional": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Args: []any{42, 23}}),
		"call_named_map": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 3},
			Named: map[string]any{"subtrahend": 23, "minuend": 42}}),
		"call_named_struct": call(wire.Call{Method: "point", ID: wire.ID{Seq: 4}, Named: Point{X: 1, Y: 2, Label: "<p>"}}),
		"call_named_nil":    call(wire.Call{Method: "point", ID: wire.ID{Seq: 5}, Named: (*Point)(nil)}),
		"call_no_params":    call(wire.Call{Method: "sum", ID: wire.ID{Seq: math.MaxUint64}}),
		"call_notification": call(wire.Call{Method: "update", Notification: true, Args: []any{1, 2}}),
		"call_exact_ints": call(wire.Call{Method: "list", ID: wire.ID{Seq: 9},
			Args: []any{int64(1<<53 + 1), int64(math.MinInt64), uint64(math.MaxUint64), "é"}}),
		"call_every_kind": call(wire.Call{Method: "list", ID: wire.ID{Seq: 10}, Args: []any{
			nil, true, false, 0, -1, uint8(255), 0.5, math.Inf(-1), "", "é😀", []byte{}, []byte{0, 0xff}, when,
			[]any{}, []any{int64(1), "x", []any{nil}}, map[string]any{}, map[string]any{"b": 1, "a": []int64{}},
			[]int64{1, -1, math.MaxInt64}, []float64{0.25, -2}, thing, Point{X: 1}}}),
		"call_message":    call(wire.Call{Method: "thing", ID: wire.ID{Seq: 11}, Args: []any{thing}}),
		"call_large_ints": call(wire.Call{Method: "echoInts", ID: wire.ID{Seq: 12}, Args: []any{testvals.Ramp(100)}}),

		"response_result": resp(wire.Response{ID: id(1), Result: int64(19)}),
		"response_result_exact_ints": resp(wire.Response{ID: id(2),
			Result: []any{int64(1<<53 + 1), int64(math.MinInt64), uint64(math.MaxUint64)}}),
		"response_result_floats": resp(wire.Response{ID: id(3),
			Result: []any{0.1, math.Copysign(0, -1), 1e300, math.Inf(1), math.NaN(), float32(0.1)}}),
		"response_result_struct":  resp(wire.Response{ID: id(4), Result: Point{X: 1, Y: -2, Label: "p"}}),
		"response_result_map":     resp(wire.Response{ID: id(5), Result: map[string]any{"z": nil, "a": []any{true, false}, "m": map[string]int{"y": 2, "x": 1}}}),
		"response_result_time":    resp(wire.Response{ID: id(6), Result: when}),
		"response_result_message": resp(wire.Response{ID: id(7), Result: thing}),
		"response_result_null":    resp(wire.Response{}),
		"response_result_ints":    resp(wire.Response{ID: id(8), Result: testvals.Ramp(100)}),
		"response_error": resp(wire.Response{ID: id(9),
			Error: &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not found: foobar"}}),
		"response_error_data": resp(wire.Response{ID: id(10),
			Error: &wire.Error{Code: 42, Message: "boom", Data: map[string]any{"why": "because", "n": int64(math.MaxInt64)}}}),
		"response_error_details": resp(wire.Response{ID: id(11),
			Error: &wire.Error{Code: 7, Message: "with details", Data: thing}}),
		"response_error_null_id": resp(wire.Response{
			Error: &wire.Error{Code: wire.CodeParseError, Message: "parse error"}}),

		"call_meta": call(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Args: []any{42, 23}, Meta: goldenCallMeta}),
		"call_notification_meta": call(wire.Call{Method: "update", Notification: true, Args: []any{1, 2},
			Meta: metadata.MD{"traceparent": goldenCallMeta["traceparent"]}}),
		"call_cancel": call(wire.Call{Method: wire.CancelMethod, Notification: true, Named: map[string]any{"id": uint64(1)}}),
		"call_cancel_positional": call(wire.Call{Method: wire.CancelMethod, Notification: true,
			Args: []any{map[string]any{"id": uint64(1)}}}),
		"response_meta": resp(wire.Response{ID: id(1), Dialect: proto.DialectMeta, Result: int64(19), Meta: goldenReplyMeta}),
		"response_error_meta": resp(wire.Response{ID: id(1), Dialect: proto.DialectMeta,
			Error: &wire.Error{Code: wire.CodeDeadline, Message: "deadline exceeded"}, Meta: goldenReplyMeta}),
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	c := proto.New()
	for name, encode := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := encode(c)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".bin")
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

// TestGoldenCanonical checks that each fixture is what protobuf-go's
// deterministic marshalling makes of it: the codec's encoding is canonical.
func TestGoldenCanonical(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.bin"))
	if err != nil || len(files) < len(goldenCases()) {
		t.Fatalf("%d golden files: %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m pb.Message = &polyrpcpb.Response{}
		if strings.HasPrefix(filepath.Base(f), "call_") {
			m = &polyrpcpb.Request{}
		}
		if err := pb.Unmarshal(b, m); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if again := marshal(t, m); !bytes.Equal(again, b) {
			t.Errorf("%s: protobuf-go marshals it as\n% x\nnot\n% x", f, again, b)
		}
	}
}

// TestGoldenCallsServe sends every golden call to a server, so the fixtures
// are requests the server accepts, not only bytes the encoder happens to
// write.
func TestGoldenCallsServe(t *testing.T) {
	t.Parallel()
	s, c, _, _ := newServer(t)
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "call_*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden calls: %v", err)
	}
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Sniff(msg[0]) {
			t.Errorf("%s: Sniff(%#x) is false", f, msg[0])
		}
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		reply := s.ServeMessage(context.Background(), c, msg, nil)
		if req.Notification != (len(reply) == 0) {
			t.Errorf("%s: notification %v, reply % x", f, req.Notification, reply)
		}
		var r wire.Reply
		if len(reply) > 0 && (c.DecodeReply(reply, &r) != nil || r.Error != nil) {
			t.Errorf("%s: reply %v", f, r.Error)
		}
	}
}
