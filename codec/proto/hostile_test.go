package proto_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

const mb = 1 << 20

// call encodes a request to method with the given encoded params field
// contents appended as they are.
func call(method string, fields []byte) []byte {
	b := protowire.AppendString([]byte("\x08\x01\x12"), method)
	return append(b, fields...)
}

// param encodes one params field holding the Value v.
func param(v []byte) []byte { return protowire.AppendBytes([]byte{0x1a}, v) }

// repeat returns s n times.
func repeat(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }

// entries returns n map entries with distinct keys and int values.
func entries(n int) []byte {
	var b []byte
	for i := range n {
		key := []byte{byte('a' + i%26), byte('a' + i/26%26), byte('a' + i/676%26), byte('a' + i/17576%26)}
		e := protowire.AppendBytes([]byte{0x0a}, key)
		e = append(e, 0x12, 0x02, 0x18, 0x02)
		b = protowire.AppendBytes(append(b, 0x0a), e)
	}
	return b
}

// codeTooMany is the code of a server's error for a param whose natural
// values are too many for the size of its message: the codec's
// CodeLimitExceeded, which the core reports as invalid params.
const codeTooMany = rpc.CodeInvalidParams

// TestHostileInputs sends messages built to exhaust memory or stack and
// checks that each is refused or served with the expected outcome, with
// allocations bounded by a small multiple of its size. Each case logs its
// measurement.
func TestHostileInputs(t *testing.T) {
	huge := protowire.AppendVarint(nil, 1<<62)
	deepList := deepValue(mb / 4) // lists in lists, four bytes a level
	tests := []struct {
		name   string
		msg    []byte
		code   rpc.Code // 0: a result is wanted
		factor float64  // allowed bytes allocated per byte of message
	}{
		{"huge declared method length", append(append([]byte("\x08\x01\x12"), huge...), repeat("m", mb)...), rpc.CodeParseError, 0.05},
		{"huge declared param length", append(append(call("echo", []byte{0x1a}), huge...), repeat("\x18\x02", mb/2)...), rpc.CodeParseError, 0.05},
		{"huge declared string length", call("echo", append(append([]byte{0x1a, 0x80, 0x80, 0x40, 0x32}, huge...), repeat("s", mb)...)), rpc.CodeParseError, 0.05},
		{"huge declared length in a message", call("thing", param(append(append([]byte{0x5a, 0x80, 0x80, 0x40, 0x12}, huge...), repeat("s", mb)...))), rpc.CodeParseError, 0.05},
		{"truncated varint", append([]byte{0x08}, repeat("\xff", mb)...), rpc.CodeParseError, 0.05},
		{"varint overflow", []byte("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x12\x04echo"), rpc.CodeParseError, 0},
		{"truncated param", call("echo", []byte("\x1a\x10\x32\x0e")), rpc.CodeParseError, 0},
		{"1 MB of nested lists", call("echo", param(deepList)), rpc.CodeLimitExceeded, 0.05},
		{"1 MB of nested groups", call("echo", append(repeat("\xa3\x06", mb/2), repeat("\xa4\x06", mb/2)...)), rpc.CodeParseError, 0.05},
		{"nested lists in a reply-like request", call("echo", param(deepValue(200))), rpc.CodeLimitExceeded, 0.05},
		{"1 MB of unknown fields", call("lenInts", append(param([]byte{0x62, 0x00}), repeat("\xa8\x06\x01", mb/3)...)), 0, 0.05},
		{"1 MB of params for two", call("add", repeat("\x1a\x02\x18\x02", mb/4)), rpc.CodeInvalidParams, 0.05},
		{"1 MB of named params", append(call("subtract", nil), protowire.AppendBytes([]byte{0x22}, entries(mb/12))...), rpc.CodeInvalidParams, 12},
		{"1 MB of one named param repeated", append(call("subtract", nil), protowire.AppendBytes([]byte{0x22}, repeat("\x0a\x06\x0a\x00\x12\x02\x18\x02", mb/8))...), rpc.CodeInvalidParams, 6},
		{"1 MB string", call("len", param(protowire.AppendBytes([]byte{0x32}, repeat("a", mb)))), 0, 1.2},
		{"1 MB bytes", call("len", param(protowire.AppendBytes([]byte{0x3a}, repeat("a", mb)))), 0, 1.2},
		{"1 MB string into int64", call("add", param(protowire.AppendBytes([]byte{0x32}, repeat("a", mb)))), rpc.CodeInvalidParams, 0.05},
		{"1 MB method name", call(strings.Repeat("m", mb), nil), rpc.CodeMethodNotFound, 4},
		{"1 M packed ints into []int64", call("lenInts", param(protowire.AppendBytes([]byte{0x62}, protowire.AppendBytes([]byte{0x0a}, repeat("\x02", mb))))), 0, 8.2},
		// Natural values may take 32 bytes a byte of the message: a list
		// of one-byte ints takes 16 and is served; a list of maps of one
		// empty entry would take 58 and is refused once the budget is
		// spent.
		{"1 M packed ints into []any", call("len", param(protowire.AppendBytes([]byte{0x62}, protowire.AppendBytes([]byte{0x0a}, repeat("\x02", mb))))), 0, 16.5},
		{"170 K one-entry maps into []any", call("len", param(protowire.AppendBytes([]byte{0x4a}, repeat("\x0a\x04\x52\x02\x0a\x00", mb/6)))), codeTooMany, 33},
		{"128 K packed doubles into []any", call("len", param(protowire.AppendBytes([]byte{0x6a}, protowire.AppendBytes([]byte{0x0a}, repeat("\x01\x02\x03\x04\x05\x06\x07\x08", mb/8))))), 0, 4.5},
		{"512 K empty Values into []any", call("len", param(protowire.AppendBytes([]byte{0x4a}, repeat("\x0a\x00", mb/2)))), 0, 8.5},
		{"1 MB of map entries into map[string]int", call("lenMap", param(protowire.AppendBytes([]byte{0x52}, entries(mb/12)))), 0, 9},
		{"1 MB of map entries into any", call("len", param(protowire.AppendBytes([]byte{0x52}, entries(mb/12)))), 0, 12},
		{"1 MB of one key repeated", call("lenMap", param(protowire.AppendBytes([]byte{0x52}, repeat("\x0a\x06\x0a\x00\x12\x02\x18\x02", mb/8)))), 0, 0.1},
		{"1 MB of merged lists", call("len", param(repeat("\x4a\x02\x0a\x00", mb/4))), 0, 4.5},
		{"1 MB of merged named params", call("point", repeat("\x22\x00", mb/2)), 0, 0.05},
		{"1 MB of merges in a merge", call("len", param(protowire.AppendBytes([]byte{0x52},
			protowire.AppendBytes([]byte{0x0a}, append([]byte{0x0a, 0x00}, repeat("\x12\x04\x4a\x02\x0a\x00", mb/6)...))))), 0, 9},
	}
	s, c, _, _ := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reply []byte
			n := allocated(func() {
				reply = s.ServeMessage(context.Background(), c, tt.msg, nil)
			})
			var r polyrpcpb.Response
			if err := pb.Unmarshal(reply, &r); err != nil {
				t.Fatalf("reply % .40x: %v", reply, err)
			}
			switch {
			case tt.code == 0 && r.Error != nil:
				t.Errorf("error %v, want a result", r.Error)
			case tt.code != 0 && (r.Error == nil || rpc.Code(r.Error.Code) != tt.code):
				t.Errorf("reply %.300v, want error %d", &r, tt.code)
			}
			t.Logf("%d bytes allocated for a %d-byte message (%.2f a byte)", n, len(tt.msg), float64(n)/float64(len(tt.msg)))
			if limit := uint64(tt.factor*float64(len(tt.msg))) + 64<<10; n > limit {
				t.Errorf("allocated %d bytes for a %d-byte message; limit %d", n, len(tt.msg), limit)
			}
			if len(reply) > 300 && tt.code != 0 && tt.code != rpc.CodeMethodNotFound {
				t.Errorf("error reply of %d bytes", len(reply))
			}
		})
	}
}

// TestHostileReplies feeds a client hostile replies.
func TestHostileReplies(t *testing.T) {
	_, c, _, _ := newServer(t)
	huge := protowire.AppendVarint(nil, 1<<62)
	for name, msg := range map[string][]byte{
		"nested lists":       responseWith(deepValue(mb / 4)),
		"nested error data":  protowire.AppendBytes([]byte("\x08\x01\x1a"), protowire.AppendBytes([]byte{0x1a}, deepValue(mb/4))),
		"huge declared size": append(append([]byte("\x08\x01\x12"), huge...), repeat("\x00", mb)...),
		"truncated varint":   append([]byte{0x08}, repeat("\xff", mb)...),
		"nested groups":      append(repeat("\xa3\x06", mb/2), repeat("\xa4\x06", mb/2)...),
	} {
		var r wire.Reply
		var err error
		n := allocated(func() { err = c.DecodeReply(msg, &r) })
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		t.Logf("%s: %d bytes allocated for %d: %v", name, n, len(msg), err)
		if n > 64<<10 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
	// Replies that are valid but hostile: their decoding is bounded too. A
	// merge inside a merge lists its parts, a slice header (24 bytes) for
	// every four bytes at worst.
	for name, msg := range map[string][]byte{
		"merged results":    append([]byte{0x08, 0x01}, repeat("\x12\x02\x4a\x00", mb/4)...),
		"merged errors":     append([]byte{0x08, 0x01}, repeat("\x1a\x03\x12\x01x", mb/5)...),
		"many details":      protowire.AppendBytes([]byte{0x08, 0x01, 0x1a}, repeat("\x22\x00", mb/2)),
		"many messages":     protowire.AppendBytes([]byte{0x08, 0x01, 0x1a}, repeat("\x12\x01x", mb/3)),
		"merged error data": protowire.AppendBytes([]byte{0x08, 0x01, 0x1a}, repeat("\x1a\x02\x4a\x00", mb/4)),
	} {
		var r wire.Reply
		var err error
		var v any
		n := allocated(func() {
			if err = c.DecodeReply(msg, &r); err == nil && r.Result != nil {
				err = r.Result.Decode(&v)
			}
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: %d bytes allocated for %d", name, n, len(msg))
		if limit := 6.5*float64(len(msg)) + 64<<10; float64(n) > limit {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}

	// A detail whose message declares a huge length: protobuf-go refuses it
	// and the detail stays an Any.
	detail := protowire.AppendString([]byte{0x0a}, "type.googleapis.com/polyrpc.test.Thing")
	detail = protowire.AppendBytes(append(detail, 0x12), append(append([]byte{0x12}, huge...), "abc"...))
	msg := protowire.AppendBytes([]byte("\x08\x01\x1a"), protowire.AppendBytes([]byte("\x08\x01\x22"), detail))
	var r wire.Reply
	if err := c.DecodeReply(msg, &r); err != nil || r.Error == nil {
		t.Fatalf("reply with a bad detail: %v", err)
	}
	if _, ok := r.Error.Data.(*testpb.Thing); ok {
		t.Errorf("bad detail decoded as %v", r.Error.Data)
	}
}
