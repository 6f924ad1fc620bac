package xml_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// seed adds every fixture under testdata, and a few hand-written messages,
// to the fuzz corpus.
func seed(f *testing.F, extra ...string) {
	f.Helper()
	for _, pattern := range []string{"testdata/*.xml", "testdata/golden/*.xml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// normalize drops what the encoder drops on purpose: fractions of a second.
func normalize(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Truncate(time.Second)
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	}
	return v
}

type fuzzStruct struct {
	A int               `json:"a"`
	B string            `json:"b"`
	C []fuzzStruct      `json:"c"`
	D map[string]uint16 `json:"d"`
	E *time.Time        `json:"e"`
	F []byte            `json:"f"`
	G float32           `json:"g"`
}

// FuzzDecodeRequest: no input panics; what decodes re-encodes, and decodes
// again to the same values.
func FuzzDecodeRequest(f *testing.F) {
	seed(f,
		string(call("<value><struct><member><name>a</name><value><int>1</int></value></member></struct></value>")),
		string(call("<value><array><data><value><dateTime.iso8601>19980717T14:08:55.5+01:00</dateTime.iso8601></value></data></array></value>")),
		string(call("<value><string>a&#13;&amp;<![CDATA[<x>]]>\r\n</string></value>", "<value><base64>AA\n==</base64></value>")),
	)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var req wire.Request
		if err := codec.DecodeRequest(msg, &req); err != nil {
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *wire.Error", err)
			}
			return
		}
		var args []any
		if req.Params != nil {
			args = make([]any, req.Params.Len())
			for i := range args {
				if err := req.Params.DecodeAt(i, &args[i]); err != nil {
					t.Fatalf("param %d into any: %v", i, err)
				}
				// Typed targets must fail cleanly, not panic.
				var s fuzzStruct
				_ = req.Params.DecodeAt(i, &s)
				var l []int32
				_ = req.Params.DecodeAt(i, &l)
				var m map[string][]string
				_ = req.Params.DecodeAt(i, &m)
			}
		}
		again, err := codec.AppendCall(nil, &wire.Call{Method: req.Method, Args: args})
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", args, err)
		}
		var req2 wire.Request
		if err := codec.DecodeRequest(again, &req2); err != nil {
			t.Fatalf("decoding the re-encoded %s: %v", again, err)
		}
		var args2 []any
		if req2.Params != nil {
			args2 = make([]any, req2.Params.Len())
			for i := range args2 {
				if err := req2.Params.DecodeAt(i, &args2[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if req2.Method != req.Method || !reflect.DeepEqual(normalize(args2), normalize(args)) {
			t.Fatalf("round trip changed the call\nfirst  %q %#v\nsecond %q %#v", req.Method, args, req2.Method, args2)
		}
	})
}

// FuzzDecodeReply: no input panics; a decoded result or fault re-encodes
// and decodes again to the same.
func FuzzDecodeReply(f *testing.F) {
	seed(f,
		"<methodResponse><params><param><value><nil/></value></param></params></methodResponse>",
		"<methodResponse><fault><value><struct><member><name>faultCode</name><value>7</value></member></struct></value></fault></methodResponse>",
	)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r wire.Reply
		if err := codec.DecodeReply(msg, &r); err != nil {
			return
		}
		switch {
		case r.Error != nil:
			again, err := codec.AppendResponse(nil, &wire.Response{Error: r.Error})
			if err != nil {
				t.Fatal(err)
			}
			var r2 wire.Reply
			if err := codec.DecodeReply(again, &r2); err != nil {
				t.Fatalf("decoding the re-encoded %s: %v", again, err)
			}
			if !reflect.DeepEqual(r2.Error, r.Error) {
				t.Fatalf("fault changed: %#v, then %#v", r.Error, r2.Error)
			}
		case r.Result != nil:
			var v any
			if err := r.Result.Decode(&v); err != nil {
				t.Fatal(err)
			}
			var s fuzzStruct
			_ = r.Result.Decode(&s)
			again, err := codec.AppendResponse(nil, &wire.Response{Result: v})
			if err != nil {
				t.Fatalf("re-encoding %#v: %v", v, err)
			}
			var r2 wire.Reply
			if err := codec.DecodeReply(again, &r2); err != nil {
				t.Fatalf("decoding the re-encoded %s: %v", again, err)
			}
			var v2 any
			if err := r2.Result.Decode(&v2); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(v2), normalize(v)) {
				t.Fatalf("result changed: %#v, then %#v", v, v2)
			}
		}
	})
}
