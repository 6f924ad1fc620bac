package proto_test

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// record is a struct of many fields of mixed kinds, like the one the bench
// program echoes, to measure the struct paths of the codec.
type record struct {
	ID       int64
	Version  int32
	Priority int8
	Rank     int16
	Count    int
	Size     uint64
	Score    float64
	Weight   float32
	Name     string
	Email    string
	Note     string
	Active   bool
	Locked   bool
	Created  time.Time
	Tags     []string
	Scores   []float64
	Items    []recordItem
	Attrs    map[string]string
	Counters map[string]int64
	Inner    recordItem
	Blob     []byte
	Ptr      *recordItem
}

type recordItem struct {
	Name  string
	Qty   int64
	Price float64
}

func newBenchRecord() record {
	return record{
		ID: 9_007_199_254_740_993, Version: 7, Priority: -3, Rank: 1200, Count: 42, Size: 1 << 33,
		Score: 98.5, Weight: 71.25, Name: "Ada Lovelace", Email: "ada@example.org",
		Note: "fish & chips <on Friday>", Active: true, Locked: true,
		Created:  time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		Tags:     []string{"math", "poetry", "engines"},
		Scores:   []float64{1.5, -2.25, 3.125},
		Items:    []recordItem{{"card", 1024, 0.05}, {"gear", 37, 12.5}},
		Attrs:    map[string]string{"lang": "en", "era": "victorian"},
		Counters: map[string]int64{"letters": 312, "notes": 7},
		Inner:    recordItem{"note G", 7, 1.25},
		Blob:     []byte("blob"),
		Ptr:      &recordItem{"ptr", 1, 2},
	}
}

// BenchmarkRecord encodes a record as a call's param, and decodes it as a
// server does; gob does the same for scale, on a stream that has already
// carried the type.
func BenchmarkRecord(b *testing.B) {
	c := proto.New()
	rec := newBenchRecord()
	call := wire.Call{Method: "echo", ID: wire.ID{Seq: 1}, Args: []any{rec}}
	msg, err := c.AppendCall(nil, &call)
	if err != nil {
		b.Fatal(err)
	}
	var back record
	var req wire.Request
	if err := c.DecodeRequest(msg, &req); err != nil {
		b.Fatal(err)
	}
	if err := req.Params.DecodeAt(0, &back); err != nil || !reflect.DeepEqual(back, rec) {
		b.Fatalf("round trip: %v\n%+v\n%+v", err, back, rec)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2*len(msg))
		for b.Loop() {
			if buf, err = c.AppendCall(buf[:0], &call); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var req wire.Request
			if err := c.DecodeRequest(msg, &req); err != nil {
				b.Fatal(err)
			}
			var r record
			if err := req.Params.DecodeAt(0, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob-encode", func(b *testing.B) {
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		if err := enc.Encode(&rec); err != nil { // type information
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(&rec); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
	b.Run("gob-decode", func(b *testing.B) {
		var buf bytes.Buffer
		enc, dec := gob.NewEncoder(&buf), gob.NewDecoder(&buf)
		for range 2 {
			if err := enc.Encode(&rec); err != nil {
				b.Fatal(err)
			}
		}
		var r record
		if err := dec.Decode(&r); err != nil { // type information
			b.Fatal(err)
		}
		one := append([]byte(nil), buf.Bytes()...)
		b.ReportAllocs()
		b.SetBytes(int64(len(one)))
		for b.Loop() {
			buf.Reset()
			buf.Write(one)
			var r record
			if err := dec.Decode(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
