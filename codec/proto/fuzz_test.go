package proto_test

import (
	"bytes"
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// fuzzSeeds are hand-made messages beyond the golden files: merged fields,
// unknown fields and groups, packed and unpacked lists, odd encodings.
var fuzzSeeds = []string{
	// Request: id, method "echo", a Value with two list_values, merged.
	"\x08\x01\x12\x04echo\x1a\x0a\x4a\x03\x0a\x01\x00\x4a\x03\x0a\x01\x00",
	// A Value whose kind changes from list to int and back to list.
	"\x08\x01\x12\x04echo\x1a\x0c\x4a\x02\x0a\x00\x18\x02\x4a\x04\x0a\x02\x18\x04",
	// A map entry with its value given twice, and a duplicate key.
	"\x08\x01\x12\x04echo\x1a\x16\x52\x14\x0a\x08\x0a\x01k\x12\x03\x4a\x01\x00\x0a\x08\x0a\x01k\x12\x03\x18\x02\x00",
	// Named params given in two occurrences of the named field.
	"\x08\x02\x12\x04echo\x22\x07\x0a\x05\x0a\x01a\x12\x00\x22\x07\x0a\x05\x0a\x01b\x12\x00",
	// An Int64List with packed and unpacked values, and a DoubleList.
	"\x08\x03\x12\x04echo\x1a\x09\x62\x07\x0a\x02\x02\x03\x08\x05\x00\x1a\x0c\x6a\x0a\x09\x00\x00\x00\x00\x00\x00\xf0\x3f",
	// Unknown fields: a group, fixed32, fixed64, bytes.
	"\x08\x04\x12\x04echo\xa3\x06\x08\x01\xa4\x06\xad\x06\x01\x02\x03\x04\xa9\x06\x01\x02\x03\x04\x05\x06\x07\x08",
	// A Time with nanos out of range and an offset.
	"\x08\x05\x12\x04echo\x1a\x0a\x42\x08\x08\x02\x10\xff\xff\xff\xff\x0f\x18\x01",
	// A notification, id 0 left out.
	"\x12\x04echo\x28\x01",
	// A message_value and a bytes_value.
	"\x08\x06\x12\x05thing\x1a\x04\x5a\x02\x08\x02",
	// Responses: a result given twice; an error with data and details.
	"\x08\x01\x12\x04\x4a\x02\x0a\x00\x12\x04\x4a\x02\x0a\x00",
	"\x08\x01\x1a\x19\x08\x06\x22\x15\x0a\x0fexample.com/a.B\x12\x02\x08\x01",
	"\x08\x01\x1a\x08\x08\x01\x1a\x04\x52\x02\x0a\x00",
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.bin"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzDepth is the depth limit of the codec under fuzzing: shallow, so that
// the fuzzer reaches it.
const fuzzDepth = 20

// allocated returns the bytes f allocates. The tests that use it are not
// parallel, so that other tests' allocations do not count.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// leastAllocated runs f, which does the same each time, three times and
// returns the least it allocated: the fuzzing engine's own goroutines
// allocate at the same time, and the counts are the whole process's.
func leastAllocated(f func()) uint64 {
	n := allocated(f)
	for range 2 {
		n = min(n, allocated(f))
	}
	return n
}

// reference returns the natural Go value of a Value as decoded by
// protobuf-go, computed independently of the codec.
func reference(v *polyrpcpb.Value) any {
	switch k := v.GetKind().(type) {
	case *polyrpcpb.Value_BoolValue:
		return k.BoolValue
	case *polyrpcpb.Value_IntValue:
		return k.IntValue
	case *polyrpcpb.Value_UintValue:
		if k.UintValue <= math.MaxInt64 {
			return int64(k.UintValue)
		}
		return k.UintValue
	case *polyrpcpb.Value_DoubleValue:
		return k.DoubleValue
	case *polyrpcpb.Value_StringValue:
		return k.StringValue
	case *polyrpcpb.Value_BytesValue:
		return k.BytesValue
	case *polyrpcpb.Value_MessageValue:
		return k.MessageValue
	case *polyrpcpb.Value_TimeValue:
		t := time.Unix(k.TimeValue.GetSeconds(), int64(k.TimeValue.GetNanos()))
		if off := k.TimeValue.GetOffset(); off != 0 {
			return t.In(time.FixedZone("", int(off)))
		}
		return t.UTC()
	case *polyrpcpb.Value_ListValue:
		out := []any{}
		for _, e := range k.ListValue.GetValues() {
			out = append(out, reference(e))
		}
		return out
	case *polyrpcpb.Value_IntList:
		out := []any{}
		for _, e := range k.IntList.GetValues() {
			out = append(out, e)
		}
		return out
	case *polyrpcpb.Value_DoubleList:
		out := []any{}
		for _, e := range k.DoubleList.GetValues() {
			out = append(out, e)
		}
		return out
	case *polyrpcpb.Value_MapValue:
		out := map[string]any{}
		for key, e := range k.MapValue.GetFields() {
			out[key] = reference(e)
		}
		return out
	}
	return nil
}

// same compares natural values: floats by their bits (NaN too), bytes with
// nil and empty alike, times by instant and offset.
func same(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		_, xo := x.Zone()
		_, yo := y.Zone()
		return ok && x.Equal(y) && xo == yo
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !same(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// params decodes every param of req into natural values.
func params(t *testing.T, req *wire.Request) (args []any, named map[string]any, ok bool) {
	t.Helper()
	p := req.Params
	if p == nil {
		return nil, nil, true
	}
	if n := p.Len(); n >= 0 {
		args = make([]any, n)
		for i := range args {
			if err := p.DecodeAt(i, &args[i]); tooMany(err) {
				return nil, nil, false
			} else if err != nil {
				t.Fatalf("param %d: %v", i, err)
			}
		}
		return args, nil, true
	}
	named = map[string]any{}
	for _, name := range p.Names() {
		if _, dup := named[name]; dup {
			t.Fatalf("name %q listed twice", name)
		}
		var v any
		if err := p.DecodeNamed(name, &v); tooMany(err) {
			return nil, nil, false
		} else if err != nil {
			t.Fatalf("param %q: %v", name, err)
		}
		named[name] = v
	}
	return nil, named, true
}

// tooMany reports the error of natural values too many for the size of
// their message, which a server answers with CodeLimitExceeded and a client
// returns as it is. protobuf-go knows no such limit, and a message encoded
// again may be smaller than the one it was decoded from.
func tooMany(err error) bool {
	var le *nat.LimitError
	var we *wire.Error
	return errors.As(err, &le) || errors.As(err, &we) && we.Code == wire.CodeLimitExceeded
}

func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	c := proto.New(proto.WithMaxDepth(fuzzDepth))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var req wire.Request
		var err error
		n := leastAllocated(func() { err = c.DecodeRequest(msg, &req) })
		if limit := uint64(len(msg)) + 1024 + metaAllocation(msg, 6); n > limit {
			t.Fatalf("DecodeRequest allocated %d bytes for %d", n, len(msg))
		}
		var ref polyrpcpb.Request
		refErr := pb.Unmarshal(msg, &ref)
		if err != nil {
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *wire.Error", err)
			}
			switch {
			case e.Code == wire.CodeLimitExceeded:
			case e.Code == wire.CodeParseError && refErr == nil:
				t.Fatalf("refused as malformed, protobuf-go reads %v: %v", &ref, err)
			case e.Code == wire.CodeInvalidRequest && refErr != nil:
				t.Fatalf("malformed (%v), refused as invalid: %v", refErr, err)
			case e.Code == wire.CodeInvalidRequest && ref.Method != "" && (len(ref.Params) == 0 || ref.Named == nil) &&
				!metaRefused(ref.Meta, msg, 6):
				t.Fatalf("valid request %v refused: %v", &ref, err)
			case e.Code != wire.CodeParseError && e.Code != wire.CodeInvalidRequest:
				t.Fatalf("unexpected error code: %v", err)
			}
			if refErr == nil && ref.Id != 0 && uvarint(req.ID.Raw) != ref.Id {
				t.Fatalf("error reply would echo id %x, not %d", req.ID.Raw, ref.Id)
			}
			return
		}
		if refErr != nil {
			t.Fatalf("accepted what protobuf-go refuses (%v): %+v", refErr, req)
		}
		if req.Method != ref.Method || req.Notification != ref.Notification || uvarint(req.ID.Raw) != ref.Id ||
			req.ID.Raw == nil && ref.Id != 0 || !maps.Equal(req.Entries.MD(), ref.Meta) ||
			(req.Dialect&proto.DialectMeta != 0) != (countFields(msg, 6) > 0) {
			t.Fatalf("request %+v, protobuf-go reads %v", req, &ref)
		}

		// Params agree with protobuf-go's reading, with bounded allocation.
		var args []any
		var named map[string]any
		ok := true
		n = leastAllocated(func() { args, named, ok = params(t, &req) })
		if limit := 64*uint64(len(msg)) + 4096; n > limit {
			t.Fatalf("params allocated %d bytes for %d", n, len(msg))
		}
		if !ok {
			return
		}
		if ref.Named != nil {
			want := map[string]any{}
			for k, v := range ref.Named.GetFields() {
				want[k] = reference(v)
			}
			if args != nil || !same(named, want) {
				t.Fatalf("named params %#v, protobuf-go reads %#v", named, want)
			}
		} else {
			want := []any{}
			for _, v := range ref.Params {
				want = append(want, reference(v))
			}
			if named != nil || len(want) > 0 && !same(args, want) || len(want) == 0 && req.Params != nil {
				t.Fatalf("params %#v, protobuf-go reads %#v", args, want)
			}
		}

		// Decode, encode, decode: the same call.
		call := wire.Call{Method: req.Method, ID: wire.ID{Seq: 1}, Notification: req.Notification, Args: args, Entries: &req.Entries}
		if named != nil {
			call.Named = named
		}
		msg2, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", call, err)
		}
		var req2 wire.Request
		if err := c.DecodeRequest(msg2, &req2); err != nil {
			t.Fatalf("re-encoded % x: %v", msg2, err)
		}
		args2, named2, ok := params(t, &req2)
		if !ok {
			return
		}
		if req2.Method != req.Method || req2.Notification != req.Notification || !maps.Equal(req2.Entries.MD(), req.Entries.MD()) ||
			!same(args, args2) && len(args)+len(args2) > 0 || !same(named, named2) {
			t.Fatalf("% x\nbecame % x:\n%#v %#v\n%#v %#v", msg, msg2, args, named, args2, named2)
		}

		// The reply echoes the id, and carries the params back.
		out, err := c.AppendResponse(nil, &wire.Response{ID: req.ID, Dialect: req.Dialect, Result: args, Meta: req.Entries.MD()})
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		var r wire.Reply
		if err := c.DecodeReply(out, &r); err != nil || !bytes.Equal(r.ID.Raw, req.ID.Raw) || r.ID.Seq != ref.Id || !maps.Equal(r.Meta, req.Entries.MD()) {
			t.Fatalf("reply % x: id %x, %v; want id %x", out, r.ID.Raw, err, req.ID.Raw)
		}
		var back any
		if err := r.Result.Decode(&back); tooMany(err) {
			return
		} else if err != nil || args != nil && !same(back, args) {
			t.Fatalf("reply result %#v, %v; want %#v", back, err, args)
		}
	})
}

// countFields counts the length-delimited fields numbered num at the top
// level of msg, as far as msg can be read.
func countFields(msg []byte, num protowire.Number) int {
	n := 0
	for len(msg) > 0 {
		fnum, typ, m := protowire.ConsumeField(msg)
		if m < 0 {
			break
		}
		if fnum == num && typ == protowire.BytesType {
			n++
		}
		msg = msg[m:]
	}
	return n
}

// metaRefused reports whether the codec refuses the metadata md, read by
// protobuf-go from msg's meta field num: more than metadata.MaxEntries
// entries, a key given twice counting twice, or what metadata.Validate
// refuses.
func metaRefused(md map[string]string, msg []byte, num protowire.Number) bool {
	return countFields(msg, num) > metadata.MaxEntries || metadata.MD(md).Validate() != nil
}

// metaAllocation is what decoding the meta field num of msg may allocate
// beyond the message's size: a map of at most metadata.MaxEntries entries
// (about 5 KiB when full) and the slices of one string.
func metaAllocation(msg []byte, num protowire.Number) uint64 {
	if countFields(msg, num) == 0 {
		return 0
	}
	return 8 << 10
}

// uvarint decodes the varint b, or returns 0.
func uvarint(b []byte) uint64 {
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0
	}
	return v
}

// FuzzDecodeReply checks that no reply, however malformed, panics a client,
// and that a reply reads as protobuf-go reads it.
func FuzzDecodeReply(f *testing.F) {
	addSeeds(f)
	c := proto.New(proto.WithMaxDepth(fuzzDepth))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r wire.Reply
		var err error
		n := leastAllocated(func() { err = c.DecodeReply(msg, &r) })
		if limit := 64*uint64(len(msg)) + 4096 + metaAllocation(msg, 4); n > limit {
			t.Fatalf("DecodeReply allocated %d bytes for %d", n, len(msg))
		}
		var ref polyrpcpb.Response
		refErr := pb.Unmarshal(msg, &ref)
		if err != nil {
			var e *wire.Error
			if errors.As(err, &e) {
				t.Fatalf("a malformed reply is an *wire.Error: %v", err)
			}
			if refErr == nil && !bytes.Contains([]byte(err.Error()), []byte("nested deeper")) &&
				!(strings.HasPrefix(err.Error(), "proto: the reply's meta: ") && metaRefused(ref.Meta, msg, 4)) {
				t.Fatalf("refused (%v) what protobuf-go reads: %v", err, &ref)
			}
			return
		}
		if refErr != nil {
			t.Fatalf("accepted what protobuf-go refuses (%v): %+v", refErr, r)
		}
		if r.ID.Seq != ref.Id || (r.Error == nil) == (r.Result == nil) || !maps.Equal(r.Meta, ref.Meta) {
			t.Fatalf("reply %+v, protobuf-go reads %v", r, &ref)
		}
		if ref.Error != nil {
			e := ref.Error
			if r.Error != nil && r.Error.Data == nil && strings.HasPrefix(r.Error.Message, e.Message+" (error data left out: ") {
				return // too many values for the reply's size
			}
			if r.Error == nil || int64(r.Error.Code) != e.Code || r.Error.Message != e.Message {
				t.Fatalf("error %+v, protobuf-go reads %v", r.Error, e)
			}
			if e.Data != nil && !same(r.Error.Data, reference(e.Data)) {
				t.Fatalf("error data %#v, protobuf-go reads %v", r.Error.Data, e.Data)
			}
			return
		}
		var got any
		n = leastAllocated(func() { err = r.Result.Decode(&got) })
		if limit := 64*uint64(len(msg)) + 4096; n > limit {
			t.Fatalf("result allocated %d bytes for %d", n, len(msg))
		}
		if tooMany(err) {
			return
		}
		if err != nil || !same(got, reference(ref.Result)) {
			t.Fatalf("result %#v (%v), protobuf-go reads %#v", got, err, reference(ref.Result))
		}
		// Encode, decode: the same result.
		out, err := c.AppendResponse(nil, &wire.Response{ID: r.ID, Result: got, Dialect: proto.DialectMeta, Meta: r.Meta})
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", got, err)
		}
		var r2 wire.Reply
		var again any
		if err := c.DecodeReply(out, &r2); err == nil && tooMany(r2.Result.Decode(&again)) {
			return
		}
		if err := c.DecodeReply(out, &r2); err != nil || r2.Result.Decode(&again) != nil || !same(got, again) || !maps.Equal(r2.Meta, r.Meta) {
			t.Fatalf("% x became % x: %#v, %v", msg, out, again, err)
		}
	})
}
