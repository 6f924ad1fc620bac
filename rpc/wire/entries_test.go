package wire_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func TestEntries(t *testing.T) {
	var nilEntries *wire.Entries
	if nilEntries.Len() != 0 || nilEntries.MD() != nil || nilEntries.Validate() != nil {
		t.Error("a nil *Entries is not empty")
	}
	if v, ok := nilEntries.Get("k"); ok || v != "" {
		t.Errorf("nil Get: %q, %v", v, ok)
	}
	var e wire.Entries
	if e.Len() != 0 || e.MD() != nil {
		t.Error("the zero Entries is not empty")
	}
	want := metadata.MD{}
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		e.Add(k, "v")
		want[k] = "v"
		if e.Len() != i+1 {
			t.Fatalf("Len %d after %d adds", e.Len(), i+1)
		}
	}
	e.Add("k1", "again") // a key given twice: the last counts
	e.Add("k7", "again")
	want["k1"], want["k7"] = "again", "again"
	if e.Len() != 12 || !maps.Equal(e.MD(), want) {
		t.Errorf("%d entries, %v, want %v", e.Len(), e.MD(), want)
	}
	for _, k := range []string{"k1", "k7"} {
		if v, ok := e.Get(k); !ok || v != "again" {
			t.Errorf("Get(%s): %q, %v", k, v, ok)
		}
	}
	if k, v := e.At(1); k != "k1" || v != "v" {
		t.Errorf("At(1): %s=%s, want the first k1 as added", k, v)
	}
	e.Set("k7", "set") // the last entry of k7
	e.Set("k2", "set") // inline
	e.Set("new", "set")
	want["k7"], want["k2"], want["new"] = "set", "set", "set"
	if e.Len() != 13 || !maps.Equal(e.MD(), want) {
		t.Errorf("after Set: %d entries, %v, want %v", e.Len(), e.MD(), want)
	}
	if k, v := e.At(7); k != "k7" || v != "v" {
		t.Errorf("At(7): %s=%s, changed by the Set of a later k7", k, v)
	}
	if _, ok := e.Get("absent"); ok {
		t.Error("Get of an absent key")
	}
}

func TestEntriesValidate(t *testing.T) {
	var e wire.Entries
	e.Add("traceparent", "00-abc-def-01")
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	// What was valid is checked again once it changed.
	e.Set("traceparent", "a\x00b")
	if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "metadata traceparent") {
		t.Errorf("a control character: %v", err)
	}
	e.Set("traceparent", "ok")
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	e.Add("Bad", "x")
	if err := e.Validate(); err == nil {
		t.Error("a key with upper case passed")
	}
	for what, md := range map[string]metadata.MD{
		"own key":    {"content-type": "x"},
		"long key":   {strings.Repeat("k", metadata.MaxKeyLen+1): "x"},
		"long value": {"k": strings.Repeat("v", metadata.MaxValueLen+1)},
	} {
		var e wire.Entries
		for k, v := range md {
			e.Add(k, v)
		}
		if err, want := e.Validate(), md.Validate(); err == nil || err.Error() != want.Error() {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	var many wire.Entries
	for range metadata.MaxEntries {
		many.Add("k", "v")
	}
	if err := many.Validate(); err != nil {
		t.Errorf("%d entries: %v", metadata.MaxEntries, err)
	}
	many.Add("k", "v") // a key given again counts again
	if err := many.Validate(); err == nil {
		t.Errorf("%d entries passed", many.Len())
	}
}
