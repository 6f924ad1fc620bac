package msgpack_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"net/rpc"
	"strconv"
	"testing"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/internal/testvals"
	prpc "github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// BenchmarkDecodeRequest decodes a request and its params, as a server does
// before it calls the method.
func BenchmarkDecodeRequest(b *testing.B) {
	c := msgpack.New()
	cases := []struct {
		name string
		msg  any
		dec  func(p wire.Params) error
	}{
		{"positional", []any{0, 1, "subtract", []any{42, 23}}, func(p wire.Params) error {
			var x, y int64
			if err := p.DecodeAt(0, &x); err != nil {
				return err
			}
			return p.DecodeAt(1, &y)
		}},
		{"named", []any{0, 3, "subtract", map[string]any{"subtrahend": 23, "minuend": 42}}, func(p wire.Params) error {
			for _, n := range p.Names() {
				var x int64
				if err := p.DecodeNamed(n, &x); err != nil {
					return err
				}
			}
			return nil
		}},
		{"any", []any{0, 1, "echo", []any{map[string]any{"a": []any{1, 2.5, "x"}, "b": true}}}, func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"ints1000-any", []any{0, 1, "echo", []any{testvals.Ramp(1000)}}, func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"records-any", []any{0, 1, "echo", []any{records(200)}}, func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"struct", []any{0, 1, "point", []any{map[string]any{"x": 1, "y": 2, "label": "p"}}}, func(p wire.Params) error {
			var v Point
			return p.DecodeAt(0, &v)
		}},
		{"ints1000", []any{0, 1, "echo", []any{testvals.Ramp(1000)}}, func(p wire.Params) error {
			var v []int64
			return p.DecodeAt(0, &v)
		}},
	}
	for _, tc := range cases {
		msg := pack(b, tc.msg)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var req wire.Request
				if err := c.DecodeRequest(msg, &req); err != nil {
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
	c := msgpack.New()
	id := wire.ID{Raw: []byte{0xcd, 0x30, 0x39}}
	cases := []struct {
		name string
		resp wire.Response
	}{
		{"int", wire.Response{ID: id, Result: int64(19)}},
		{"string", wire.Response{ID: id, Result: "hello, world"}},
		{"slice", wire.Response{ID: id, Result: []any{"hello", int64(5), 2.5, true, nil}}},
		{"map", wire.Response{ID: id, Result: map[string]any{"a": int64(1), "b": "two", "c": []any{}}}},
		{"struct", wire.Response{ID: id, Result: Point{X: 1, Y: 2, Label: "p"}}},
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

// BenchmarkRoundTrip makes a small call through a client, the in-process
// transport, the server and back: both codec halves and the core.
func BenchmarkRoundTrip(b *testing.B) {
	s, c, _ := newServer(b)
	cl, err := prpc.NewClient(prpc.InProcess(s), c)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("int64", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r int64
			if err := cl.Call(ctx, "subtract", &r, 42, 23); err != nil || r != 19 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("struct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r Point
			if err := cl.Call(ctx, "point", &r, Point{X: 1, Y: 2, Label: "p"}); err != nil || r.X != 2 {
				b.Fatal(r, err)
			}
		}
	})
}

// BenchmarkGobCodecWork is a reference for BenchmarkRoundTrip: the codec
// work of one net/rpc call with gob on a long-lived stream (request header
// and args encoded and decoded, then response header and reply), without
// dispatch or transport.
func BenchmarkGobCodecWork(b *testing.B) {
	type args struct{ A, B int64 }
	var buf bytes.Buffer
	enc, dec := gob.NewEncoder(&buf), gob.NewDecoder(&buf)
	roundTrip := func(seq uint64) {
		if err := enc.Encode(&rpc.Request{ServiceMethod: "Arith.Subtract", Seq: seq}); err != nil {
			b.Fatal(err)
		}
		if err := enc.Encode(&args{42, 23}); err != nil {
			b.Fatal(err)
		}
		var req rpc.Request
		var a args
		if err := dec.Decode(&req); err != nil {
			b.Fatal(err)
		}
		if err := dec.Decode(&a); err != nil {
			b.Fatal(err)
		}
		if err := enc.Encode(&rpc.Response{ServiceMethod: req.ServiceMethod, Seq: req.Seq}); err != nil {
			b.Fatal(err)
		}
		if err := enc.Encode(a.A - a.B); err != nil {
			b.Fatal(err)
		}
		var resp rpc.Response
		var r int64
		if err := dec.Decode(&resp); err != nil {
			b.Fatal(err)
		}
		if err := dec.Decode(&r); err != nil || r != 19 {
			b.Fatal(r, err)
		}
	}
	roundTrip(0) // gob sends type descriptions once per stream
	b.ReportAllocs()
	seq := uint64(1)
	for b.Loop() {
		roundTrip(seq)
		seq++
	}
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
