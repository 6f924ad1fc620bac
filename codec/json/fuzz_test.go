package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// specExamples are the requests of the JSON-RPC 2.0 specification's
// examples, and a few of the codec's own edge cases.
var specExamples = []string{
	`{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}`,
	`{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}`,
	`{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}`,
	`{"jsonrpc": "2.0", "method": "foobar"}`,
	`{"jsonrpc": "2.0", "method": "foobar", "id": "1"}`,
	`{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`,
	`{"jsonrpc": "2.0", "method": 1, "params": "bar"}`,
	`[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]`,
	`[]`,
	`[1,2,3]`,
	`[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"foo": "boo"}]`,
	`{"method":"sum","params":[1,2],"id":null}`,
	`{"jsonrpc":"2.0","method":"m","params":[1.0e3,-0,"\ud83d\ude00\u00e9",[{"a":[null,true]}],9223372036854775808],"id":1e2}`,
	`{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2,"b\u0062":[]},"id":"x"}`,
	`{"jsonrpc":"2.0","method":"m","params":[1,2,3,4,5,6,7,8,9,10,"eleven",[12]],"id":1}`,
	"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"params\":[\"\xfe\\udc00\"],\"id\":1}",
	`{"jsonrpc":"2.0","method":"m","params":[],"id":1,"meta":{"polyrpc-timeout-ms":"100","a":"\u00e9\t","a":"x"}}`,
	`{"jsonrpc":"2.0","method":"m","id":1,"meta":{"k":1}}`,
	`{"method":"m","params":[1],"id":null,"meta":null}`,
}

func addSeeds(f *testing.F) {
	for _, s := range specExamples {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// sameValue compares natural values, numbers by value: a float64 1 that
// encodes as 1 decodes as int64 1.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case int64, uint64, float64:
		return numeric(a) != nil && numeric(b) != nil && numeric(a).Cmp(numeric(b)) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func numeric(v any) *big.Float {
	switch x := v.(type) {
	case int64:
		return new(big.Float).SetInt64(x)
	case uint64:
		return new(big.Float).SetUint64(x)
	case float64:
		return new(big.Float).SetFloat64(x)
	}
	return nil
}

// params decodes every param of req into natural values; err is why one
// does not decode (a number beyond float64, values too many for the
// message's size).
func params(t *testing.T, req *wire.Request) (args []any, named map[string]any, err error) {
	p := req.Params
	if p == nil {
		return nil, nil, nil
	}
	if n := p.Len(); n >= 0 {
		args = []any{}
		for i := range n {
			var v any
			if err := p.DecodeAt(i, &v); err != nil {
				return nil, nil, err
			}
			args = append(args, v)
		}
		return args, nil, nil
	}
	named = map[string]any{}
	for _, name := range p.Names() {
		if _, dup := named[name]; dup {
			t.Fatalf("name %q listed twice", name)
		}
		var v any
		if err := p.DecodeNamed(name, &v); err != nil {
			return nil, nil, err
		}
		named[name] = v
	}
	return nil, named, nil
}

// tooMany reports the error of natural values too many for the size of
// their message, which a server answers with CodeLimitExceeded and a client
// returns as it is. The references know no such limit, and a message
// encoded again may be smaller than the one it was decoded from.
func tooMany(err error) bool {
	var le *nat.LimitError
	var we *wire.Error
	return errors.As(err, &le) || errors.As(err, &we) && we.Code == wire.CodeLimitExceeded
}

func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	c := json.New(json.WithMaxDepth(20)) // shallow, so the fuzzer reaches the limit
	f.Fuzz(func(t *testing.T, msg []byte) {
		var req wire.Request
		err := c.DecodeRequest(msg, &req)
		valid := stdjson.Valid(msg)
		if err != nil {
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *wire.Error", err)
			}
			switch {
			case e.Code == wire.CodeParseError && valid:
				t.Fatalf("valid JSON refused as malformed: %v", err)
			case e.Code == wire.CodeInvalidRequest && !valid:
				t.Fatalf("malformed JSON refused as an invalid request: %v", err)
			case e.Code != wire.CodeParseError && e.Code != wire.CodeInvalidRequest && e.Code != wire.CodeLimitExceeded:
				t.Fatalf("unexpected error code: %v", err)
			}
			out, err := c.AppendResponse(nil, &wire.Response{ID: req.ID, Dialect: req.Dialect, Error: e})
			if err != nil || !stdjson.Valid(out) {
				t.Fatalf("error reply %s: %v", out, err)
			}
			return
		}
		if !valid {
			t.Fatalf("malformed JSON accepted: %+v", req)
		}

		// Typed params decode as encoding/json decodes them.
		var env map[string]stdjson.RawMessage
		if stdjson.Unmarshal(msg, &env) == nil {
			var raws []stdjson.RawMessage
			if req.Params != nil && req.Params.Len() >= 0 && stdjson.Unmarshal(env["params"], &raws) == nil {
				for i, raw := range raws {
					// Interface destinations get natural values; the reference
					// computes them with math/big, too slowly for huge exponents.
					if !hugeExponent(raw) {
						got, err := decodeAs(t, string(raw), reflect.TypeFor[any]())
						want, ok := reference(string(raw), reflect.TypeFor[any]())
						if !tooMany(err) && (ok != (err == nil) || ok && !reflect.DeepEqual(got.Interface(), want.Interface())) {
							t.Fatalf("param %s as any: %#v (%v), want %#v (%v)", raw, got, err, want, ok)
						}
					}
					for _, typ := range []reflect.Type{reflect.TypeFor[int64](), reflect.TypeFor[string](),
						reflect.TypeFor[float64](), reflect.TypeFor[bool](), reflect.TypeFor[plainStruct]()} {
						got := reflect.New(typ)
						gotErr := req.Params.DecodeAt(i, got.Interface())
						want := reflect.New(typ)
						wantErr := stdjson.Unmarshal(raw, want.Interface())
						if (gotErr == nil) != (wantErr == nil) || gotErr == nil && !reflect.DeepEqual(got.Interface(), want.Interface()) {
							t.Fatalf("param %s as %v: %#v (%v), encoding/json %#v (%v)", raw, typ,
								got.Elem().Interface(), gotErr, want.Elem().Interface(), wantErr)
						}
					}
				}
			}
		}

		// Metadata reads as encoding/json reads it.
		if raw, ok := env["meta"]; ok && string(raw) != "null" {
			var want map[string]string
			if err := stdjson.Unmarshal(raw, &want); err != nil || !maps.Equal(want, req.Entries.MD()) && len(want)+len(req.Entries.MD()) > 0 {
				t.Fatalf("meta %s read as %q, encoding/json reads %q (%v)", raw, req.Entries.MD(), want, err)
			}
			if req.Dialect&json.DialectMeta == 0 {
				t.Fatalf("meta %s without DialectMeta", raw)
			}
		} else if req.Entries.MD() != nil || req.Dialect&json.DialectMeta != 0 {
			t.Fatalf("no meta, yet %q, dialect %d", req.Entries.MD(), req.Dialect)
		}

		// Decode, encode, decode: the same call.
		args, named, err := params(t, &req)
		if err != nil {
			return
		}
		call := wire.Call{Method: req.Method, ID: wire.ID{Seq: 1}, Notification: req.Notification, Args: args, Entries: &req.Entries}
		if named != nil {
			call.Named = named
		}
		msg2, err := c.AppendCall(nil, &call)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", call, err)
		}
		var req2 wire.Request
		if err := c.DecodeRequest(msg2, &req2); err != nil {
			t.Fatalf("re-encoded %s: %v", msg2, err)
		}
		args2, named2, err := params(t, &req2)
		if tooMany(err) {
			return
		}
		if err != nil || req2.Method != req.Method || req2.Notification != req.Notification || !maps.Equal(req2.Entries.MD(), req.Entries.MD()) ||
			(args == nil) != (args2 == nil) || (named == nil) != (named2 == nil) ||
			!sameValue(args, args2) && args != nil || !sameValue(named, named2) && named != nil {
			t.Fatalf("%s\nbecame %s:\n%#v %#v\n%#v %#v", msg, msg2, args, named, args2, named2)
		}

		// The reply echoes the id verbatim.
		out, err := c.AppendResponse(nil, &wire.Response{ID: req.ID, Dialect: req.Dialect, Result: args})
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		var r map[string]stdjson.RawMessage
		if err := stdjson.Unmarshal(out, &r); err != nil {
			t.Fatalf("reply %s: %v", out, err)
		}
		if want := string(req.ID.Raw); want != "" && string(r["id"]) != want || want == "" && string(r["id"]) != "null" {
			t.Fatalf("reply %s does not echo id %s", out, req.ID.Raw)
		}
	})
}

func FuzzSplitBatch(f *testing.F) {
	addSeeds(f)
	c := json.New(json.WithMaxDepth(20))
	f.Fuzz(func(t *testing.T, msg []byte) {
		items, isBatch, err := c.SplitBatch(msg, 0)
		trimmed := bytes.TrimLeft(msg, " \t\r\n")
		if isBatch != (len(trimmed) > 0 && trimmed[0] == '[') {
			t.Fatalf("isBatch %v for %q", isBatch, msg)
		}
		if !isBatch {
			if items != nil || err != nil {
				t.Fatalf("not a batch, yet items %q, error %v", items, err)
			}
			return
		}
		valid := stdjson.Valid(msg)
		if err != nil {
			var e *wire.Error
			if !errors.As(err, &e) || e.Code == wire.CodeParseError && valid ||
				e.Code != wire.CodeParseError && e.Code != wire.CodeLimitExceeded {
				t.Fatalf("error %v for a batch that is valid JSON: %v", err, valid)
			}
			return
		}
		if !valid {
			t.Fatalf("malformed batch split into %q", items)
		}
		var raws []stdjson.RawMessage
		if err := stdjson.Unmarshal(msg, &raws); err != nil {
			t.Fatal(err)
		}
		if len(raws) != len(items) {
			t.Fatalf("%d items, encoding/json finds %d", len(items), len(raws))
		}
		for i := range raws {
			if !bytes.Equal(raws[i], items[i]) {
				t.Fatalf("item %d is %q, encoding/json finds %q", i, items[i], raws[i])
			}
		}
		joined := c.AppendBatch(nil, items)
		again, isBatch, err := c.SplitBatch(joined, 0)
		if err != nil || !isBatch || len(again) != len(items) {
			t.Fatalf("rejoined %s: %q, %v", joined, again, err)
		}
		for i := range items {
			if !bytes.Equal(again[i], items[i]) {
				t.Fatalf("rejoined item %d is %q, was %q", i, again[i], items[i])
			}
		}
	})
}

// FuzzDecodeReply checks that no reply, however malformed, panics the
// client, and that a result decodes as encoding/json decodes it.
func FuzzDecodeReply(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`{"result":null,"error":"x","id":1}`))
	c := json.New(json.WithMaxDepth(20))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r wire.Reply
		if err := c.DecodeReply(msg, &r); err != nil {
			return
		}
		if !stdjson.Valid(msg) {
			t.Fatalf("malformed reply accepted: %q", msg)
		}
		if (r.Error == nil) == (r.Result == nil) {
			t.Fatalf("reply with error %v and result %v", r.Error, r.Result)
		}
		if r.Result != nil {
			var s, want string
			err := r.Result.Decode(&s)
			var env map[string]stdjson.RawMessage
			if stdjson.Unmarshal(msg, &env) == nil {
				wantErr := stdjson.Unmarshal(env["result"], &want)
				if (err == nil) != (wantErr == nil) || s != want {
					t.Fatalf("result %s: %q (%v), encoding/json %q (%v)", env["result"], s, err, want, wantErr)
				}
			}
		}
	})
}

// hugeExponent reports an exponent of four digits or more in raw.
func hugeExponent(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != 'e' && raw[i] != 'E' {
			continue
		}
		j := i + 1
		if j < len(raw) && (raw[j] == '+' || raw[j] == '-') {
			j++
		}
		k := j
		for k < len(raw) && raw[k] >= '0' && raw[k] <= '9' {
			k++
		}
		if k-j >= 4 {
			return true
		}
	}
	return false
}
