package msgpack_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc/wire"
	mp "github.com/vmihailenco/msgpack/v5"
)

// fuzzSeeds are messages beyond the golden files: edge cases of the format.
var fuzzSeeds = []string{
	"94 00 01 a3 73 75 6d 92 01 02",
	"93 02 a6 75 70 64 61 74 65 90",
	"94 00 a1 78 c4 03 73 75 6d 81 a1 61 c0",
	"94 00 cf ff ff ff ff ff ff ff ff a4 65 63 68 6f 91 d7 ff 00 00 00 00 00 00 00 01",
	"94 00 01 a4 65 63 68 6f 91 c7 0c ff 00 00 00 01 ff ff ff ff ff ff ff ff",
	"94 00 01 a4 65 63 68 6f 91 d6 ff 00 00 00 01",
	"94 00 01 a4 65 63 68 6f 91 d4 05 00",
	"94 00 01 a4 65 63 68 6f 91 81 01 02",
	"94 00 01 a4 65 63 68 6f 91 ca 7f c0 00 00",
	"94 00 01 a4 65 63 68 6f 91 dc 00 01 de 00 01 a0 c0",
	"dd ff ff ff ff",
	"94 01 01 c0 2a",
	"94 01 01 a3 62 61 64 c0",
	"94 01 01 83 a4 63 6f 64 65 2a a7 6d 65 73 73 61 67 65 a1 6d a4 64 61 74 61 91 c3",
	"91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 c0",
	"c1",
	"95 00 01 a1 6d 90 81 a1 61 a1 62",
	"94 02 a1 6d 90 82 a1 61 a1 62 a1 61 c4 01 63",
	"95 00 01 a1 6d 90 c0",
	"95 01 01 c0 2a 81 a1 6b a1 76",
	"95 00 01 a1 6d 90 81 a1 61 01",
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(hexb(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.msgpack"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// wellFormed reports whether vmihailenco/msgpack, an independent reader,
// finds msg to be exactly one value.
func wellFormed(msg []byte) bool {
	r := bytes.NewReader(msg)
	d := mp.NewDecoder(r)
	return d.Skip() == nil && r.Len() == 0
}

// allocatedBytes is a cheap allocation counter for fuzzing: it runs no GC.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// naturalParams decodes every param of req into natural values; ok is false
// when one has no natural value (a map with a key that is not a str, an
// extension other than a timestamp).
func naturalParams(t *testing.T, p wire.Params) (args []any, named map[string]any, err error) {
	if n := p.Len(); n >= 0 {
		args = []any{}
		for i := range n {
			var v any
			if err := p.DecodeAt(i, &v); err != nil {
				return nil, nil, err
			}
			args = append(args, v)
		}
		return args, nil, nil
	}
	named = map[string]any{}
	for _, name := range p.Names() {
		if _, dup := named[name]; dup {
			t.Fatalf("name %q listed twice", name)
		}
		var v any
		if err := p.DecodeNamed(name, &v); err != nil {
			return nil, nil, err
		}
		named[name] = v
	}
	return nil, named, nil
}

// tooMany reports the error of natural values too many for the size of
// their message, which a server answers with CodeLimitExceeded and a client
// returns as it is. A message encoded again may be smaller than the one it
// was decoded from (a 1 in a uint8 becomes a fixint).
func tooMany(err error) bool {
	var le *nat.LimitError
	var we *wire.Error
	return errors.As(err, &le) || errors.As(err, &we) && we.Code == wire.CodeLimitExceeded
}

// sameNatural compares natural values, times as instants.
func sameNatural(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameNatural(x[i], y[i]) {
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
			if w, ok := y[k]; !ok || !sameNatural(v, w) {
				return false
			}
		}
		return true
	}
	return sameValue(a, b)
}

// natural bounds the natural values that a message of size bytes may decode
// into beyond what 72 bytes a byte covers (the budget's 64, and 8 more). Under the budget's floor
// (nat.Floor, 1 MiB) a message takes what its shape takes: at most 168 bytes
// a byte (maps of one empty key, each in the last: 81 a0 81 a0 ...), twice
// over when they are decoded twice (a request's params, then the any in
// Record; a reply's error data, then its result).
func natural(size int) int { return min(nat.Floor, 2*168*size) }

func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	c := msgpack.New(msgpack.WithMaxDepth(20)) // shallow, so the fuzzer reaches the limit
	f.Fuzz(func(t *testing.T, msg []byte) {
		var (
			req           wire.Request
			err           error
			args          []any
			named         map[string]any
			paramsErr     error
			typedAttempts int
		)
		n := allocatedBytes(func() {
			err = c.DecodeRequest(msg, &req)
			if err == nil {
				args, named, paramsErr = naturalParams(t, req.Params)
				// Typed destinations never panic, whatever they get.
				for i := range max(req.Params.Len(), 0) {
					for _, dst := range []any{new(int8), new(uint64), new(string), new([]byte), new(time.Time),
						new(Record), new(map[string][]int), new([3]byte), new(*Point), new(Temperature), new(float32)} {
						_ = req.Params.DecodeAt(i, dst)
						typedAttempts++
					}
				}
			}
		})
		if limit := uint64(64<<10 + 72*len(msg) + 2048*typedAttempts + natural(len(msg))); n > limit {
			t.Fatalf("%d bytes allocated for a %d-byte message; limit %d", n, len(msg), limit)
		}
		if err != nil {
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *wire.Error", err)
			}
			switch e.Code {
			case wire.CodeParseError:
				if wellFormed(msg) && !bytes.Contains(msg, []byte{0xc1}) {
					t.Fatalf("well-formed message refused as malformed: %v", err)
				}
			case wire.CodeLimitExceeded:
				// The scan stops at the limit, well-formed or not beyond it.
			case wire.CodeInvalidRequest:
				if !wellFormed(msg) {
					t.Fatalf("malformed message not refused as such: %v", err)
				}
			default:
				t.Fatalf("unexpected error code: %v", err)
			}
			out, err := c.AppendResponse(nil, &wire.Response{ID: req.ID, Error: e})
			var r wire.Reply
			if err != nil || c.DecodeReply(out, &r) != nil || r.Error == nil || r.Error.Code != e.Code ||
				!sameID(r.ID.Raw, req.ID.Raw) {
				t.Fatalf("error reply % x: %v", out, err)
			}
			return
		}
		if !wellFormed(msg) {
			t.Fatalf("malformed message accepted: %+v", req)
		}
		if paramsErr != nil {
			return
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
		args2, named2, err := naturalParams(t, req2.Params)
		if tooMany(err) {
			return
		}
		if err != nil || req2.Method != req.Method || req2.Notification != req.Notification || !maps.Equal(req2.Entries.MD(), req.Entries.MD()) ||
			(args == nil) != (args2 == nil) || (named == nil) != (named2 == nil) ||
			args != nil && !sameNatural(args, args2) || named != nil && !sameNatural(named, named2) {
			t.Fatalf("% x\nbecame % x:\n%#v %#v\n%#v %#v", msg, msg2, args, named, args2, named2)
		}

		// The reply echoes the msgid verbatim, and carries metadata back
		// to a request that carried some.
		out, err := c.AppendResponse(nil, &wire.Response{ID: req.ID, Dialect: req.Dialect, Result: args, Meta: req.Entries.MD()})
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		var r wire.Reply
		if err := c.DecodeReply(out, &r); err != nil || !sameID(r.ID.Raw, req.ID.Raw) || !maps.Equal(r.Meta, req.Entries.MD()) ||
			req.Dialect&msgpack.DialectMeta == 0 && r.Meta != nil {
			t.Fatalf("reply % x does not echo msgid % x, or metadata %v: %v", out, req.ID.Raw, req.Entries.MD(), err)
		}
	})
}

// sameID compares raw msgids: a server echoes a nil msgid as nil, which a
// client reads as no msgid.
func sameID(a, b []byte) bool {
	isNil := func(id []byte) bool { return len(id) == 0 || len(id) == 1 && id[0] == 0xc0 }
	return bytes.Equal(a, b) || isNil(a) && isNil(b)
}

// FuzzDecodeReply checks that no reply, however malformed, panics the
// client, and that a reply decodes, encodes and decodes to the same.
func FuzzDecodeReply(f *testing.F) {
	addSeeds(f)
	c := msgpack.New(msgpack.WithMaxDepth(20))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r wire.Reply
		var err error
		var result any
		var resultErr error
		n := allocatedBytes(func() {
			err = c.DecodeReply(msg, &r)
			if err == nil && r.Result != nil {
				resultErr = r.Result.Decode(&result)
			}
		})
		if limit := uint64(64<<10 + 72*len(msg) + natural(len(msg))); n > limit {
			t.Fatalf("%d bytes allocated for a %d-byte reply; limit %d", n, len(msg), limit)
		}
		if err != nil {
			var e *wire.Error
			if errors.As(err, &e) {
				t.Fatalf("reply error %v is an *wire.Error", err)
			}
			return
		}
		if !wellFormed(msg) {
			t.Fatalf("malformed reply accepted: % x", msg)
		}
		if (r.Error == nil) == (r.Result == nil) {
			t.Fatalf("reply with error %v and result %v", r.Error, r.Result)
		}
		if resultErr != nil {
			return // a result with no natural value
		}
		resp := wire.Response{ID: r.ID, Result: result, Error: r.Error, Dialect: msgpack.DialectMeta, Meta: r.Meta}
		out, err := c.AppendResponse(nil, &resp)
		if err != nil && r.Error != nil && r.Error.Data != nil {
			return // data nested to the limit is one level deeper in the error map
		}
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", resp, err)
		}
		var r2 wire.Reply
		if err := c.DecodeReply(out, &r2); err != nil {
			t.Fatalf("re-encoded % x: %v", out, err)
		}
		if !bytes.Equal(r2.ID.Raw, r.ID.Raw) || r2.ID.Seq != r.ID.Seq || !maps.Equal(r2.Meta, r.Meta) {
			t.Fatalf("id %+v became %+v", r.ID, r2.ID)
		}
		if r.Error != nil {
			if r2.Error == nil || r2.Error.Code != r.Error.Code || r2.Error.Message != r.Error.Message ||
				!sameNatural(r2.Error.Data, r.Error.Data) {
				t.Fatalf("error %#v became %#v", r.Error, r2.Error)
			}
			return
		}
		var result2 any
		if r2.Result != nil && tooMany(r2.Result.Decode(&result2)) {
			return
		}
		if r2.Result == nil || r2.Result.Decode(&result2) != nil || !sameNatural(result, result2) {
			t.Fatalf("result %#v became %#v", result, result2)
		}
	})
}

// FuzzReadMessage reads a stream as an unframed connection does: every
// message read is exactly the next bytes of the stream and one well-formed
// value, and a stream that holds one valid message yields exactly it.
func FuzzReadMessage(f *testing.F) {
	addSeeds(f)
	f.Add(bytes.Repeat(hexb("94 00 01 a3 73 75 6d 92 01 02"), 3))
	const max = 4096
	c := msgpack.New(msgpack.WithMaxDepth(20))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(stream), 16)
		// Room for everything, so that only ReadMessage allocates below.
		consumed := make([]byte, 0, len(stream))
		ends := make([]int, 0, len(stream))
		var buf []byte
		var err error
		n := allocatedBytes(func() {
			for {
				if buf, err = c.ReadMessage(r, buf[:0], max); err != nil {
					return
				}
				consumed = append(consumed, buf...)
				ends = append(ends, len(consumed))
			}
		})
		if limit := uint64(64<<10 + 4*len(stream)); n > limit {
			t.Fatalf("%d bytes allocated for a %d-byte stream; limit %d", n, len(stream), limit)
		}
		var msgs [][]byte
		for i, end := range ends {
			start := 0
			if i > 0 {
				start = ends[i-1]
			}
			msgs = append(msgs, consumed[start:end])
		}
		if !bytes.HasPrefix(stream, consumed) {
			t.Fatalf("messages %x are not the stream's first bytes %x", msgs, stream)
		}
		for _, m := range msgs {
			var req wire.Request
			err := c.DecodeRequest(m, &req)
			var e *wire.Error
			if len(m) > max || !wellFormed(m) ||
				errors.As(err, &e) && (e.Code == wire.CodeParseError || e.Code == wire.CodeLimitExceeded) {
				t.Fatalf("message % x read but refused: %v", m, err)
			}
		}
		if err == io.EOF && len(consumed) != len(stream) {
			t.Fatalf("io.EOF with %d bytes unread", len(stream)-len(consumed))
		}
		var req wire.Request
		if err := c.DecodeRequest(stream, &req); len(stream) <= max && (err == nil || !errors.As(err, new(*wire.Error)) ||
			(*err.(*wire.Error)).Code == wire.CodeInvalidRequest) {
			if len(msgs) != 1 || !reflect.DeepEqual(msgs[0], stream) {
				t.Fatalf("a valid message was read as %x", msgs)
			}
		}
	})
}
