package json_test

import (
	"context"
	stdjson "encoding/json"
	"strconv"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/internal/testvals"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// BenchmarkDecodeRequest decodes a request and its params, as a server does
// before it calls the method. The encoding/json case decodes the same
// request into an envelope struct with json.RawMessage params and then each
// param, for scale.
func BenchmarkDecodeRequest(b *testing.B) {
	c := json.New()
	cases := []struct {
		name string
		msg  string
		dec  func(p wire.Params) error
	}{
		{"positional", `{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}`, func(p wire.Params) error {
			var x, y int64
			if err := p.DecodeAt(0, &x); err != nil {
				return err
			}
			return p.DecodeAt(1, &y)
		}},
		{"named", `{"jsonrpc":"2.0","method":"subtract","params":{"subtrahend":23,"minuend":42},"id":3}`, func(p wire.Params) error {
			for _, n := range p.Names() {
				var x int64
				if err := p.DecodeNamed(n, &x); err != nil {
					return err
				}
			}
			return nil
		}},
		{"ints1000", `{"jsonrpc":"2.0","method":"echo","params":[` + ints1000JSON() + `],"id":1}`, func(p wire.Params) error {
			var v []int64
			return p.DecodeAt(0, &v)
		}},
		{"any", `{"jsonrpc":"2.0","method":"echo","params":[{"a":[1,2.5,"x"],"b":true}],"id":"abc"}`, func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"ints1000-any", `{"jsonrpc":"2.0","method":"echo","params":[` + ints1000JSON() + `],"id":1}`, func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"records-any", `{"jsonrpc":"2.0","method":"echo","params":[` + recordsJSON(200) + `],"id":1}`, func(p wire.Params) error {
			var v any
			return p.DecodeAt(0, &v)
		}},
		{"struct", `{"jsonrpc":"2.0","method":"point","params":[{"x":1,"y":2,"label":"p"}],"id":1}`, func(p wire.Params) error {
			var v Point
			return p.DecodeAt(0, &v)
		}},
	}
	for _, tc := range cases {
		msg := []byte(tc.msg)
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
	b.Run("positional/encoding-json", func(b *testing.B) {
		msg := []byte(cases[0].msg)
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var env struct {
				JSONRPC string               `json:"jsonrpc"`
				Method  string               `json:"method"`
				Params  []stdjson.RawMessage `json:"params"`
				ID      stdjson.RawMessage   `json:"id"`
			}
			if err := stdjson.Unmarshal(msg, &env); err != nil {
				b.Fatal(err)
			}
			var x, y int64
			if stdjson.Unmarshal(env.Params[0], &x) != nil || stdjson.Unmarshal(env.Params[1], &y) != nil {
				b.Fatal("params")
			}
		}
	})
}

// BenchmarkAppendResponse encodes responses into a reused buffer, as a
// transport with pooled buffers does.
func BenchmarkAppendResponse(b *testing.B) {
	c := json.New()
	id := wire.ID{Raw: []byte("12345")}
	cases := []struct {
		name string
		resp wire.Response
	}{
		{"int", wire.Response{ID: id, Dialect: json.Dialect2, Result: int64(19)}},
		{"string", wire.Response{ID: id, Dialect: json.Dialect2, Result: "hello, world"}},
		{"slice", wire.Response{ID: id, Dialect: json.Dialect2, Result: []any{"hello", int64(5), 2.5, true, nil}}},
		{"struct", wire.Response{ID: id, Dialect: json.Dialect2, Result: Point{X: 1, Y: 2, Label: "p"}}},
		{"ints1000", wire.Response{ID: id, Dialect: json.Dialect2, Result: testvals.Ramp(1000)}},
		{"error", wire.Response{ID: id, Dialect: json.Dialect2, Error: &wire.Error{Code: wire.CodeMethodNotFound, Message: "method not found: x"}}},
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
	cl, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var r int64
		if err := cl.Call(ctx, "subtract", &r, 42, 23); err != nil || r != 19 {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkSplitBatch splits a batch of ten calls.
func BenchmarkSplitBatch(b *testing.B) {
	c := json.New()
	item := []byte(`{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}`)
	items := make([][]byte, 10)
	for i := range items {
		items[i] = item
	}
	msg := c.AppendBatch(nil, items)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, _, err := c.SplitBatch(msg, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func ints1000JSON() string {
	b, err := stdjson.Marshal(testvals.Ramp(1000))
	if err != nil {
		panic(err)
	}
	return string(b)
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

func recordsJSON(n int) string {
	b, err := stdjson.Marshal(records(n))
	if err != nil {
		panic(err)
	}
	return string(b)
}
