package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
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

// repeated returns a JSON array of elem repeated to about size bytes.
func repeated(elem string, size int) string {
	n := size / (len(elem) + 1)
	return "[" + strings.Repeat(elem+",", n-1) + elem + "]"
}

// openRPC returns testdata/openrpc.json: the result of rpc.discover as
// cmd/rpcd serves it, 9,769 bytes of small objects (496 values).
func openRPC(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/openrpc.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// decodeParam decodes the first param of msg into dst, measuring the bytes
// that the decode allocates, and that dst then holds, per byte of msg.
func decodeParam(t *testing.T, msg string, dst any) (alloc, held float64, err error) {
	t.Helper()
	var req wire.Request
	if err := json.New().DecodeRequest([]byte(msg), &req); err != nil {
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

// anyField holds natural values in a struct, which encoding/json fills.
type anyField struct {
	V any `json:"v"`
}

// TestNaturalBudget: natural values may take 32 bytes of memory per byte of
// their message (1 MiB at least). A 4 MiB array of values far smaller than
// their Go form, objects of one short member (44 bytes a byte), is refused
// with CodeLimitExceeded, whatever interface it is decoded into, having
// allocated little more than the budget; plain data and documents of small
// objects decode, taking what they take.
func TestNaturalBudget(t *testing.T) {
	const size = 4 << 20
	const limit = 33.0 // bytes allocated per byte of message, refused or not
	call := func(params string) string {
		return `{"jsonrpc":"2.0","method":"echo","params":[` + params + `],"id":1}`
	}
	one := repeated(`{"a":0}`, size)
	refused := []struct {
		name string
		msg  string
		dst  func() any
	}{
		{"one-member objects into any", call(one), func() any { return new(any) }},
		{"one-member objects into []any", call(one), func() any { return new([]any) }},
		{"one-member objects of an empty key into any", call(repeated(`{"":0}`, size)), func() any { return new(any) }},
		{"objects of an empty object into any", call(repeated(`{"a":{}}`, size)), func() any { return new(any) }},
		{"one-member objects in an object into map[string]any", call(`{"a":` + one + `}`), func() any { return new(map[string]any) }},
		{"one-member objects into a struct field", call(`{"v":` + one + `}`), func() any { return new(anyField) }},
		{"one-member objects into []map[string]any", call(one), func() any { return new([]map[string]any) }},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ratio, _, err := decodeParam(t, tt.msg, tt.dst())
			t.Logf("%.2f bytes allocated a byte: %v", ratio, err)
			if !isTooMany(err) {
				t.Errorf("error %v, want CodeLimitExceeded for too many values", err)
			}
			if ratio > limit {
				t.Errorf("%.2f bytes allocated a byte of message, want at most %v", ratio, limit)
			}
		})
	}

	accepted := []struct {
		name string
		msg  string
	}{
		{"ones", call(repeated("1", size))},
		{"empty objects", call(repeated("{}", size))},
		{"empty arrays", call(repeated("[]", size))},
		{"points", call(repeated(`{"x":1,"y":2}`, size))},
		{"OpenRPC documents", call(repeated(openRPC(t), size))},
		{"8-digit numbers", call(repeated("12345678", size))},
		{"floats", call(repeated("1234.5678", size))},
		{"100-byte strings", call(repeated(`"`+strings.Repeat("x", 98)+`"`, size))},
		{"records", call(repeated(`{"id":123456,"name":"somebody","email":"somebody@example.com","active":true}`, size))},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			ratio, held, err := decodeParam(t, tt.msg, &v)
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
	for _, elem := range []string{`{"a":0}`, `{"":0}`, `{"a":{}}`, "{}", "[]", "1"} {
		// 2,000 objects of one member take about 700 KB.
		msg := `{"jsonrpc":"2.0","method":"echo","params":[` + repeated(elem, 2000*(len(elem)+1)) + `],"id":1}`
		var v any
		ratio, _, err := decodeParam(t, msg, &v)
		t.Logf("%s: %d bytes, %.2f bytes allocated a byte", elem, len(msg), ratio)
		if err != nil {
			t.Errorf("%d bytes of %s: %v", len(msg), elem, err)
		}
	}
}

// TestNaturalBudgetShared: the params of a request share its budget, so
// that many small params cannot each take the floor.
func TestNaturalBudgetShared(t *testing.T) {
	const n = 1 << 20
	msg := `{"jsonrpc":"2.0","method":"list","params":` + repeated(`{"a":0}`, 8*n) + `,"id":1}`
	var req wire.Request
	if err := json.New().DecodeRequest([]byte(msg), &req); err != nil {
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
	c := json.New()
	var r wire.Reply
	msg := `{"jsonrpc":"2.0","result":` + repeated(`{"a":0}`, 4<<20) + `,"id":1}`
	if err := c.DecodeReply([]byte(msg), &r); err != nil {
		t.Fatal(err)
	}
	var v any
	err := r.Result.Decode(&v)
	var e *wire.Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "too many values for the message's size") {
		t.Errorf("error %v, want a plain error for too many values", err)
	}

	// Small messages have a floor: 2,000 objects of one member, 16 KB, may
	// take their 700 KB.
	msg = `{"jsonrpc":"2.0","result":` + repeated(`{"a":0}`, 16000) + `,"id":1}`
	if err := c.DecodeReply([]byte(msg), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Result.Decode(&v); err != nil {
		t.Errorf("2,000 objects of one member: %v", err)
	}

	// Error data too large for its size leaves the error undecoded.
	msg = `{"jsonrpc":"2.0","error":{"code":1,"message":"m","data":` + repeated(`{"a":0}`, 4<<20) + `},"id":1}`
	if err := c.DecodeReply([]byte(msg), &r); err != nil {
		t.Fatal(err)
	}
	if r.Error == nil || r.Error.Code != wire.CodeServerError || !strings.Contains(r.Error.Message, "too many values") {
		t.Errorf("error %+v, want a server error that cannot be decoded", r.Error)
	}
}

// TestDecodeReplyOpenRPC: a client decodes the OpenRPC document that
// rpc.discover returns, 9,769 bytes of small objects, whole. (Under an
// earlier budget of 8 bytes a byte, or 64 KiB, `rpcd list -v` failed on it.)
func TestDecodeReplyOpenRPC(t *testing.T) {
	doc := openRPC(t)
	msg := []byte(`{"jsonrpc":"2.0","result":` + doc + `,"id":1}`)
	c := json.New()
	var r wire.Reply
	if err := c.DecodeReply(msg, &r); err != nil {
		t.Fatal(err)
	}
	var v any
	var err error
	ratio, _ := perByte(len(msg), &v, func() { err = r.Result.Decode(&v) })
	t.Logf("%d bytes, %.2f bytes allocated a byte", len(msg), ratio)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	// The same document, encoded again.
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(buf.String()); got != doc {
		t.Errorf("decoded document encodes as\n%.300s...\nwant\n%.300s...", got, doc)
	}
	methods, _ := v.(map[string]any)["methods"].([]any)
	if len(methods) != 26 {
		t.Errorf("%d methods, want 26", len(methods))
	}

	// Into a typed result with natural values inside, as rpcd list -v
	// decodes it.
	var typed struct {
		Methods    []map[string]any `json:"methods"`
		Components map[string]any   `json:"components"`
	}
	if err := r.Result.Decode(&typed); err != nil || len(typed.Methods) != 26 {
		t.Errorf("into a struct: %d methods, %v", len(typed.Methods), err)
	}
}

// BenchmarkNatural decodes large params into any: its figure per byte is
// the cost of natural values.
func BenchmarkNatural(b *testing.B) {
	for _, tc := range []struct{ name, params string }{
		{"ints", repeated("12345678", 1<<20)},
		{"records", repeated(`{"id":123456,"name":"somebody","email":"somebody@example.com","active":true}`, 1<<20)},
		{"nested", repeated(`[[1,2,3],{"a":[4,5],"b":"x"}]`, 1<<20)},
	} {
		msg := []byte(`{"jsonrpc":"2.0","method":"echo","params":[` + tc.params + `],"id":` + strconv.Itoa(1) + `}`)
		c := json.New()
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var req wire.Request
				if err := c.DecodeRequest(msg, &req); err != nil {
					b.Fatal(err)
				}
				var v any
				if err := req.Params.DecodeAt(0, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
