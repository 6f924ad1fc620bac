package json_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

func decodeRequest(t *testing.T, msg string) *wire.Request {
	t.Helper()
	var req wire.Request
	if err := json.New().DecodeRequest([]byte(msg), &req); err != nil {
		t.Fatalf("DecodeRequest(%s): %v", msg, err)
	}
	return &req
}

// TestParamsPositionalAnyOrder reads many positional params in every order:
// the codec locates the first few while it scans the request and the rest on
// demand.
func TestParamsPositionalAnyOrder(t *testing.T) {
	t.Parallel()
	const n = 40
	elems := make([]string, n)
	for i := range elems {
		// Values of every kind, with commas and brackets inside strings.
		switch i % 4 {
		case 0:
			elems[i] = fmt.Sprint(i)
		case 1:
			elems[i] = fmt.Sprintf(`"%d,]"`, i)
		case 2:
			elems[i] = fmt.Sprintf(` [ %d , {"k":"]"} ] `, i)
		case 3:
			elems[i] = fmt.Sprintf(`{"i":%d}`, i)
		}
	}
	req := decodeRequest(t, `{"jsonrpc":"2.0","method":"m","params":[`+strings.Join(elems, ",")+`],"id":1}`)
	p := req.Params
	if p.Len() != n || p.Names() != nil {
		t.Fatalf("Len %d, Names %v", p.Len(), p.Names())
	}
	order := []int{0, 39, 5, 6, 7, 4, 3, 20, 19, 21, 39, 38}
	for i := range n {
		order = append(order, n-1-i)
	}
	for _, i := range order {
		var got any
		if err := p.DecodeAt(i, &got); err != nil {
			t.Fatalf("DecodeAt(%d): %v", i, err)
		}
		// The same value on its own, as a reply's result.
		var r wire.Reply
		if err := json.New().DecodeReply([]byte(`{"result":`+elems[i]+`,"id":1}`), &r); err != nil {
			t.Fatal(err)
		}
		var want any
		if err := r.Result.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("param %d = %v, want %v", i, got, want)
		}
	}
	for _, i := range []int{-1, n} {
		var v any
		if err := p.DecodeAt(i, &v); err == nil {
			t.Errorf("DecodeAt(%d) succeeded", i)
		}
	}
	var v any
	if err := p.DecodeNamed("a", &v); err == nil {
		t.Error("DecodeNamed on positional params succeeded")
	}
}

func TestParamsNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		obj   string
		names []string
		vals  []int64
	}{
		{"none", `{}`, nil, nil},
		{"few", `{"b":2,"a":1}`, []string{"b", "a"}, []int64{2, 1}},
		{"repeated", `{"a":1,"b":2,"a":3}`, []string{"a", "b"}, []int64{3, 2}},
		{"escaped", `{"\u0061":1,"a\"b":2,"\u00e9":3}`, []string{"a", `a"b`, "é"}, []int64{1, 2, 3}},
		{"escaped repeat", `{"a":1,"\u0061":2}`, []string{"a"}, []int64{2}},
		{"invalid UTF-8", "{\"\xff\":1}", []string{"\ufffd"}, []int64{1}},
	}
	// Many names, beyond those kept inline and beyond linear search.
	var obj []string
	var names []string
	var vals []int64
	for i := range 30 {
		obj = append(obj, fmt.Sprintf(`"n%d":%d`, i, i))
		names = append(names, fmt.Sprintf("n%d", i))
		vals = append(vals, int64(i))
	}
	obj = append(obj, `"n3":333`)
	vals[3] = 333
	tests = append(tests, struct {
		name  string
		obj   string
		names []string
		vals  []int64
	}{"many", "{" + strings.Join(obj, ",") + "}", names, vals})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := decodeRequest(t, `{"jsonrpc":"2.0","method":"m","params":`+tt.obj+`,"id":1}`).Params
			if p.Len() != -1 {
				t.Fatalf("Len %d, want -1", p.Len())
			}
			if got := p.Names(); !slices.Equal(got, tt.names) {
				t.Fatalf("Names %q, want %q", got, tt.names)
			}
			for i, name := range tt.names {
				var v int64
				if err := p.DecodeNamed(name, &v); err != nil || v != tt.vals[i] {
					t.Errorf("DecodeNamed(%q) = %d, %v; want %d", name, v, err, tt.vals[i])
				}
			}
			var v int64
			if err := p.DecodeNamed("absent", &v); err == nil {
				t.Error("DecodeNamed of an absent name succeeded")
			}
			if err := p.DecodeAt(0, &v); err == nil {
				t.Error("DecodeAt on named params succeeded")
			}
		})
	}
}

// Wide is a struct param with more fields than the codec keeps inline.
type Wide struct {
	F0, F1, F2, F3, F4, F5, F6, F7, F8, F9 int
	G0, G1, G2, G3, G4, G5, G6, G7, G8, G9 int
}

func TestServeWideStruct(t *testing.T) {
	t.Parallel()
	s, c, _ := newServer(t)
	if err := s.Register("wide", func(w Wide) (int, error) { return w.F0 + w.F9 + w.G0 + w.G9, nil }); err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, p := range []string{"F", "G"} {
		for i := range 10 {
			members = append(members, fmt.Sprintf(`"%s%d":%d`, p, i, i+1))
		}
	}
	got := serve(s, c, `{"jsonrpc":"2.0","method":"wide","params":{`+strings.Join(members, ",")+`},"id":1}`)
	if want := `{"jsonrpc":"2.0","result":22,"id":1}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
