package xml_test

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

type goldenAddress struct {
	Street string `json:"street"`
	Zip    int    `json:"zip,omitempty"`
}

type goldenUser struct {
	Name    string         `json:"name"`
	Admin   bool           `json:"admin"`
	Address *goldenAddress `json:"address"`
	Manager *goldenUser    `json:"manager"`
	Tags    []string       `json:"tags"`
	Note    string         `json:"note,omitempty"`
}

// golden compares got with testdata/golden/name byte for byte, or rewrites
// the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs\ngot  %s\nwant %s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	day := time.Date(1998, 7, 17, 14, 8, 55, 0, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name string
		enc  func() ([]byte, error)
	}{
		{"call.xml", func() ([]byte, error) {
			return codec.AppendCall(nil, &wire.Call{Method: "golden.types", Args: []any{
				42, int64(-1) << 40, uint8(7), true, false, "a<b & c>d\r\n\t'\"]]>", "",
				1.5, 0.1, 0.0, math.Copysign(0, -1), 1e21, 1e-7, 123456789.0, float32(0.1), math.MaxFloat64,
				day, []byte("binary\x00\xff"), []byte(nil), nil, (*int)(nil),
				[]any{1, "two", []int{}}, []string(nil), [2]bool{true, false},
				map[string]any{"zeta": 1, "alpha": "a", "<&>": nil}, map[string]int(nil),
			}})
		}},
		{"call-struct.xml", func() ([]byte, error) {
			return codec.AppendCall(nil, &wire.Call{Method: "golden.user", Args: []any{goldenUser{
				Name: "Ada", Admin: true, Address: &goldenAddress{Street: "1 Main St"},
				Manager: &goldenUser{Name: "Charles"}, Tags: []string{"x"},
			}}})
		}},
		{"call-empty.xml", func() ([]byte, error) {
			return codec.AppendCall(nil, &wire.Call{Method: "system.listMethods", Args: []any{}})
		}},
		{"response.xml", func() ([]byte, error) {
			return codec.AppendResponse(nil, &wire.Response{Result: map[string]any{
				"sum": int64(6), "items": []any{1.25, "x"}, "when": day,
			}})
		}},
		{"response-nil.xml", func() ([]byte, error) {
			return codec.AppendResponse(nil, &wire.Response{})
		}},
		{"fault.xml", func() ([]byte, error) {
			return codec.AppendResponse(nil, &wire.Response{Result: "ignored", Error: &wire.Error{
				Code: wire.CodeMethodNotFound, Message: "method not found: <a & b>", Data: "dropped",
			}})
		}},
		{"fault-application.xml", func() ([]byte, error) {
			return codec.AppendResponse(nil, &wire.Response{Error: &wire.Error{Code: 4, Message: "too many\r\nparameters \x00"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, got)
		})
	}
}

// TestGoldenDecode reads the golden files back.
func TestGoldenDecode(t *testing.T) {
	t.Run("call-struct.xml", func(t *testing.T) {
		var req wire.Request
		if err := codec.DecodeRequest(readFile(t, "golden/call-struct.xml"), &req); err != nil {
			t.Fatal(err)
		}
		var u goldenUser
		if err := req.Params.DecodeAt(0, &u); err != nil {
			t.Fatal(err)
		}
		if u.Name != "Ada" || !u.Admin || u.Address.Street != "1 Main St" || u.Manager.Name != "Charles" ||
			u.Manager.Manager != nil || u.Manager.Tags == nil || len(u.Tags) != 1 {
			t.Errorf("got %+v", u)
		}
	})
	t.Run("fault.xml", func(t *testing.T) {
		var r wire.Reply
		if err := codec.DecodeReply(readFile(t, "golden/fault.xml"), &r); err != nil {
			t.Fatal(err)
		}
		if r.Error == nil || r.Error.Code != wire.CodeMethodNotFound || r.Error.Message != "method not found: <a & b>" || r.Error.Data != nil {
			t.Errorf("got %#v", r.Error)
		}
	})
	t.Run("fault-application.xml", func(t *testing.T) {
		var r wire.Reply
		if err := codec.DecodeReply(readFile(t, "golden/fault-application.xml"), &r); err != nil {
			t.Fatal(err)
		}
		if r.Error == nil || r.Error.Code != 4 || r.Error.Message != "too many\r\nparameters \uFFFD" {
			t.Errorf("got %#v", r.Error)
		}
	})
	t.Run("response-nil.xml", func(t *testing.T) {
		var r wire.Reply
		if err := codec.DecodeReply(readFile(t, "golden/response-nil.xml"), &r); err != nil {
			t.Fatal(err)
		}
		var v any = "set"
		if err := r.Result.Decode(&v); err != nil || v != nil {
			t.Errorf("got %#v, %v", v, err)
		}
	})
}
