package xml_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// call wraps values (XML of <value> elements) in a methodCall.
func call(values ...string) []byte {
	var b strings.Builder
	b.WriteString("<methodCall><methodName>m</methodName><params>")
	for _, v := range values {
		b.WriteString("<param>" + v + "</param>")
	}
	b.WriteString("</params></methodCall>")
	return []byte(b.String())
}

// decodeAll decodes every param of a request into natural Go values.
func decodeAll(t *testing.T, msg []byte) (string, []any) {
	t.Helper()
	var req wire.Request
	if err := codec.DecodeRequest(msg, &req); err != nil {
		t.Fatalf("DecodeRequest: %v\n%s", err, msg)
	}
	if req.Params == nil {
		return req.Method, nil
	}
	out := make([]any, req.Params.Len())
	for i := range out {
		if err := req.Params.DecodeAt(i, &out[i]); err != nil {
			t.Fatalf("param %d: %v", i, err)
		}
	}
	return req.Method, out
}

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func TestReadLiberal(t *testing.T) {
	day := utc(1998, 7, 17, 14, 8, 55, 0)
	tests := []struct {
		name  string
		value string
		want  any
	}{
		{"untyped", "<value>plain text</value>", "plain text"},
		{"untyped empty", "<value></value>", ""},
		{"untyped self-closing", "<value/>", ""},
		{"untyped spaces kept", "<value>  a  </value>", "  a  "},
		{"whitespace around type", "<value>\n  <int>1</int>\n</value>", int64(1)},
		{"comment before type", "<value><!-- c --><int>1</int><!-- d --></value>", int64(1)},
		{"i4", "<value><i4>-5</i4></value>", int64(-5)},
		{"i1", "<value><i1>127</i1></value>", int64(127)},
		{"i2", "<value><i2>-32768</i2></value>", int64(-32768)},
		{"i8 max", "<value><i8>9223372036854775807</i8></value>", int64(math.MaxInt64)},
		{"i8 min", "<value><i8>-9223372036854775808</i8></value>", int64(math.MinInt64)},
		{"int beyond int32", "<value><int>4294967296</int></value>", int64(1 << 32)},
		{"biginteger", "<value><biginteger>12345678901</biginteger></value>", int64(12345678901)},
		{"int plus and spaces", "<value><int> +7 </int></value>", int64(7)},
		{"int leading zeros", "<value><int>007</int></value>", int64(7)},
		{"ex:i8", "<value><ex:i8>-1</ex:i8></value>", int64(-1)},
		{"any prefix", "<value><foo:int>3</foo:int></value>", int64(3)},
		{"double", "<value><double>1.5</double></value>", 1.5},
		{"double exponent", "<value><double>1e+21</double></value>", 1e21},
		{"double exponent upper", "<value><double>-2.5E-3</double></value>", -2.5e-3},
		{"double leading point", "<value><double>.5</double></value>", 0.5},
		{"double trailing point", "<value><double>5.</double></value>", 5.0},
		{"double integer", "<value><double>+3</double></value>", 3.0},
		{"float", "<value><float>0.25</float></value>", 0.25},
		{"bigdecimal", "<value><bigdecimal>3.14159265358979323846</bigdecimal></value>", math.Pi},
		{"boolean 1", "<value><boolean>1</boolean></value>", true},
		{"boolean 0", "<value><boolean>0</boolean></value>", false},
		{"boolean true", "<value><boolean>true</boolean></value>", true},
		{"boolean False", "<value><boolean>False</boolean></value>", false},
		{"boolean spaces", "<value><boolean> 1\n</boolean></value>", true},
		{"datetime spec", "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>", day},
		{"datetime hyphens", "<value><dateTime.iso8601>1998-07-17T14:08:55</dateTime.iso8601></value>", day},
		{"datetime Z", "<value><dateTime.iso8601>19980717T14:08:55Z</dateTime.iso8601></value>", day},
		{"datetime offset", "<value><dateTime.iso8601>1998-07-17T16:08:55+02:00</dateTime.iso8601></value>", day},
		{"datetime negative offset", "<value><dateTime.iso8601>19980717T09:08:55-0500</dateTime.iso8601></value>", day},
		{"datetime hour offset", "<value><dateTime.iso8601>19980717T15:08:55+01</dateTime.iso8601></value>", day},
		{"datetime fraction", "<value><dateTime.iso8601>19980717T14:08:55.123456</dateTime.iso8601></value>", utc(1998, 7, 17, 14, 8, 55, 123456000)},
		{"datetime long fraction", "<value><dateTime.iso8601>19980717T14:08:55.1234567891Z</dateTime.iso8601></value>", utc(1998, 7, 17, 14, 8, 55, 123456789)},
		{"datetime compact time", "<value><dateTime.iso8601>19980717T140855</dateTime.iso8601></value>", day},
		{"datetime leap day", "<value><dateTime.iso8601>20240229T00:00:00</dateTime.iso8601></value>", utc(2024, 2, 29, 0, 0, 0, 0)},
		{"ex:dateTime", "<value><ex:dateTime>2024-01-02T03:04:05.678+0100</ex:dateTime></value>", utc(2024, 1, 2, 2, 4, 5, 678000000)},
		{"base64", "<value><base64>aGVsbG8=</base64></value>", []byte("hello")},
		{"base64 line breaks", "<value><base64>\naGVs\r\nbG8g\n  d29y bGQ=\n</base64></value>", []byte("hello world")},
		{"base64 unpadded", "<value><base64>aGVsbG8</base64></value>", []byte("hello")},
		{"base64 empty", "<value><base64></base64></value>", []byte{}},
		{"base64 self-closing", "<value><base64/></value>", []byte{}},
		{"nil", "<value><nil/></value>", nil},
		{"nil open close", "<value><nil></nil></value>", nil},
		{"ex:nil", "<value><ex:nil/></value>", nil},
		{"string", "<value><string>s</string></value>", "s"},
		{"string self-closing", "<value><string/></value>", ""},
		{"string entities", "<value><string>a &amp; b &lt;&gt; &quot;&apos; &#65;&#x42;&#x1D11E;</string></value>", "a & b <> \"' AB\U0001D11E"},
		{"string CDATA", "<value><string>x<![CDATA[<raw> & ]]]]><![CDATA[>]]>y</string></value>", "x<raw> & ]]>y"},
		{"string comment inside", "<value><string>a<!-- gone -->b<?pi gone?>c</string></value>", "abc"},
		{"string line ends", "<value><string>a\r\nb\rc\nd</string></value>", "a\nb\nc\nd"},
		{"string CR reference", "<value><string>a&#13;&#10;b</string></value>", "a\r\nb"},
		{"string keeps spaces", "<value><string> \t </string></value>", " \t "},
		{"string non-ASCII", "<value><string>héllo ✓</string></value>", "héllo ✓"},
		{"array", "<value><array><data><value><int>1</int></value><value>two</value></data></array></value>", []any{int64(1), "two"}},
		{"array pretty", "<value>\n <array>\n  <data>\n   <value><int>1</int></value>\n  </data>\n </array>\n</value>", []any{int64(1)}},
		{"array empty data", "<value><array><data></data></array></value>", []any{}},
		{"array data self-closing", "<value><array><data/></array></value>", []any{}},
		{"array without data", "<value><array></array></value>", []any{}},
		{"array self-closing", "<value><array/></value>", []any{}},
		{"struct", "<value><struct><member><name>b</name><value><int>2</int></value></member><member><name>a</name><value>x</value></member></struct></value>",
			map[string]any{"a": "x", "b": int64(2)}},
		{"struct duplicate member", "<value><struct><member><name>a</name><value>1</value></member><member><name>a</name><value>2</value></member></struct></value>",
			map[string]any{"a": "2"}},
		{"struct escaped name", "<value><struct><member><name>a&amp;b</name><value/></member></struct></value>", map[string]any{"a&b": ""}},
		{"struct empty name", "<value><struct><member><name/><value/></member></struct></value>", map[string]any{"": ""}},
		{"struct empty", "<value><struct></struct></value>", map[string]any{}},
		{"struct self-closing", "<value><struct/></value>", map[string]any{}},
		{"nested", "<value><struct><member><name>l</name><value><array><data><value><struct/></value><value><array/></value></data></array></value></member></struct></value>",
			map[string]any{"l": []any{map[string]any{}, []any{}}}},
		{"attributes", `<value attr="1"><int a='x' b="&lt;y&gt;">5</int></value>`, int64(5)},
		{"end tag space", "<value><int>5</int ></value >", int64(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := decodeAll(t, call(tt.value))
			if !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("got  %#v\nwant %#v", got[0], tt.want)
			}
		})
	}
}

func TestReadEnvelope(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		method string
		params []any
	}{
		{"no params element", "<methodCall><methodName>a.b</methodName></methodCall>", "a.b", nil},
		{"empty params", "<methodCall><methodName>m</methodName><params></params></methodCall>", "m", nil},
		{"params self-closing", "<methodCall><methodName>m</methodName><params/></methodCall>", "m", nil},
		{"declaration", `<?xml version="1.0"?><methodCall><methodName>m</methodName></methodCall>`, "m", nil},
		{"declaration single quotes", "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<methodCall><methodName>m</methodName></methodCall>\n", "m", nil},
		{"declaration ASCII", `<?xml version="1.0" encoding="US-ASCII"?><methodCall><methodName>m</methodName></methodCall>`, "m", nil},
		{"byte order mark", "\xEF\xBB\xBF<?xml version=\"1.0\"?><methodCall><methodName>m</methodName></methodCall>", "m", nil},
		{"leading whitespace", "\n  <methodCall><methodName>m</methodName></methodCall>", "m", nil},
		{"comments and PIs", "<!-- a --><?x y?><methodCall><!-- b --><methodName>m</methodName><?p?><params><!-- c --><param><value>v</value></param></params></methodCall><!-- d -->\n", "m", []any{"v"}},
		{"method name spaces", "<methodCall><methodName>\n  system.listMethods\n</methodName></methodCall>", "system.listMethods", nil},
		{"method name entity", "<methodCall><methodName>a&#46;b</methodName></methodCall>", "a.b", nil},
		{"namespace on root", `<methodCall xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"><methodName>m</methodName><params><param><value><ex:nil/></value></param></params></methodCall>`, "m", []any{nil}},
		{"latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><methodCall><methodName>m</methodName><params><param><value>caf\xe9</value></param></params></methodCall>", "m", []any{"café"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method, params := decodeAll(t, []byte(tt.msg))
			if method != tt.method || !reflect.DeepEqual(params, tt.params) {
				t.Errorf("got %q %#v, want %q %#v", method, params, tt.method, tt.params)
			}
		})
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadPython reads what CPython's xmlrpc.client.dumps wrote (see
// testdata/python-*.xml; TestPythonInterop checks the live interpreters).
func TestReadPython(t *testing.T) {
	t.Run("call", func(t *testing.T) {
		method, got := decodeAll(t, readFile(t, "python-call.xml"))
		want := []any{
			int64(1), int64(math.MinInt32), int64(math.MaxInt32), true, false, 1.5, 1e21, 1e-7, 1e16, 1e15, math.Copysign(0, -1),
			"s<&>\né\U0001D11E", "", nil, []byte("x"), make([]byte, 100),
			[]any{int64(1), "a", []any{}, map[string]any{}},
			map[string]any{"k": 2.0, "nested": map[string]any{"a": []any{true}}},
			utc(1998, 7, 17, 14, 8, 55, 0),
		}
		if method != "python.types" || !reflect.DeepEqual(got, want) {
			t.Errorf("got  %q %#v\nwant %#v", method, got, want)
		}
		if !math.Signbit(got[10].(float64)) {
			t.Error("-0.0 lost its sign")
		}
	})
	t.Run("latin-1", func(t *testing.T) {
		_, got := decodeAll(t, readFile(t, "python-latin1.xml"))
		if want := []any{"café €"}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})
	t.Run("empty", func(t *testing.T) {
		method, got := decodeAll(t, readFile(t, "python-empty.xml"))
		if method != "system.listMethods" || got != nil {
			t.Errorf("got %q %#v", method, got)
		}
	})
	t.Run("response", func(t *testing.T) {
		var r wire.Reply
		if err := codec.DecodeReply(readFile(t, "python-response.xml"), &r); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := r.Result.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if want := map[string]any{"x": int64(1), "y": []any{1.5, "two"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v, want %#v", got, want)
		}
	})
	t.Run("fault", func(t *testing.T) {
		var r wire.Reply
		if err := codec.DecodeReply(readFile(t, "python-fault.xml"), &r); err != nil {
			t.Fatal(err)
		}
		if r.Result != nil || r.Error == nil || r.Error.Code != -32601 || r.Error.Message != "no <such> method" {
			t.Errorf("got result %v, error %#v", r.Result, r.Error)
		}
	})
}

func TestReadApache(t *testing.T) {
	method, got := decodeAll(t, readFile(t, "apache-call.xml"))
	want := []any{
		int64(math.MaxInt64), nil, int64(-128), int64(32767), 1.5,
		utc(2024, 1, 2, 2, 4, 5, 678000000), utc(2024, 1, 2, 3, 4, 5, 0),
		int64(-42), math.Pi, map[string]any{"a": int64(1)},
	}
	if method != "apache.types" || !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q %#v\nwant %#v", method, got, want)
	}
}

// TestDecodeTyped decodes params into Go types other than any.
func TestDecodeTyped(t *testing.T) {
	type inner struct {
		V int `json:"v"`
	}
	type outer struct {
		Name  string           `json:"name"`
		In    inner            `json:"in"`
		PIn   *inner           `json:"pin"`
		List  []inner          `json:"list"`
		M     map[string]int8  `json:"m"`
		Score float32          `json:"score"`
		Keep  string           `json:"keep"`
		Any   any              `json:"any"`
		Named map[string][]int `json:"named"`
	}
	type myString string
	type myMap map[myString]uint8
	tests := []struct {
		name  string
		value string
		dst   any // pointer to a value to decode into; its start value matters for structs
		want  any // what *dst should then be
	}{
		{"int into int8", "<value><int>-128</int></value>", new(int8), int8(-128)},
		{"int into uint", "<value><i8>9223372036854775807</i8></value>", new(uint64), uint64(math.MaxInt64)},
		{"int into float64", "<value><int>3</int></value>", new(float64), 3.0},
		{"int into float32", "<value><int>3</int></value>", new(float32), float32(3)},
		{"double into float32", "<value><double>0.1</double></value>", new(float32), float32(0.1)},
		{"string into named", "<value>x</value>", new(myString), myString("x")},
		{"nil into int", "<value><nil/></value>", func() *int { i := 5; return &i }(), 0},
		{"nil into pointer", "<value><nil/></value>", func() **int { i := 5; p := &i; return &p }(), (*int)(nil)},
		{"nil into slice", "<value><nil/></value>", &[]int{1}, []int(nil)},
		{"int into pointer", "<value><int>4</int></value>", new(*int), func() *int { i := 4; return &i }()},
		{"base64 into named bytes", "<value><base64>AQI=</base64></value>", new(rpcBytes), rpcBytes{1, 2}},
		{"array into array", "<value><array><data><value><int>1</int></value><value><int>2</int></value></data></array></value>", new([2]uint8), [2]uint8{1, 2}},
		{"array into []int64 with nil", "<value><array><data><value><int>1</int></value><value><nil/></value></data></array></value>", new([]int64), []int64{1, 0}},
		{"array into []float64", "<value><array><data><value><int>1</int></value><value><double>2.5</double></value></data></array></value>", new([]float64), []float64{1, 2.5}},
		{"array into []string", "<value><array><data><value>a</value><value><string>b</string></value></data></array></value>", new([]string), []string{"a", "b"}},
		{"array into []any", "<value><array><data><value>a</value></data></array></value>", new([]any), []any{"a"}},
		{"array into [][]int", "<value><array><data><value><array><data><value><int>1</int></value></data></array></value></data></array></value>", new([][]int), [][]int{{1}}},
		{"struct into named map", "<value><struct><member><name>a</name><value><int>1</int></value></member></struct></value>", new(myMap), myMap{"a": 1}},
		{"struct into map[string]any", "<value><struct><member><name>a</name><value><int>1</int></value></member></struct></value>", new(map[string]any), map[string]any{"a": int64(1)}},
		{"struct into struct", `<value><struct>
			<member><name>unknown</name><value><array><data><value>ignored</value></data></array></value></member>
			<member><name>name</name><value>n</value></member>
			<member><name>in</name><value><struct><member><name>v</name><value><int>1</int></value></member></struct></value></member>
			<member><name>pin</name><value><struct><member><name>v</name><value><int>2</int></value></member></struct></value></member>
			<member><name>list</name><value><array><data><value><struct><member><name>v</name><value><int>3</int></value></member></struct></value></data></array></value></member>
			<member><name>m</name><value><struct><member><name>k</name><value><int>-4</int></value></member></struct></value></member>
			<member><name>score</name><value><double>0.5</double></value></member>
			<member><name>any</name><value><boolean>1</boolean></value></member>
			<member><name>named</name><value><struct><member><name>x</name><value><array><data><value><int>5</int></value></data></array></value></member></struct></value></member>
		</struct></value>`, &outer{Keep: "kept"}, outer{
			Name: "n", In: inner{1}, PIn: &inner{2}, List: []inner{{3}}, M: map[string]int8{"k": -4},
			Score: 0.5, Keep: "kept", Any: true, Named: map[string][]int{"x": {5}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var req wire.Request
			if err := codec.DecodeRequest(call(tt.value), &req); err != nil {
				t.Fatal(err)
			}
			if err := req.Params.DecodeAt(0, tt.dst); err != nil {
				t.Fatal(err)
			}
			if got := reflect.ValueOf(tt.dst).Elem().Interface(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

type rpcBytes []byte

func TestDecodeTypeErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		dst   any
		want  string
	}{
		{"string into int", "<value>1</value>", new(int), "cannot use string as a 64-bit integer"},
		{"double into int", "<value><double>1</double></value>", new(int64), "cannot use double as a 64-bit integer"},
		{"int into string", "<value><int>1</int></value>", new(string), "cannot use int as string"},
		{"int overflow", "<value><int>300</int></value>", new(uint8), "300 is out of the range of an unsigned 8-bit integer"},
		{"negative into uint", "<value><int>-1</int></value>", new(uint), "-1 is out of the range of an unsigned 64-bit integer"},
		{"int32 overflow in slice", "<value><array><data><value><i8>4294967296</i8></value></data></array></value>", new([]int32), "[0]: 4294967296 is out of the range of a 32-bit integer"},
		{"float32 overflow", "<value><double>1e300</double></value>", new(float32), "1e+300 is out of the range of a 32-bit float"},
		{"bool into int", "<value><boolean>1</boolean></value>", new(int), "cannot use boolean as a 64-bit integer"},
		{"array into struct", "<value><array/></value>", new(struct{}), "cannot use array as object"},
		{"struct into slice", "<value><struct/></value>", new([]int), "cannot use struct as array"},
		{"array length", "<value><array><data><value><int>1</int></value></data></array></value>", new([2]int), "cannot use array of 1 as array of 2"},
		{"base64 into string", "<value><base64>AA==</base64></value>", new(string), "cannot use base64 as string"},
		{"string into time", "<value>19980717T14:08:55</value>", new(time.Time), "cannot use string as time"},
		{"time into string", "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>", new(string), "cannot use dateTime.iso8601 as string"},
		{"nested field", "<value><struct><member><name>x</name><value>s</value></member></struct></value>", new(point), "x: cannot use string as a 64-bit integer"},
		{"nested element", "<value><array><data><value><int>1</int></value><value>s</value></data></array></value>", new([]uint), "[1]: cannot use string as an unsigned 64-bit integer"},
		{"nested struct in []int", "<value><array><data><value><struct/></value></data></array></value>", new([]int), "[0]: cannot use struct as a 64-bit integer"},
		{"map value", "<value><struct><member><name>k</name><value>s</value></member></struct></value>", new(map[string]bool), `["k"]: cannot use string as boolean`},
		{"interface with methods", "<value><int>1</int></value>", new(error), "cannot use int as an interface with methods"},
		{"not a pointer", "<value><int>1</int></value>", 5, "not a non-nil pointer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var req wire.Request
			if err := codec.DecodeRequest(call(tt.value), &req); err != nil {
				t.Fatal(err)
			}
			err := req.Params.DecodeAt(0, tt.dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParamsPositional(t *testing.T) {
	var req wire.Request
	if err := codec.DecodeRequest(call("<value>a</value>", "<value>b</value>"), &req); err != nil {
		t.Fatal(err)
	}
	p := req.Params
	if p.Len() != 2 || p.Names() != nil {
		t.Errorf("Len %d, Names %v", p.Len(), p.Names())
	}
	var s string
	if err := p.DecodeNamed("a", &s); err == nil {
		t.Error("DecodeNamed succeeded")
	}
	for _, i := range []int{-1, 2} {
		if err := p.DecodeAt(i, &s); err == nil {
			t.Errorf("DecodeAt(%d) succeeded", i)
		}
	}
	// Params decode any number of times, in any order.
	for _, i := range []int{1, 0, 1} {
		if err := p.DecodeAt(i, &s); err != nil || s != "ab"[i:i+1] {
			t.Errorf("DecodeAt(%d) = %q, %v", i, s, err)
		}
	}
	if req.ID.Raw != nil || req.Notification {
		t.Errorf("ID %v, Notification %v", req.ID, req.Notification)
	}
}

func TestDecodeReply(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		result any   // decoded into any; nil for no result
		fault  error // *wire.Error
		hasRes bool
	}{
		{"result", "<methodResponse><params><param><value><int>1</int></value></param></params></methodResponse>", int64(1), nil, true},
		{"no param", "<methodResponse><params/></methodResponse>", nil, nil, false},
		{"fault", "<methodResponse><fault><value><struct><member><name>faultString</name><value>no</value></member><member><name>faultCode</name><value><int>4</int></value></member></struct></value></fault></methodResponse>",
			nil, &wire.Error{Code: 4, Message: "no"}, false},
		{"fault i8 code", "<methodResponse><fault><value><struct><member><name>faultCode</name><value><i8>-1</i8></value></member><member><name>faultString</name><value><string>x</string></value></member><member><name>extra</name><value/></member></struct></value></fault></methodResponse>",
			nil, &wire.Error{Code: -1, Message: "x"}, false},
		{"fault string code", "<methodResponse><fault><value><struct><member><name>faultCode</name><value>7</value></member><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>",
			nil, &wire.Error{Code: 7, Message: "x"}, false},
		{"fault odd code", "<methodResponse><fault><value><struct><member><name>faultCode</name><value>Client</value></member><member><name>faultString</name><value><int>5</int></value></member></struct></value></fault></methodResponse>",
			nil, &wire.Error{Code: wire.CodeServerError, Message: "5"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r wire.Reply
			if err := codec.DecodeReply([]byte(tt.msg), &r); err != nil {
				t.Fatal(err)
			}
			if (r.Result != nil) != tt.hasRes {
				t.Fatalf("Result %v, want one: %v", r.Result, tt.hasRes)
			}
			if tt.hasRes {
				var got any
				if err := r.Result.Decode(&got); err != nil || !reflect.DeepEqual(got, tt.result) {
					t.Errorf("result %#v, %v; want %#v", got, err, tt.result)
				}
			}
			if tt.fault == nil && r.Error != nil || tt.fault != nil && !reflect.DeepEqual(r.Error, tt.fault) {
				t.Errorf("error %#v, want %#v", r.Error, tt.fault)
			}
		})
	}
}

func TestDecodeReplyErrors(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"methodCall", "<methodCall><methodName>m</methodName></methodCall>", "not <methodResponse>"},
		{"two params", "<methodResponse><params><param><value/></param><param><value/></param></params></methodResponse>", "one param"},
		{"empty", "<methodResponse/>", "empty"},
		{"fault not struct", "<methodResponse><fault><value><int>1</int></value></fault></methodResponse>", "not a struct"},
		{"fault and params", "<methodResponse><fault><value><struct/></value></fault><params/></methodResponse>", "want </methodResponse>"},
		{"malformed", "<methodResponse><params>", "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r wire.Reply
			err := codec.DecodeReply([]byte(tt.msg), &r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			// A broken reply is the client's problem, not a server's answer.
			var e *wire.Error
			if errors.As(err, &e) {
				t.Errorf("error %v is an *wire.Error", err)
			}
			if !strings.HasPrefix(err.Error(), "xml: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
