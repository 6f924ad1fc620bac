package interop_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"
)

// TestKoloXMLRPCClient drives the demo and introspection methods with
// kolo/xmlrpc's client, an XML-RPC implementation nobody here wrote. kolo
// has its own ways: it writes every Go int as <int> (beyond 32 bits too),
// []byte as an array of ints (base64 is its Base64 string type, which it
// neither encodes nor decodes), a nil pointer as an empty <value/> (an
// empty string to the specification), and it reads <nil/> as nothing.
func TestKoloXMLRPCClient(t *testing.T) {
	t.Parallel()
	_, hs := newIntrospectedDemoServer(t)
	client, err := xmlrpc.NewClient(hs.URL+"/RPC2", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	type stooges struct {
		Moe   int `xmlrpc:"moe"`
		Larry int `xmlrpc:"larry"`
		Curly int `xmlrpc:"curly"`
	}
	var n int64
	if err := client.Call("validator1.easyStructTest", stooges{1, 2, 3}, &n); err != nil || n != 6 {
		t.Errorf("easyStructTest = %d, %v", n, err)
	}
	if err := client.Call("validator1.arrayOfStructsTest", []any{[]stooges{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}, &n); err != nil || n != 18 {
		t.Errorf("arrayOfStructsTest = %d, %v", n, err)
	}
	if err := client.Call("demo.add", []any{2, 3}, &n); err != nil || n != 5 {
		t.Errorf("demo.add = %d, %v", n, err)
	}
	// kolo writes an int64 as <int> whatever its size; polyrpc reads it
	// liberally, and answers with <i8>, which kolo reads.
	if err := client.Call("demo.add", []any{int64(1) << 62, int64(1)<<62 - 1}, &n); err != nil || n != 1<<63-1 {
		t.Errorf("demo.add of big ints = %d, %v", n, err)
	}
	var state string
	if err := client.Call("examples.getStateName", 41, &state); err != nil || state != "South Dakota" {
		t.Errorf("getStateName = %q, %v", state, err)
	}
	var entities map[string]any
	want := map[string]any{"ctLeftAngleBrackets": int64(2), "ctRightAngleBrackets": int64(1),
		"ctAmpersands": int64(3), "ctApostrophes": int64(1), "ctQuotes": int64(2)}
	if err := client.Call("validator1.countTheEntities", `<<>&&&'""é`, &entities); err != nil || !reflect.DeepEqual(entities, want) {
		t.Errorf("countTheEntities = %v, %v", entities, err)
	}
	var multiples struct {
		Times10   int64 `xmlrpc:"times10"`
		Times100  int64 `xmlrpc:"times100"`
		Times1000 int64 `xmlrpc:"times1000"`
	}
	if err := client.Call("validator1.simpleStructReturnTest", 1<<30, &multiples); err != nil ||
		multiples.Times10 != 10<<30 || multiples.Times100 != 100<<30 || multiples.Times1000 != 1000<<30 {
		t.Errorf("simpleStructReturnTest = %+v, %v", multiples, err)
	}
	var list []string
	strs := make([]string, 150)
	for i := range strs {
		strs[i] = strings.Repeat("x", i)
	}
	strs[0], strs[149] = "<first&", "last>"
	var joined string
	if err := client.Call("validator1.moderateSizeArrayCheck", []any{strs}, &joined); err != nil || joined != "<first&last>" {
		t.Errorf("moderateSizeArrayCheck = %q, %v", joined, err)
	}
	if err := client.Call("demo.echo", []any{[]any{"a", "<b>", "c & d"}}, &list); err != nil || !reflect.DeepEqual(list, []string{"a", "<b>", "c & d"}) {
		t.Errorf("echo of an array = %q, %v", list, err)
	}
	nested := map[string]any{"k": []any{"v", true, 1.5, int64(7), map[string]any{"deep": "é"}}}
	var echoed map[string]any
	if err := client.Call("validator1.echoStructTest", nested, &echoed); err != nil || !reflect.DeepEqual(echoed, nested) {
		t.Errorf("echoStructTest = %#v, %v", echoed, err)
	}

	// dateTime.iso8601: kolo writes the wall clock without a zone, which
	// polyrpc reads as UTC and writes back so.
	when := time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)
	var gotTime time.Time
	if err := client.Call("demo.echo", when, &gotTime); err != nil || !gotTime.Equal(when) {
		t.Errorf("echo of a time = %v, %v", gotTime, err)
	}
	// base64: kolo sends xmlrpc.Base64 text as it is and hands back the
	// text of a <base64> reply undecoded.
	data := []byte("\x00\x01binary\xff<&>")
	var b64 string
	if err := client.Call("demo.echo", xmlrpc.Base64(base64.StdEncoding.EncodeToString(data)), &b64); err != nil {
		t.Errorf("echo of base64: %v", err)
	} else if got, err := base64.StdEncoding.DecodeString(b64); err != nil || string(got) != string(data) {
		t.Errorf("echo of base64 = %q (%q), %v", got, b64, err)
	}
	var many []any
	if err := client.Call("validator1.manyTypesTest", []any{
		7, true, "s", 2.5, when, xmlrpc.Base64(base64.StdEncoding.EncodeToString(data)),
	}, &many); err != nil {
		t.Errorf("manyTypesTest: %v", err)
	} else if len(many) != 6 || many[0] != int64(7) || many[1] != true || many[2] != "s" || many[3] != 2.5 ||
		!many[4].(time.Time).Equal(when) {
		t.Errorf("manyTypesTest = %#v", many)
	} else if got, err := base64.StdEncoding.DecodeString(many[5].(string)); err != nil || string(got) != string(data) {
		t.Errorf("manyTypesTest base64 = %q, %v", many[5], err)
	}

	// nil: kolo writes a nil pointer as <value/>, which polyrpc reads as the
	// empty string the specification says it is; kolo leaves the result
	// untouched on <nil/>.
	var counts map[string]int64
	if err := client.Call("validator1.countTheEntities", []any{(*string)(nil)}, &counts); err != nil || len(counts) != 5 || counts["ctAmpersands"] != 0 {
		t.Errorf("countTheEntities(<value/>) = %v, %v", counts, err)
	}
	nothing := "untouched"
	if err := client.Call("update", []any{1}, &nothing); err != nil || nothing != "untouched" {
		t.Errorf("a result-less method = %q, %v", nothing, err)
	}

	var names []string
	if err := client.Call("system.listMethods", nil, &names); err != nil || len(names) < 25 || names[0] != "demo.add" {
		t.Errorf("system.listMethods = %q, %v", names, err)
	}

	// Faults: through net/rpc, kolo's Client.Call returns the text of
	// its FaultError; its Response type gives the FaultError itself.
	err = client.Call("demo.divide", []any{1, 0}, &n)
	if err == nil || err.Error() != "Fault(1001): division by zero" {
		t.Errorf("demo.divide(1, 0): %v", err)
	}
	for _, tt := range []struct {
		method string
		args   []any
		want   xmlrpc.FaultError
	}{
		{"demo.divide", []any{1, 0}, xmlrpc.FaultError{Code: 1001, String: "division by zero"}},
		{"demo.fail", []any{42, "<x> & é"}, xmlrpc.FaultError{Code: 42, String: "<x> & é"}},
		{"no.such.method", nil, xmlrpc.FaultError{Code: -32601, String: "method not found: no.such.method"}},
		{"demo.add", []any{"two", 3}, xmlrpc.FaultError{Code: -32602, String: "invalid params: param 1: cannot use string as a 64-bit integer"}},
	} {
		var fe xmlrpc.FaultError
		if err := koloResponse(t, hs.URL+"/", tt.method, tt.args).Err(); !errors.As(err, &fe) || fe != tt.want {
			t.Errorf("%s%v: %#v, want %#v", tt.method, tt.args, err, tt.want)
		}
	}
	// After the faults, the connection still serves.
	if err := client.Call("demo.add", []any{40, 2}, &n); err != nil || n != 42 {
		t.Errorf("demo.add after faults = %d, %v", n, err)
	}
}

// koloResponse makes a call with kolo's request encoder and returns the
// reply as kolo's Response.
func koloResponse(t *testing.T, url, method string, args []any) xmlrpc.Response {
	t.Helper()
	var params any
	if args != nil {
		params = args
	}
	req, err := xmlrpc.NewRequest(url, method, params)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d: %s", method, resp.StatusCode, body)
	}
	return xmlrpc.Response(body)
}
