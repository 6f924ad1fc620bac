package rpc

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	N int `json:"n"`
}

type outer struct {
	inner
	Name  string            `json:"name"`
	Tags  []string          `json:"tags,omitempty"`
	When  time.Time         `json:"when"`
	Ptr   *int              `json:"ptr"`
	Attrs map[string]int8   `json:"attrs"`
	Any   any               `json:"any"`
	Skip  string            `json:"-"`
	Raw   []byte            `json:"raw"`
	Arr   [2]uint16         `json:"arr"`
	Deep  map[string][]bool `json:"deep"`
}

func TestConvert(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	src := map[string]any{
		"n": int64(3), "name": "x", "tags": []any{"a", "b"}, "when": when, "ptr": int64(9),
		"attrs": map[string]any{"k": int64(-128)}, "any": []any{int64(1)}, "Skip": "no", "raw": []byte("hi"),
		"arr": []any{int64(1), float64(2)}, "deep": map[string]any{"d": []any{true}}, "unknown": 1,
	}
	var got outer
	if err := convertInto(&got, src); err != nil {
		t.Fatal(err)
	}
	nine := 9
	want := outer{inner: inner{N: 3}, Name: "x", Tags: []string{"a", "b"}, When: when, Ptr: &nine,
		Attrs: map[string]int8{"k": -128}, Any: []any{int64(1)}, Raw: []byte("hi"), Arr: [2]uint16{1, 2},
		Deep: map[string][]bool{"d": {true}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	errs := []struct {
		name string
		dst  any
		src  any
		msg  string
	}{
		{"overflow int8", new(int8), int64(128), "in the range of an 8-bit integer"},
		{"negative uint", new(uint), int64(-1), "whole number"},
		{"fraction", new(int), 1.5, "whole number"},
		{"huge float", new(int64), math.MaxFloat64, "whole number"},
		{"string into int", new(int), "1", "cannot use string"},
		{"array length", new([2]int), []any{int64(1)}, "1 elements"},
		{"bad time", new(time.Time), "yesterday", "RFC 3339"},
		{"nested", new(outer), map[string]any{"tags": []any{"a", int64(1)}}, "tags: [1]"},
		{"not pointer", 5, 1, "not a non-nil pointer"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			err := convertInto(tt.dst, tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Convert error = %v, want %q", err, tt.msg)
			}
		})
	}

	var u uint64
	if err := convertInto(&u, uint64(math.MaxUint64)); err != nil || u != math.MaxUint64 {
		t.Errorf("uint64 max: %v %v", u, err)
	}
	var f32 float32
	if err := convertInto(&f32, 1e300); err == nil {
		t.Error("float32 overflow accepted")
	}
	p := new(int)
	if err := convertInto(&p, nil); err != nil || p != nil {
		t.Errorf("nil into pointer: %v %v", p, err)
	}
	tm := time.Time{}
	if err := convertInto(&tm, "2026-11-22T04:00:00+01:00"); err != nil || tm.Hour() != 4 {
		t.Errorf("RFC 3339 string into time: %v %v", tm, err)
	}
}
