package msgpack_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc/wire"
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

// array32 returns an array32 of elem repeated to about size bytes.
func array32(elem []byte, size int) []byte {
	n := size / len(elem)
	b := binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(n))
	return append(b, bytes.Repeat(elem, n)...)
}

// openRPC returns the result of rpc.discover as cmd/rpcd serves it (the
// JSON codec's testdata/openrpc.json), as vmihailenco/msgpack encodes it:
// 8 KB of small maps.
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
	return pack(t, doc)
}

// decodeParam decodes param 0 of a request whose params array holds the
// encoded values params, measuring the bytes that the decode allocates, and
// that dst then holds, per byte of the request.
func decodeParam(t *testing.T, params []byte, dst any) (alloc, held float64, err error) {
	t.Helper()
	msg := hostileCall("echo", append([]byte{0x91}, params...))
	var req wire.Request
	if err := msgpack.New().DecodeRequest(msg, &req); err != nil {
		t.Fatalf("DecodeRequest: %v", err)
	}
	alloc, held = perByte(len(msg), dst, func() { err = req.Params.DecodeAt(0, dst) })
	runtime.KeepAlive(&req) // not to count its message as freed
	return alloc, held, err
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

// TestNaturalBudget: natural values may take 64 bytes of memory per byte of
// their message (1 MiB at least), msgpack's factor. A 4 MiB array of values
// far smaller than their Go form (maps of one entry, 117 bytes a byte with
// an empty key and nil, 88 with a one-letter key and a fixint; maps of one
// empty map, 133; maps of a key given twice, 70) is refused with
// CodeLimitExceeded, whatever interface it is decoded into, having
// allocated little more than the budget; plain data, documents of small
// maps, points of fixints under one-letter keys (50) and empty arrays (40)
// decode, taking what they take, and so do empty maps (charged exactly 64
// a byte: the bytes around the array leave them room), at the edge.
func TestNaturalBudget(t *testing.T) {
	const size = 4 << 20
	const limit = 65.0 // bytes allocated per byte of message, refused or not
	x := hexb
	point := pack(t, map[string]any{"x": 1, "y": 2}) // 82 a1 78 01 a1 79 02
	refused := []struct {
		name   string
		params []byte
		dst    func() any
		extra  float64 // allocated for typed values, which are not charged
	}{
		{"one-entry maps into any", array32(x("81 a0 c0"), size), func() any { return new(any) }, 0},
		{"one-entry maps into []any", array32(x("81 a0 c0"), size), func() any { return new([]any) }, 0},
		{"maps of a one-letter key and a fixint into any", array32(x("81 a1 61 01"), size), func() any { return new(any) }, 0},
		{"maps of an empty map into any", array32(x("81 a0 80"), size), func() any { return new(any) }, 0},
		{"maps of a key given twice into any", array32(x("82 a0 c0 a0 c0"), size), func() any { return new(any) }, 0},
		{"one-entry maps in a map into map[string]any", append(x("81 a1 61"), array32(x("81 a0 c0"), size)...), func() any { return new(map[string]any) }, 0},
		{"one-entry maps into a struct field", append(x("81 a1 76"), array32(x("81 a0 c0"), size)...), func() any { return new(anyField) }, 0},
		// The slice, 8 bytes a map of 3 bytes, and the 16-byte element
		// that reflect makes for each map decoded (a map being charged
		// 336 bytes, 64*16/336 = 3.05 bytes a byte once the budget is
		// spent) are typed values.
		{"one-entry maps into []map[string]any", array32(x("81 a0 c0"), size), func() any { return new([]map[string]any) }, 8.0/3 + 64.0*16/336 + 0.05},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ratio, _, err := decodeParam(t, tt.params, tt.dst())
			t.Logf("%.2f bytes allocated a byte: %v", ratio, err)
			if !isTooMany(err) {
				t.Errorf("error %v, want CodeLimitExceeded for too many values", err)
			}
			if ratio > limit+tt.extra {
				t.Errorf("%.2f bytes allocated a byte of message, want at most %.2f", ratio, limit+tt.extra)
			}
		})
	}

	record := pack(t, map[string]any{"id": 123456, "name": "somebody", "email": "somebody@example.com", "active": true})
	accepted := []struct {
		name   string
		params []byte
	}{
		{"nils", array32(x("c0"), size)},
		{"points of fixints", array32(point, size)},
		{"empty arrays", array32(x("90"), size)},
		{"empty maps, at the edge", array32(x("80"), size)},
		{"empty maps in a map, at the edge", append(x("81 a1 61"), array32(x("80"), size)...)},
		{"ones", array32(x("01"), size)},
		{"minus ones", array32(x("ff"), size)},
		{"points of float64s", array32(pack(t, map[string]any{"x": 1.5, "y": 2.5}), size)},
		{"points of float32s", array32(pack(t, map[string]any{"x": float32(1.5), "y": float32(2.5)}), size)},
		{"OpenRPC documents", array32(openRPC(t), size)},
		{"int64s", array32(x("d3 00 00 01 02 03 04 05 06"), size)},
		{"float64s", array32(x("cb 40 09 21 fb 54 44 2d 18"), size)},
		{"100-byte strings", array32(append(x("d9 62"), strings.Repeat("x", 98)...), size)},
		{"records", array32(record, size)},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			ratio, held, err := decodeParam(t, tt.params, &v)
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
	x := hexb
	for _, elem := range [][]byte{x("80"), x("90"), x("81 a0 c0"), x("81 a1 61 01"), x("81 a0 80"), x("82 a0 c0 a0 c0"),
		pack(t, map[string]any{"x": 1, "y": 2}), x("c0")} {
		// 2,000 one-entry maps take about 700 KB.
		var v any
		ratio, _, err := decodeParam(t, array32(elem, 2000*len(elem)), &v)
		t.Logf("% x: %.2f bytes allocated a byte", elem, ratio)
		if err != nil {
			t.Errorf("2,000 of % x: %v", elem, err)
		}
	}
}

// TestNaturalBudgetShared: the params of a request share its budget, so
// that many small params cannot each take the floor.
func TestNaturalBudgetShared(t *testing.T) {
	const n = 1 << 20
	msg := hostileCall("list", array32([]byte{0x81, 0xa0, 0xc0}, 3*n))
	var req wire.Request
	if err := msgpack.New().DecodeRequest(msg, &req); err != nil {
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
// not send it), and a small result of many values still decodes.
func TestNaturalBudgetReply(t *testing.T) {
	c := msgpack.New()
	var r wire.Reply
	msg := append(hexb("94 01 01 c0"), array32([]byte{0x81, 0xa0, 0xc0}, 4<<20)...)
	if err := c.DecodeReply(msg, &r); err != nil {
		t.Fatal(err)
	}
	var v any
	err := r.Result.Decode(&v)
	var e *wire.Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "too many values for the message's size") {
		t.Errorf("error %v, want a plain error for too many values", err)
	}

	// Small messages have a floor: 2,000 one-entry maps, 6 KB, may take
	// their 700 KB.
	msg = append(hexb("94 01 01 c0"), array32(hexb("81 a0 c0"), 6000)...)
	if err := c.DecodeReply(msg, &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Result.Decode(&v); err != nil {
		t.Errorf("2,000 one-entry maps: %v", err)
	}

	// A document of small maps, rpc.discover's, decodes whole.
	msg = append(hexb("94 01 01 c0"), openRPC(t)...)
	if err := c.DecodeReply(msg, &r); err != nil {
		t.Fatal(err)
	}
	v = nil
	if err := r.Result.Decode(&v); err != nil {
		t.Errorf("OpenRPC document: %v", err)
	}
	if methods, _ := v.(map[string]any)["methods"].([]any); len(methods) != 26 {
		t.Errorf("OpenRPC document: %d methods, want 26", len(methods))
	}

	// Error data too large for its size leaves the error undecoded.
	msg = append(hexb("94 01 01 83 a4 63 6f 64 65 01 a7 6d 65 73 73 61 67 65 a1 6d a4 64 61 74 61"), array32([]byte{0x81, 0xa0, 0xc0}, 4<<20)...)
	msg = append(msg, 0xc0)
	if err := c.DecodeReply(msg, &r); err != nil {
		t.Fatal(err)
	}
	if r.Error == nil || r.Error.Code != wire.CodeServerError || !strings.Contains(r.Error.Message, "too many values") {
		t.Errorf("error %+v, want a server error that cannot be decoded", r.Error)
	}
}
