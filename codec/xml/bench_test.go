package xml_test

import (
	"testing"
	"time"

	"github.com/kolo/xmlrpc"
	"github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// The benchmarks set polyrpc beside github.com/kolo/xmlrpc, the most used
// Go XML-RPC package, on the same values: each iteration encodes a
// methodCall and decodes its param back into a typed Go value. Each side
// uses its own API as a program would: polyrpc appends into a reused
// buffer (as rpc.Client does), kolo returns a fresh one.

type benchAddress struct {
	Street string `json:"street" xmlrpc:"street"`
	City   string `json:"city" xmlrpc:"city"`
	Zip    int    `json:"zip" xmlrpc:"zip"`
}

type benchCustomer struct {
	Name    string       `json:"name" xmlrpc:"name"`
	Email   string       `json:"email" xmlrpc:"email"`
	Address benchAddress `json:"address" xmlrpc:"address"`
}

type benchItem struct {
	SKU      string   `json:"sku" xmlrpc:"sku"`
	Quantity int      `json:"quantity" xmlrpc:"quantity"`
	Price    float64  `json:"price" xmlrpc:"price"`
	Tags     []string `json:"tags" xmlrpc:"tags"`
	Gift     bool     `json:"gift" xmlrpc:"gift"`
}

type benchOrder struct {
	ID       int           `json:"id" xmlrpc:"id"`
	Customer benchCustomer `json:"customer" xmlrpc:"customer"`
	Items    []benchItem   `json:"items" xmlrpc:"items"`
	Created  time.Time     `json:"created" xmlrpc:"created"`
	Note     string        `json:"note" xmlrpc:"note"`
}

func benchArrayValue() []int {
	a := make([]int, 1000)
	for i := range a {
		a[i] = i*7919 - 500000
	}
	return a
}

func benchStructValue() benchOrder {
	o := benchOrder{
		ID: 4711,
		Customer: benchCustomer{
			Name:    "Ada Lovelace",
			Email:   "ada@example.org",
			Address: benchAddress{Street: "12 St James's Square", City: "London", Zip: 10001},
		},
		Created: time.Date(2024, 5, 17, 9, 30, 0, 0, time.UTC),
		Note:    "leave at the door & ring <twice>",
	}
	for i := range 5 {
		o.Items = append(o.Items, benchItem{
			SKU: "SKU-000" + string(rune('0'+i)), Quantity: i + 1, Price: 9.99 * float64(i+1),
			Tags: []string{"new", "sale"}, Gift: i%2 == 0,
		})
	}
	return o
}

func polyRoundTrip[T any](b *testing.B, v T) {
	c := xml.New()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		msg, err := c.AppendCall(buf[:0], &wire.Call{Method: "bench", Args: []any{v}})
		if err != nil {
			b.Fatal(err)
		}
		buf = msg
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil {
			b.Fatal(err)
		}
		var out T
		if err := req.Params.DecodeAt(0, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func koloRoundTrip[T any](b *testing.B, v T) {
	b.ReportAllocs()
	for b.Loop() {
		msg, err := xmlrpc.EncodeMethodCall("bench", v)
		if err != nil {
			b.Fatal(err)
		}
		var out T
		if err := xmlrpc.Response(msg).Unmarshal(&out); err != nil {
			b.Fatal(err)
		}
	}
}

func polyEncode[T any](b *testing.B, v T) {
	c := xml.New()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		msg, err := c.AppendCall(buf[:0], &wire.Call{Method: "bench", Args: []any{v}})
		if err != nil {
			b.Fatal(err)
		}
		buf = msg
	}
}

func koloEncode[T any](b *testing.B, v T) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := xmlrpc.EncodeMethodCall("bench", v); err != nil {
			b.Fatal(err)
		}
	}
}

func polyDecode[T any](b *testing.B, v T) {
	c := xml.New()
	msg, err := xmlrpc.EncodeMethodCall("bench", v) // the same bytes for both
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var req wire.Request
		if err := c.DecodeRequest(msg, &req); err != nil {
			b.Fatal(err)
		}
		var out T
		if err := req.Params.DecodeAt(0, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func koloDecode[T any](b *testing.B, v T) {
	msg, err := xmlrpc.EncodeMethodCall("bench", v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var out T
		if err := xmlrpc.Response(msg).Unmarshal(&out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkArray: encode + decode of a 1000-element int array.
func BenchmarkArray(b *testing.B) {
	v := benchArrayValue()
	b.Run("polyrpc", func(b *testing.B) { polyRoundTrip(b, v) })
	b.Run("kolo", func(b *testing.B) { koloRoundTrip(b, v) })
}

// BenchmarkStruct: encode + decode of a nested struct (three levels, an
// array of five structs, strings, floats, booleans and a time).
func BenchmarkStruct(b *testing.B) {
	v := benchStructValue()
	b.Run("polyrpc", func(b *testing.B) { polyRoundTrip(b, v) })
	b.Run("kolo", func(b *testing.B) { koloRoundTrip(b, v) })
}

func BenchmarkArrayEncode(b *testing.B) {
	v := benchArrayValue()
	b.Run("polyrpc", func(b *testing.B) { polyEncode(b, v) })
	b.Run("kolo", func(b *testing.B) { koloEncode(b, v) })
}

func BenchmarkArrayDecode(b *testing.B) {
	v := benchArrayValue()
	b.Run("polyrpc", func(b *testing.B) { polyDecode(b, v) })
	b.Run("kolo", func(b *testing.B) { koloDecode(b, v) })
}

func BenchmarkStructEncode(b *testing.B) {
	v := benchStructValue()
	b.Run("polyrpc", func(b *testing.B) { polyEncode(b, v) })
	b.Run("kolo", func(b *testing.B) { koloEncode(b, v) })
}

func BenchmarkStructDecode(b *testing.B) {
	v := benchStructValue()
	b.Run("polyrpc", func(b *testing.B) { polyDecode(b, v) })
	b.Run("kolo", func(b *testing.B) { koloDecode(b, v) })
}
