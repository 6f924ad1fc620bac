package proto_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// perByte returns the bytes that f allocates per byte of a message of size
// bytes, and of them the bytes that dst, into which f decodes, holds once f
// has returned: the memory that the budget charges.
func perByte(size int, dst any, f func()) (alloc, held float64) {
	var before, after, kept runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	runtime.GC()
	runtime.ReadMemStats(&kept)
	runtime.KeepAlive(dst)
	alloc = float64(after.TotalAlloc-before.TotalAlloc) / float64(size)
	held = float64(int64(kept.HeapAlloc)-int64(before.HeapAlloc)) / float64(size)
	return alloc, held
}

// listOf returns a List Value of the Value payload elem repeated to about
// size bytes.
func listOf(elem []byte, size int) []byte {
	e := protowire.AppendBytes([]byte{0x0a}, elem)
	return protowire.AppendBytes([]byte{0x4a}, bytes.Repeat(e, size/len(e)))
}

// packedOf returns an Int64List (tag 0x62) or DoubleList (0x6a) Value of
// the packed elem repeated to about size bytes.
func packedOf(tag byte, elem []byte, size int) []byte {
	inner := protowire.AppendBytes([]byte{0x0a}, bytes.Repeat(elem, size/len(elem)))
	return protowire.AppendBytes([]byte{tag}, inner)
}

// mapOf returns a Map Value of one entry, key to the Value payload val.
func mapOf(key string, val []byte) []byte {
	e := protowire.AppendBytes([]byte{0x0a}, []byte(key))
	e = protowire.AppendBytes(append(e, 0x12), val)
	return protowire.AppendBytes([]byte{0x52}, protowire.AppendBytes([]byte{0x0a}, e))
}

// decodeParam decodes the request whose one param is the Value payload v
// into dst, measuring the bytes that the decode allocates, and that dst then
// holds, per byte of the request.
func decodeParam(t *testing.T, v []byte, dst any) (alloc, held float64, err error) {
	t.Helper()
	msg := call("echo", param(v))
	var req wire.Request
	if err := proto.New().DecodeRequest(msg, &req); err != nil {
		t.Fatalf("DecodeRequest: %v", err)
	}
	alloc, held = perByte(len(msg), dst, func() { err = req.Params.DecodeAt(0, dst) })
	runtime.KeepAlive(&req) // not to count its message as freed
	return alloc, held, err
}

// valueOf returns the Value payload of v as the codec encodes it.
func valueOf(t testing.TB, v any) []byte {
	t.Helper()
	msg, err := proto.New().AppendCall(nil, &wire.Call{Method: "m", Args: []any{v}})
	if err != nil {
		t.Fatal(err)
	}
	for b := msg; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		if num == 3 {
			payload, _ := protowire.ConsumeBytes(b)
			return payload
		}
		b = b[protowire.ConsumeFieldValue(num, typ, b):]
	}
	t.Fatalf("no param in % x", msg)
	return nil
}

// openRPC returns the result of rpc.discover as cmd/rpcd serves it (the
// JSON codec's testdata/openrpc.json), as the codec encodes it.
func openRPC(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../json/testdata/openrpc.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return valueOf(t, doc)
}

// isTooMany reports a server's error for natural values too many for the
// size of their message.
func isTooMany(err error) bool {
	var e *wire.Error
	return errors.As(err, &e) && e.Code == wire.CodeLimitExceeded &&
		strings.HasPrefix(e.Message, "limit exceeded: too many values for the message's size (")
}

// anyField holds natural values in a struct.
type anyField struct {
	V any `json:"v"`
}

// oneEntry is a Map Value of one entry that has neither key nor value:
// {"": null}, 4 bytes, which is a Go map of over 300.
var oneEntry = []byte{0x52, 0x02, 0x0a, 0x00}

// TestNaturalBudget: natural values may take 32 bytes of memory per byte of
// their message (1 MiB at least). A 4 MiB list of values far smaller than
// their Go form, maps of one empty entry (58 bytes a byte), is refused with
// CodeLimitExceeded, whatever interface it is decoded into, having
// allocated little more than the budget; plain data and documents of small
// maps decode, taking what they take.
func TestNaturalBudget(t *testing.T) {
	const size = 4 << 20
	const limit = 33.0 // bytes allocated per byte of message, refused or not
	refused := []struct {
		name  string
		value []byte
		dst   func() any
		extra float64 // allocated for typed values, which are not charged
	}{
		{"one-entry maps into any", listOf(oneEntry, size), func() any { return new(any) }, 0},
		{"one-entry maps into []any", listOf(oneEntry, size), func() any { return new([]any) }, 0},
		{"one-entry maps in a map into map[string]any", mapOf("a", listOf(oneEntry, size)), func() any { return new(map[string]any) }, 0},
		{"one-entry maps into a struct field", mapOf("v", listOf(oneEntry, size)), func() any { return new(anyField) }, 0},
		// The slice, 8 bytes a map of 6 bytes, is a typed value.
		{"one-entry maps into []map[string]any", listOf(oneEntry, size), func() any { return new([]map[string]any) }, 1.5},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ratio, _, err := decodeParam(t, tt.value, tt.dst())
			t.Logf("%.2f bytes allocated a byte: %v", ratio, err)
			if !isTooMany(err) {
				t.Errorf("error %v, want CodeLimitExceeded for too many values", err)
			}
			if ratio > limit+tt.extra {
				t.Errorf("%.2f bytes allocated a byte of message, want at most %.2f", ratio, limit+tt.extra)
			}
		})
	}

	accepted := []struct {
		name  string
		value []byte
	}{
		{"packed ones", packedOf(0x62, []byte{0x02}, size)},
		{"packed minus ones", packedOf(0x62, []byte{0x01}, size)},
		{"empty maps", listOf([]byte{0x52, 0x00}, size)},
		{"empty lists", listOf([]byte{0x4a, 0x00}, size)},
		{"points", listOf(valueOf(t, map[string]any{"x": 1, "y": 2}), size)},
		{"OpenRPC documents", listOf(openRPC(t), size)},
		{"packed doubles", packedOf(0x6a, []byte{1, 2, 3, 4, 5, 6, 7, 8}, size)},
		{"packed 8-byte ints", packedOf(0x62, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, size)},
		{"100-byte strings", listOf(append([]byte{0x32, 98}, strings.Repeat("x", 98)...), size)},
		{"records", listOf(valueOf(t, map[string]any{"id": 123456, "name": "somebody", "email": "somebody@example.com", "active": true}), size)},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			ratio, held, err := decodeParam(t, tt.value, &v)
			t.Logf("%.2f bytes allocated a byte, %.2f held", ratio, held)
			if err != nil {
				t.Fatal(err)
			}
			if ratio > limit {
				t.Errorf("%.2f bytes allocated a byte of message, want at most %v", ratio, limit)
			}
		})
	}
}

// TestNaturalBudgetFloor: a message whose natural values take less than
// 1 MiB decodes whatever their shape, even the shapes refused in a larger
// message.
func TestNaturalBudgetFloor(t *testing.T) {
	for _, elem := range [][]byte{oneEntry, mapOf("a", nil), {0x52, 0x00}, {0x4a, 0x00}} {
		// 2,000 one-entry maps take about 700 KB.
		value := listOf(elem, 2000*(len(elem)+2))
		var v any
		ratio, _, err := decodeParam(t, value, &v)
		t.Logf("% x: %.2f bytes allocated a byte", elem, ratio)
		if err != nil {
			t.Errorf("2,000 of % x: %v", elem, err)
		}
	}
}

// TestNaturalBudgetShared: the params of a request share its budget, so
// that many small params cannot each take the floor.
func TestNaturalBudgetShared(t *testing.T) {
	const n = 1 << 18
	msg := call("list", repeat("\x1a\x04\x52\x02\x0a\x00", n))
	var req wire.Request
	if err := proto.New().DecodeRequest(msg, &req); err != nil {
		t.Fatal(err)
	}
	var err error
	i := 0
	for ; i < req.Params.Len() && err == nil; i++ {
		var v any
		err = req.Params.DecodeAt(i, &v)
	}
	if !isTooMany(err) {
		t.Fatalf("after %d params: %v, want CodeLimitExceeded for too many values", i, err)
	}
	t.Logf("refused at param %d of %d: %v", i, n, err)
}

// TestNaturalBudgetReply: a client refuses a result of too many values for
// its size as well, with an error that is not an *wire.Error (the server did
// not send it); a small result of many values still decodes; error data of
// too many values is left out.
func TestNaturalBudgetReply(t *testing.T) {
	c := proto.New()
	result := func(v []byte) []byte { return protowire.AppendBytes([]byte{0x08, 0x01, 0x12}, v) }
	var r wire.Reply
	if err := c.DecodeReply(result(listOf(oneEntry, 4<<20)), &r); err != nil {
		t.Fatal(err)
	}
	var v any
	err := r.Result.Decode(&v)
	var e *wire.Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "too many values for the message's size") {
		t.Errorf("error %v, want a plain error for too many values", err)
	}

	// Small messages have a floor: 2,000 one-entry maps, 12 KB, may take
	// their 700 KB.
	if err := c.DecodeReply(result(listOf(oneEntry, 12000)), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Result.Decode(&v); err != nil {
		t.Errorf("2,000 one-entry maps: %v", err)
	}

	// A document of small maps, rpc.discover's, decodes whole.
	if err := c.DecodeReply(result(openRPC(t)), &r); err != nil {
		t.Fatal(err)
	}
	v = nil
	if err := r.Result.Decode(&v); err != nil {
		t.Errorf("OpenRPC document: %v", err)
	}
	if methods, _ := v.(map[string]any)["methods"].([]any); len(methods) != 26 {
		t.Errorf("OpenRPC document: %d methods, want 26", len(methods))
	}

	// Error{code 1, message "m", data}.
	e1 := append([]byte{0x08, 0x02, 0x12, 0x01, 'm'}, protowire.AppendBytes([]byte{0x1a}, listOf(oneEntry, 4<<20))...)
	if err := c.DecodeReply(protowire.AppendBytes([]byte{0x08, 0x01, 0x1a}, e1), &r); err != nil {
		t.Fatal(err)
	}
	if r.Error == nil || r.Error.Code != 1 || r.Error.Data != nil ||
		!strings.HasPrefix(r.Error.Message, "m (error data left out: proto: too many values for the message's size (") {
		t.Errorf("error %+v, want code 1 with its data left out", r.Error)
	}
}
