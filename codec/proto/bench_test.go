package proto_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"net/rpc"
	"strconv"
	"testing"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/internal/testvals"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

var benchThing = &testpb.Thing{Id: 7, Name: "thing", Blob: []byte("blob"), Nums: []int64{1, 2, 3}, Labels: map[string]string{"a": "b"}}

// BenchmarkDecodeRequest decodes a request and its params, as a server does
// before it calls the method.
func BenchmarkDecodeRequest(b *testing.B) {
	c := proto.New()
	enc := func(call wire.Call) []byte {
		msg, err := c.AppendCall(nil, &call)
		if err != nil {
			b.Fatal(err)
		}
		return msg
	}
	cases := []struct {
		name string
		msg  []byte
		dec  func(p wire.Params) error
	}{
		{"add", enc(wire.Call{Method: "add", ID: wire.ID{Seq: 1}, Args: []any{int64(42), int64(23)}}), func(p wire.Params) error {
			var x, y int64
			if err := p.DecodeAt(0, &x); err != nil {
				return err
			}
			return p.DecodeAt(1, &y)
		}},
		{"named", enc(wire.Call{Method: "subtract", ID: wire.ID{Seq: 1}, Named: map[string]any{"minuend": 42, "subtrahend": 23}}), func(p wire.Params) error {
			for _, n := range p.Names() {
				var x int64
				if err := p.DecodeNamed(n, &x); err != nil {
					return err
				}
			}
			return nil
		}},
		{"any", enc(wire.Call{Method: "echo", ID: wire.ID{Seq: 1}, Args: []any{map[string]any{"a": []any{1, 2.5, "x"}, "b": true}}}), func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"ints1000-any", enc(wire.Call{Method: "echo", ID: wire.ID{Seq: 1}, Args: []any{testvals.Ramp(1000)}}), func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"records-any", enc(wire.Call{Method: "echo", ID: wire.ID{Seq: 1}, Args: []any{records(200)}}), func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"struct", enc(wire.Call{Method: "point", ID: wire.ID{Seq: 1}, Args: []any{Point{X: 1, Y: 2, Label: "p"}}}), func(p wire.Params) error {
			var v Point
			return p.DecodeAt(0, &v)
		}},
		{"message", enc(wire.Call{Method: "thing", ID: wire.ID{Seq: 1}, Args: []any{benchThing}}), func(p wire.Params) error {
			var v *testpb.Thing
			return p.DecodeAt(0, &v)
		}},
		{"ints1000", enc(wire.Call{Method: "echoInts", ID: wire.ID{Seq: 1}, Args: []any{testvals.Ramp(1000)}}), func(p wire.Params) error {
			var v []int64
			return p.DecodeAt(0, &v)
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.msg)))
			for b.Loop() {
				var req wire.Request
				if err := c.DecodeRequest(tc.msg, &req); err != nil {
					b.Fatal(err)
				}
				if err := tc.dec(req.Params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendResponse encodes responses into a reused buffer, as a
// transport with pooled buffers does.
func BenchmarkAppendResponse(b *testing.B) {
	c := proto.New()
	id := wire.ID{Raw: []byte{0x39}}
	cases := []struct {
		name string
		resp wire.Response
	}{
		{"int", wire.Response{ID: id, Result: int64(19)}},
		{"string", wire.Response{ID: id, Result: "hello, world"}},
		{"slice", wire.Response{ID: id, Result: []any{"hello", int64(5), 2.5, true, nil}}},
		{"struct", wire.Response{ID: id, Result: Point{X: 1, Y: 2, Label: "p"}}},
		{"message", wire.Response{ID: id, Result: benchThing}},
		{"ints1000", wire.Response{ID: id, Result: testvals.Ramp(1000)}},
		{"error", wire.Response{ID: id, Error: &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not found: x"}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				var err error
				if buf, err = c.AppendResponse(buf[:0], &tc.resp); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkRoundTrip makes calls through a client, the in-process transport,
// the server and back: both codec halves and the core; allocs/op counts
// both ends.
func BenchmarkRoundTrip(b *testing.B) {
	_, _, cl, _ := newServer(b)
	ctx := context.Background()
	b.Run("add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r int64
			if err := cl.Call(ctx, "add", &r, int64(42), int64(23)); err != nil || r != 65 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("ints1000", func(b *testing.B) {
		xs := testvals.Ramp(1000)
		b.ReportAllocs()
		for b.Loop() {
			var r []int64
			if err := cl.Call(ctx, "echoInts", &r, xs); err != nil || len(r) != len(xs) {
				b.Fatal(len(r), err)
			}
		}
	})
	b.Run("message", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r *testpb.Thing
			if err := cl.Call(ctx, "thing", &r, benchThing); err != nil || r.Id != 8 {
				b.Fatal(r, err)
			}
		}
	})
}

// gobArgs and gobReply are what a net/rpc add and echo exchange.
type gobArgs struct{ A, B int64 }

// BenchmarkGob is the codec work of net/rpc's gob codec for the same calls,
// for scale: on a stream whose type information has already been sent, the
// client encodes a request header and args, the server decodes them and
// encodes a response header and the reply, and the client decodes those.
func BenchmarkGob(b *testing.B) {
	run := func(b *testing.B, args, reply func() any, check func(any) bool) {
		var buf bytes.Buffer
		enc, dec := gob.NewEncoder(&buf), gob.NewDecoder(&buf)
		step := func(seq uint64) {
			if err := enc.Encode(&rpc.Request{ServiceMethod: "Arith.Add", Seq: seq}); err != nil {
				b.Fatal(err)
			}
			if err := enc.Encode(args()); err != nil {
				b.Fatal(err)
			}
			var req rpc.Request
			in := reply() // the server decodes into the method's param type
			if dec.Decode(&req) != nil || dec.Decode(in) != nil {
				b.Fatal("decode")
			}
			if err := enc.Encode(&rpc.Response{ServiceMethod: req.ServiceMethod, Seq: req.Seq}); err != nil {
				b.Fatal(err)
			}
			if err := enc.Encode(in); err != nil {
				b.Fatal(err)
			}
			var resp rpc.Response
			out := reply()
			if dec.Decode(&resp) != nil || dec.Decode(out) != nil || !check(out) {
				b.Fatal("decode reply")
			}
		}
		step(0) // type information
		b.ReportAllocs()
		seq := uint64(1)
		for b.Loop() {
			step(seq)
			seq++
		}
	}
	b.Run("add", func(b *testing.B) {
		run(b, func() any { return &gobArgs{42, 23} }, func() any { return new(gobArgs) },
			func(v any) bool { return v.(*gobArgs).A == 42 })
	})
	b.Run("ints1000", func(b *testing.B) {
		xs := testvals.Ramp(1000)
		run(b, func() any { return &xs }, func() any { return new([]int64) },
			func(v any) bool { return len(*v.(*[]int64)) == 1000 })
	})
}

// records returns n records as natural values: a typical document that a
// method taking any receives.
func records(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{
			"id":     int64(100000 + i),
			"name":   "user " + strconv.Itoa(i),
			"email":  "user" + strconv.Itoa(i) + "@example.com",
			"active": i%2 == 0,
			"score":  float64(i) * 1.5,
			"tags":   []any{"alpha", "beta"},
		}
	}
	return out
}
