package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// FuzzSlices decodes any JSON value into the slices that the codec decodes
// itself ([]int64, []float64, []string) and checks it against encoding/json,
// whose semantics the codec promises: the same values, nil and empty told
// apart, a slice's own array reused, and an error where it errs.
func FuzzSlices(f *testing.F) {
	for _, s := range []string{
		`[1,2,3]`, `[]`, `null`, `[-0, 9223372036854775807, -9223372036854775808]`,
		`[9223372036854775808]`, `[1.0]`, `[1e3]`, `[null, 2]`, `["a", "b\\u00e9", null]`,
		`[1.5, -2e-3, 1e400]`, `[[1]]`, `[{}]`, `"x"`, `{}`, `[true]`, ` [ 1 , 2 ] `,
		`["\ud800"]`, `[0.1, 5e-324]`,
	} {
		f.Add(s)
	}
	c := json.New()
	f.Fuzz(func(t *testing.T, v string) {
		if !stdjson.Valid([]byte(v)) {
			return
		}
		var r wire.Reply
		if err := c.DecodeReply([]byte(`{"jsonrpc":"2.0","id":1,"result":`+v+`}`), &r); err != nil || r.Result == nil {
			return // nested too deep, say
		}
		check := func(name string, fresh func() (ours, theirs any)) {
			t.Helper()
			ours, theirs := fresh()
			err := r.Result.Decode(ours)
			stdErr := stdjson.Unmarshal([]byte(v), theirs)
			if (err == nil) != (stdErr == nil) {
				t.Fatalf("%s from %s: error %v, encoding/json's %v", name, v, err, stdErr)
			}
			if err != nil {
				return
			}
			if a, b := fmt.Sprintf("%#v", ours), fmt.Sprintf("%#v", theirs); a != b {
				t.Fatalf("%s from %s: %s, encoding/json gives %s", name, v, a, b)
			}
			// Encoded back, the same bytes as encoding/json's, which the
			// codec has leave <, > and & alone.
			val := reflect.ValueOf(ours).Elem().Interface()
			enc, err := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Seq: 1}, Result: val})
			std, stdErr := marshalNoHTML(val)
			if (err == nil) != (stdErr == nil) || err == nil && !bytes.Contains(enc, append(append([]byte(`"result":`), std...), ',')) {
				t.Fatalf("%s %#v encodes as %s (%v), encoding/json's %s (%v)", name, val, enc, err, std, stdErr)
			}
		}
		check("[]int64", func() (any, any) { return new([]int64), new([]int64) })
		check("[]float64", func() (any, any) { return new([]float64), new([]float64) })
		check("[]string", func() (any, any) { return new([]string), new([]string) })
		// Into slices that have an array already, which both reuse.
		check("reused []int64", func() (any, any) {
			a, b := make([]int64, 2, 8), make([]int64, 2, 8)
			return &a, &b
		})
		check("reused []string", func() (any, any) {
			a, b := []string{"x"}, []string{"x"}
			return &a, &b
		})
	})
}

// TestSliceArrayReused: as encoding/json does, decoding into a slice with
// room reuses its array.
func TestSliceArrayReused(t *testing.T) {
	var r wire.Reply
	if err := json.New().DecodeReply([]byte(`{"jsonrpc":"2.0","id":1,"result":[4,5]}`), &r); err != nil {
		t.Fatal(err)
	}
	orig := make([]int64, 1, 8)
	got := orig
	if err := r.Result.Decode(&got); err != nil || len(got) != 2 || got[1] != 5 {
		t.Fatalf("%v, %v", got, err)
	}
	if &got[0] != &orig[0] {
		t.Error("a new array, where the slice had room")
	}
}

// marshalNoHTML is encoding/json's encoding of v without HTML escaping.
func marshalNoHTML(v any) ([]byte, error) {
	var b bytes.Buffer
	e := stdjson.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
