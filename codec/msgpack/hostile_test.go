package msgpack_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// allocated returns the bytes f allocates. The tests that use it are not
// parallel, so that other tests' allocations do not count.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// codeTooMany is the code of a server's error for a param whose natural
// values are too many for the size of its message: the codec's
// CodeLimitExceeded, which the core reports as invalid params.
const codeTooMany = wire.CodeInvalidParams

// hostileCall wraps params, given encoded, in a request to method.
func hostileCall(method string, params []byte) []byte {
	msg := []byte{0x94, 0x00, 0x01, 0xdb, 0, 0, 0, 0}
	n := len(method)
	msg[4], msg[5], msg[6], msg[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return append(append(msg, method...), params...)
}

// TestHostileInputs sends messages built to exhaust memory or stack: each
// is answered with the expected error (or result), and decoding and serving
// it allocates at most a small multiple of its size.
func TestHostileInputs(t *testing.T) {
	const mb = 1 << 20
	filler := bytes.Repeat([]byte{0xc0}, mb) // a megabyte of bytes that are present
	cat := func(parts ...[]byte) string { return string(bytes.Join(parts, nil)) }
	x := hexb
	manyNils := append(x("dd 00 10 00 00"), filler...)
	manyNamed := x("df 00 03 00 00")
	for i := range 0x30000 {
		manyNamed = append(manyNamed, 0xa3, 'k', byte(i>>8), byte(i), 0x01)
	}
	bigString := append(x("91 db 00 10 00 00"), bytes.Repeat([]byte{'a'}, mb)...)
	valid := hostileCall("echo", append(x("91 dd 00 10 00 00"), filler...))
	tests := []struct {
		name   string
		msg    string
		code   int     // 0: a result is wanted
		factor float64 // allowed bytes allocated per byte of message
	}{
		// Declared lengths far beyond the bytes present, alone and nested.
		{"array32 alone", cat(x("dd ff ff ff ff"), filler), wire.CodeParseError, 0.05},
		{"map32 alone", cat(x("df ff ff ff ff"), filler), wire.CodeParseError, 0.05},
		{"str32 alone", cat(x("db ff ff ff ff"), filler), wire.CodeParseError, 0.05},
		{"bin32 alone", cat(x("c6 ff ff ff ff"), filler), wire.CodeParseError, 0.05},
		{"ext32 alone", cat(x("c9 ff ff ff ff 01"), filler), wire.CodeParseError, 0.05},
		{"request of array32 length", cat(x("dd ff ff ff ff 00 01"), filler), wire.CodeParseError, 0.05},
		{"array32 params", cat(hostileCall("echo", x("dd ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"map32 params", cat(hostileCall("echo", x("df ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"str32 param", cat(hostileCall("echo", x("91 db ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"bin32 param", cat(hostileCall("echo", x("91 c6 ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"ext32 param", cat(hostileCall("echo", x("91 c9 ff ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"array32 nested in a map in arrays", cat(hostileCall("echo", x("91 91 91 81 a1 61 dd ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"map32 nested in arrays", cat(hostileCall("echo", x("91 92 c0 91 df ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"str32 as a map key", cat(hostileCall("echo", x("91 81 db ff ff ff ff")), filler), wire.CodeParseError, 0.05},
		{"str32 as the method", cat(x("94 00 01 db ff ff ff ff"), filler), wire.CodeParseError, 0.05},
		{"bin32 as the msgid", cat(x("94 00 c6 ff ff ff ff"), filler), wire.CodeParseError, 0.05},
		{"every element one byte short", cat(x("dd 00 10 00 01"), filler), wire.CodeParseError, 0.05},
		{"map entries one byte short", cat(x("df 00 08 00 01"), filler), wire.CodeParseError, 0.05},

		// Nesting.
		{"100k-deep arrays", strings.Repeat("\x91", 100000) + "\xc0", wire.CodeLimitExceeded, 0.05},
		{"100k-deep array16s", strings.Repeat("\xdc\x00\x01", 100000) + "\xc0", wire.CodeLimitExceeded, 0.05},
		{"100k-deep maps", strings.Repeat("\x81\xa0", 100000) + "\xc0", wire.CodeLimitExceeded, 0.05},
		{"100k-deep params", cat(hostileCall("echo", bytes.Repeat([]byte{0x91}, 100000)), []byte{0xc0}), wire.CodeLimitExceeded, 0.05},
		{"100k-deep unterminated", strings.Repeat("\x91", 100000), wire.CodeLimitExceeded, 0.05},

		// Truncation and trailing bytes.
		{"truncated 1 MB request", string(valid[:len(valid)/2]), wire.CodeParseError, 0.05},
		{"1 MB after a request", cat(hostileCall("echo", x("90")), filler), wire.CodeParseError, 0.05},

		// Well-formed but large. Go values cost more than their encoding:
		// each nil in a []any takes a 16-byte interface, each distinct
		// param name a string header, a span and a map entry. Natural
		// values may take 64 bytes a byte of the message: more is refused,
		// before the array is made when its header says so, else once the
		// budget is spent. Nils take 16 and are served; one-entry maps
		// would take 117.
		{"1M nils into two params", string(hostileCall("subtract", manyNils)), wire.CodeInvalidParams, 0.05},
		{"1M nils into any", string(hostileCall("echo", append(x("91"), manyNils...))), 0, 24},
		{"1M one-entry maps into any", string(hostileCall("echo", append(x("91 dd 00 05 55 55"), bytes.Repeat(x("81 a0 c0"), 0x55555)...))), codeTooMany, 65},
		{"128K float64s into any", string(hostileCall("echo", append(x("91 dd 00 02 00 00"), bytes.Repeat(x("cb 40 09 21 fb 54 44 2d 18"), 0x20000)...))), 0, 10},
		{"200k named params", string(hostileCall("subtract", manyNamed)), wire.CodeInvalidParams, 16},
		{"1 MB string", string(hostileCall("greet", bigString)), 0, 4},
		{"1 MB string into int64", string(hostileCall("subtract", append(append(x("92"), bigString[1:]...), 0x01))), wire.CodeInvalidParams, 0.05},
		{"1 MB method name", string(hostileCall(strings.Repeat("m", mb), x("90"))), wire.CodeMethodNotFound, 4},
	}
	s, c, _ := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := []byte(tt.msg)
			var req wire.Request
			err := c.DecodeRequest(msg, &req)
			var e *wire.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("DecodeRequest: %v is not an *wire.Error", err)
			}
			var out []byte
			n := allocated(func() { out = s.ServeMessage(context.Background(), c, msg, nil) })
			var r wire.Reply
			if err := c.DecodeReply(out, &r); err != nil {
				t.Fatalf("reply %.100x: %v", out, err)
			}
			switch {
			case tt.code == 0 && r.Error != nil:
				t.Errorf("error %v, want a result", r.Error)
			case tt.code != 0 && (r.Error == nil || r.Error.Code != tt.code):
				t.Errorf("error %v, want code %d", r.Error, tt.code)
			}
			t.Logf("%d bytes allocated for a %d-byte message (%.2fx)", n, len(msg), float64(n)/float64(len(msg)))
			if limit := uint64(tt.factor*float64(len(msg))) + 64<<10; n > limit {
				t.Errorf("allocated %d bytes for a %d-byte message; limit %d", n, len(msg), limit)
			}
			if tt.code != 0 && tt.code != wire.CodeMethodNotFound && len(out) > 300 {
				t.Errorf("error reply of %d bytes: %.300x", len(out), out)
			}
		})
	}
}

// TestHostileReplies feeds a client hostile replies.
func TestHostileReplies(t *testing.T) {
	c := msgpack.New()
	filler := bytes.Repeat([]byte{0xc0}, 1<<20)
	for _, msg := range [][]byte{
		append(hexb("dd ff ff ff ff"), filler...),
		append(hexb("94 01 01 c0 df ff ff ff ff"), filler...),
		append(hexb("94 01 01 db ff ff ff ff"), filler...),
		append(hexb("94 01 01 c0"), bytes.Repeat([]byte{0x91}, 1<<20)...),
		append(hexb("94 01 01"), bytes.Repeat([]byte{0x81, 0xa0}, 1<<19)...),
	} {
		var r wire.Reply
		var err error
		n := allocated(func() { err = c.DecodeReply(msg, &r) })
		if err == nil {
			t.Errorf("reply % .20x... accepted", msg)
		}
		if n > 64<<10 {
			t.Errorf("reply % .20x...: allocated %d bytes", msg, n)
		}
	}
}

// TestHostileStream sends ReadMessage headers that promise far more than
// arrives: memory follows the bytes that arrive.
func TestHostileStream(t *testing.T) {
	c := msgpack.New()
	arrived := 256 << 10
	for _, head := range []string{"c6 40 00 00 00", "db 40 00 00 00", "c9 40 00 00 00 01", "92 c6 40 00 00 00", "dd 00 ff ff ff"} {
		stream := append(hexb(head), bytes.Repeat([]byte{0xc0}, arrived)...)
		var err error
		n := allocated(func() {
			_, err = c.ReadMessage(bufio.NewReader(bytes.NewReader(stream)), nil, 2<<30)
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v, want io.ErrUnexpectedEOF", head, err)
		}
		t.Logf("%s: %d bytes allocated for %d bytes that arrived", head, n, len(stream))
		// The buffer doubles as bytes arrive, so it allocates about twice
		// its final capacity, which is at most twice what arrived.
		if limit := uint64(5*arrived) + 128<<10; n > limit {
			t.Errorf("%s: allocated %d bytes for %d that arrived; limit %d", head, n, arrived, limit)
		}
	}

	// A length beyond max is refused before anything more is read.
	var err error
	n := allocated(func() {
		_, err = c.ReadMessage(bufio.NewReader(bytes.NewReader(hexb("c6 ff ff ff ff"))), nil, 1<<20)
	})
	if !errors.Is(err, frame.ErrTooLarge) || n > 8<<10 {
		t.Errorf("bin32 of 4 GiB: %v after %d bytes allocated", err, n)
	}
}

// TestDeepestNesting serves a value at the deepest nesting the codec allows
// and one level deeper, with the limit at its maximum: no recursion of the
// codec's may overflow the stack, and the limit holds however high it is.
func TestDeepestNesting(t *testing.T) {
	c := msgpack.New(msgpack.WithMaxDepth(1 << 30))
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("echo", func(v any) (any, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("typed", func(v [][][]int) (int, error) { return len(v), nil }); err != nil {
		t.Fatal(err)
	}
	// The request and the params array take two levels. A string of 128 KiB
	// inside makes the message large enough that the natural values of
	// 10,000 levels, 40 bytes a level, are within its budget.
	var deep any = strings.Repeat("x", 128<<10)
	for range msgpack.MaxDepth - 2 {
		deep = []any{deep}
	}
	want := pack(t, reply(1, nil, deep))
	if got := serve(s, c, pack(t, []any{0, 1, "echo", []any{deep}})); !bytes.Equal(got, want) {
		t.Errorf("reply %.100x..., want the value echoed", got)
	}
	for method, code := range map[string]int{"echo": wire.CodeLimitExceeded} {
		got := serve(s, c, pack(t, []any{0, 1, method, []any{nested(msgpack.MaxDepth - 1)}}))
		var r wire.Reply
		if err := c.DecodeReply(got, &r); err != nil || r.Error == nil || r.Error.Code != code {
			t.Errorf("%s: %v %v, want code %d", method, r.Error, err, code)
		}
	}
	got := serve(s, c, pack(t, []any{0, 1, "typed", []any{deep}}))
	var r wire.Reply
	if err := c.DecodeReply(got, &r); err != nil || r.Error == nil || r.Error.Code != wire.CodeInvalidParams {
		t.Errorf("typed: %v %v, want code %d", r.Error, err, wire.CodeInvalidParams)
	}
}
