package conformance_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// expect is what one codec does with a case: the outcome the suite asserts
// and the cell that README.md's type-mapping table shows for it.
type expect struct {
	// cell describes the outcome in the README table; legend explains it
	// below the table (empty when the cell speaks for itself).
	cell, legend string

	// clientErr: the client refuses to encode the call and returns an error
	// that is not an *rpc.Error; nothing is sent.
	clientErr bool

	// code: the call fails with an *rpc.Error of this code, with message
	// (when not empty), with data (when checkData), and errors.Is(err, is)
	// holds (when is is set).
	code      rpc.Code
	message   string
	checkData bool
	data      any
	is        error

	// Otherwise the call succeeds with a result that equal (diff when nil)
	// finds the same as want (the case's want unless hasWant).
	hasWant bool
	want    any
	equal   func(got, want any) string
}

// The expectations. Each override in the table says why, citing the
// codec's documentation.
var (
	exact = expect{cell: "exact", legend: "the same value of the same Go type (float64 bit for bit, " +
		"time.Time the same instant with the same zone offset)"}
	clientError = expect{cell: "client error", clientErr: true, legend: "the client refuses to encode " +
		"the call and returns an error that is not an `*rpc.Error`; nothing is sent"}
	serverInternal = expect{cell: "-32603", code: rpc.CodeInternal, legend: "the server cannot encode " +
		"the result (or the error data) and answers -32603 internal error instead"}
	asUTCInstant = expect{cell: "as UTC instant", equal: sameInstantUTC, legend: "the same instant, " +
		"nanoseconds included, decoded in UTC: the zone is lost"}
	secondsUTC = expect{cell: "seconds, UTC", equal: sameSecondUTC, legend: "the instant truncated " +
		"to whole seconds, decoded in UTC: sub-second digits and the zone are lost"}
)

// replaced is json's invalid UTF-8: each invalid byte becomes U+FFFD.
var replaced = changed("U+FFFD", "a\ufffdb\ufffd", "each invalid byte replaced by U+FFFD, as encoding/json writes strings")

// changed is a documented change: the call succeeds with want.
func changed(cell string, want any, legend string) expect {
	return expect{cell: cell, hasWant: true, want: want, legend: legend}
}

// fails is an *rpc.Error of code.
func fails(cell string, code rpc.Code) expect {
	return expect{cell: cell, code: code}
}

// tcase is one row of the suite: a call and what each codec makes of it.
type tcase struct {
	name string
	// row is the line of README.md's type-mapping table the case belongs
	// to; cases of one row must agree on every codec's cell.
	row string

	// The call: method with params (or named params), its result decoded
	// into into() (default: a new value of want's type).
	method string
	params []any
	named  any
	into   func() any
	want   any

	// result, when set, is what method (result.NAME) returns: values only
	// the server encodes.
	result any

	// call replaces the plain call for outcomes that need more than one
	// (a panic, then a call that shows the server still serves).
	call func(t *testing.T, ctx context.Context, c *rpc.Client, e expect) (any, error)

	// expect is the outcome of every codec but those in except (the zero
	// value means exact).
	expect expect
	except map[string]expect

	// knownBug maps a codec ("json") or a transport and codec
	// ("tcp/json") to an undocumented deviation from its expectation: the
	// subtest skips with that text until the bug is fixed.
	knownBug map[string]string
}

func (tc *tcase) expectFor(codec string) expect {
	if e, ok := tc.except[codec]; ok {
		return e
	}
	if tc.expect.cell == "" {
		return exact
	}
	return tc.expect
}

// Record is a struct with json tags: the wire names of every codec
// (wire.StructFields). Embedded fields are promoted, "-" and unexported
// fields stay home, omitempty fields are left out when empty.
type Record struct {
	Base
	Name    string            `json:"name"`
	Count   int64             `json:"count"`
	Ratio   float64           `json:"ratio"`
	OK      bool              `json:"ok"`
	Tags    []string          `json:"tags"`
	Attrs   map[string]string `json:"attrs"`
	Inner   Inner             `json:"inner"`
	Ptr     *Inner            `json:"ptr"`
	Note    string            `json:"note,omitempty"`
	Secret  string            `json:"-"`
	Untag   int64
	private int64
}

// Base is embedded in Record.
type Base struct {
	ID int64 `json:"id"`
}

// Inner is nested in Record.
type Inner struct {
	Label string `json:"label"`
}

func newAny() any { return new(any) }

func faultData() any { return map[string]any{"k": []any{int64(1), "v"}} }

// nestedList is n arrays, each holding the next, around int64(1).
func nestedList(n int) any {
	var v any = int64(1)
	for range n {
		v = []any{v}
	}
	return v
}

// nestedMap is n maps, each holding the next under "k", around "leaf".
func nestedMap(n int) any {
	var v any = "leaf"
	for range n {
		v = map[string]any{"k": v}
	}
	return v
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func thousandInts() []int64 {
	v := make([]int64, 1000)
	for i := range v {
		v[i] = int64(i-500) * (1<<53 + 1) // both signs, beyond float64's integers
	}
	return v
}

// zoned is a time with a zone (-03:30, Newfoundland) and nanoseconds.
var zoned = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("NST", -(3*3600+30*60)))

const (
	rowInt64    = "int64: min, max, 0, −1, ±(2⁵³+1), ±2³¹ edges"
	rowFloat    = "float64: 0, −0, 1.5, 1e300, max, smallest subnormal"
	rowNonFin   = "float64: NaN, ±Inf as a param"
	rowString   = "string: empty, unicode (emoji, combining, RTL), < > & ' \", \\t \\n \\r"
	rowControls = "string: NUL and other C0 controls"
	rowBytes    = "[]byte: empty, 0x00–0xff"
	rowInvalid  = "invalid params: wrong type, too many, too few, out of range, fraction"
	rowNull     = "null: nil *T result, nil any"
)

// cases is the table. The overrides of each case are the documented
// behaviour of the codecs, from their doc.go (package documentation):
// codec/json, codec/xml, codec/msgpack, codec/proto.
var cases = []tcase{
	// Integers: every codec keeps int64 and uint64 exact (json: "Integers
	// survive exactly over the whole int64 and uint64 ranges"; xml: within
	// 32 bits as <int>, others as <i8>; msgpack: "Integers exact"; proto:
	// "int (exact over the whole range)").
	{name: "int64 min", row: rowInt64, method: "echo.int64", params: []any{int64(math.MinInt64)}, want: int64(math.MinInt64)},
	{name: "int64 max", row: rowInt64, method: "echo.int64", params: []any{int64(math.MaxInt64)}, want: int64(math.MaxInt64)},
	{name: "int64 zero", row: rowInt64, method: "echo.int64", params: []any{int64(0)}, want: int64(0)},
	{name: "int64 minus one", row: rowInt64, method: "echo.int64", params: []any{int64(-1)}, want: int64(-1)},
	{name: "int64 2^53+1", row: rowInt64, method: "echo.int64", params: []any{int64(1<<53 + 1)}, want: int64(1<<53 + 1)},
	{name: "int64 -(2^53+1)", row: rowInt64, method: "echo.int64", params: []any{int64(-(1<<53 + 1))}, want: int64(-(1<<53 + 1))},
	// XML-RPC's <int> holds 32 bits: these need <i8>.
	{name: "int64 2^31", row: rowInt64, method: "echo.int64", params: []any{int64(1 << 31)}, want: int64(1 << 31)},
	{name: "int64 -2^31-1", row: rowInt64, method: "echo.int64", params: []any{int64(-1<<31 - 1)}, want: int64(-1<<31 - 1)},
	{name: "int32 min", row: "int32: min, max", method: "echo.int32", params: []any{int32(math.MinInt32)}, want: int32(math.MinInt32)},
	{name: "int32 max", row: "int32: min, max", method: "echo.int32", params: []any{int32(math.MaxInt32)}, want: int32(math.MaxInt32)},
	{name: "uint64 max int64", row: "uint64 up to 2⁶³−1", method: "echo.uint64", params: []any{uint64(math.MaxInt64)}, want: uint64(math.MaxInt64)},
	{name: "uint64 max", row: "uint64 above 2⁶³−1", method: "echo.uint64", params: []any{uint64(math.MaxUint64)}, want: uint64(math.MaxUint64),
		// xml: "an unsigned value beyond int64 is an error" (encoding).
		except: map[string]expect{"xml": clientError}},
	{name: "uint64 max as result", row: "uint64 above 2⁶³−1 as a result", method: "result.uint64max", result: uint64(math.MaxUint64), want: uint64(math.MaxUint64),
		// xml: the same encoding error, on the server: the core answers
		// -32603 for a result the codec cannot encode (rpc.Server,
		// README "Errors").
		except: map[string]expect{"xml": serverInternal}},

	// Floats. -0 and the smallest subnormal must survive bit for bit: each
	// codec writes the shortest digits that read back exactly (json as
	// encoding/json, xml "doubles with the shortest digits that read back
	// exactly"), or the binary double (msgpack, proto).
	// Numbers inside an any take natural types. json: "a uint64 when it is
	// a whole number within uint64"; msgpack: "a uint64 only beyond the
	// int64 range"; proto: "uint64 (only above the int64 range)"; xml: the
	// encoding error of any uint64 beyond int64.
	{name: "uint64 max in any", row: "uint64 above 2⁶³−1 inside any", method: "echo.any", params: []any{uint64(math.MaxUint64)},
		into: newAny, want: uint64(math.MaxUint64), except: map[string]expect{"xml": clientError}},
	// json: a number decoded into an interface "becomes an int64 when its
	// value is a whole number within int64": 2.0 is written as 2 (as
	// encoding/json writes it) and read back as int64(2).
	{name: "whole float64 in any", row: "float64 with a whole value inside any", method: "echo.any", params: []any{2.0},
		into: newAny, want: 2.0, except: map[string]expect{"json": changed("int64", int64(2),
			"an int64: JSON numbers carry no type, and a whole number becomes an int64 in an any")}},
	{name: "float64 zero", row: rowFloat, method: "echo.float64", params: []any{0.0}, want: 0.0},
	{name: "float64 negative zero", row: rowFloat, method: "echo.float64", params: []any{math.Copysign(0, -1)}, want: math.Copysign(0, -1)},
	{name: "float64 1.5", row: rowFloat, method: "echo.float64", params: []any{1.5}, want: 1.5},
	{name: "float64 1e300", row: rowFloat, method: "echo.float64", params: []any{1e300}, want: 1e300},
	{name: "float64 max", row: rowFloat, method: "echo.float64", params: []any{math.MaxFloat64}, want: math.MaxFloat64},
	{name: "float64 smallest subnormal", row: rowFloat, method: "echo.float64", params: []any{math.SmallestNonzeroFloat64}, want: math.SmallestNonzeroFloat64},
	// NaN and infinities: JSON has no literal for them (RFC 8259; the json
	// codec encodes floats as encoding/json does, which refuses them with an
	// UnsupportedValueError); xml: "NaN and infinities are errors"; msgpack:
	// "float32 and float64 as themselves"; proto: "double (NaN and
	// infinities too)".
	{name: "float64 NaN", row: rowNonFin, method: "echo.float64", params: []any{math.NaN()}, want: math.NaN(),
		except: map[string]expect{"json": clientError, "xml": clientError}},
	{name: "float64 +Inf", row: rowNonFin, method: "echo.float64", params: []any{math.Inf(1)}, want: math.Inf(1),
		except: map[string]expect{"json": clientError, "xml": clientError}},
	{name: "float64 -Inf", row: rowNonFin, method: "echo.float64", params: []any{math.Inf(-1)}, want: math.Inf(-1),
		except: map[string]expect{"json": clientError, "xml": clientError}},
	// The same values as results: the server cannot encode them and answers
	// -32603 (rpc.Server: "a result ... that the codec cannot carry turns
	// into a CodeInternal error").
	{name: "float64 NaN as result", row: "float64: NaN, ±Inf as a result", method: "result.nan", result: math.NaN(), want: math.NaN(),
		except: map[string]expect{"json": serverInternal, "xml": serverInternal}},
	{name: "float64 +Inf as result", row: "float64: NaN, ±Inf as a result", method: "result.inf", result: math.Inf(1), want: math.Inf(1),
		except: map[string]expect{"json": serverInternal, "xml": serverInternal}},

	// Strings.
	{name: "string empty", row: rowString, method: "echo.string", params: []any{""}, want: ""},
	{name: "string unicode", row: rowString, method: "echo.string",
		params: []any{"héllo — 日本語 🎉 👩‍👩‍👧 e\u0301 \u05e9\u05dc\u05d5\u05dd \u200f\u202e! \u2028\u2029"},
		want:   "héllo — 日本語 🎉 👩‍👩‍👧 e\u0301 \u05e9\u05dc\u05d5\u05dd \u200f\u202e! \u2028\u2029"},
	{name: "string markup", row: rowString, method: "echo.string",
		params: []any{`<a href="x">&amp; 'q' </a> ]]> <![CDATA[ &#0;`}, want: `<a href="x">&amp; 'q' </a> ]]> <![CDATA[ &#0;`},
	{name: "string whitespace", row: rowString, method: "echo.string",
		params: []any{"\ttab\nline\r\ncrlf\rcr  two spaces \x7f"}, want: "\ttab\nline\r\ncrlf\rcr  two spaces \x7f"},
	// NUL and the other C0 controls but \t \n \r: XML 1.0 has no way to
	// write them, not even as character references; xml: "a character XML
	// 1.0 cannot carry is an error".
	{name: "string NUL", row: rowControls, method: "echo.string", params: []any{"a\x00b"}, want: "a\x00b",
		except: map[string]expect{"xml": clientError}},
	{name: "string C0 controls", row: rowControls, method: "echo.string", params: []any{"\x01\x08\x0b\x0c\x1b\x1f"}, want: "\x01\x08\x0b\x0c\x1b\x1f",
		except: map[string]expect{"xml": clientError}},
	{name: "string NUL as result", row: "string: NUL as a result", method: "result.nul", result: "a\x00b", want: "a\x00b",
		except: map[string]expect{"xml": serverInternal}},
	{name: "string U+FFFE U+FFFF", row: "string: U+FFFE, U+FFFF (noncharacters)", method: "echo.string", params: []any{"\ufffe\uffff"}, want: "\ufffe\uffff",
		// XML 1.0's Char production excludes U+FFFE and U+FFFF.
		except: map[string]expect{"xml": clientError}},
	// Invalid UTF-8. json writes strings as encoding/json does, "invalid
	// UTF-8 as U+FFFD" (codec/json encode.go, appendQuoted; encoding/json:
	// strings are "coerced to valid UTF-8, replacing invalid bytes with the
	// Unicode replacement rune"); xml: only characters XML 1.0 can carry
	// ("a character XML 1.0 cannot carry is an error", and the reader
	// refuses invalid UTF-8); proto: "string (must be valid UTF-8)"; msgpack
	// strings are bytes.
	{name: "string invalid UTF-8", row: "string: invalid UTF-8", method: "echo.string", params: []any{"a\xffb\xc0"}, want: "a\xffb\xc0",
		except: map[string]expect{"json": replaced, "xml": clientError, "proto": clientError}},
	{name: "string invalid UTF-8 as result", row: "string: invalid UTF-8 as a result", method: "result.badutf8", result: "a\xffb\xc0", want: "a\xffb\xc0",
		except: map[string]expect{"json": replaced, "xml": serverInternal, "proto": serverInternal}},

	// Binary.
	{name: "bytes empty", row: rowBytes, method: "echo.bytes", params: []any{[]byte{}}, want: []byte{}},
	{name: "bytes 0x00-0xff", row: rowBytes, method: "echo.bytes", params: []any{allBytes()}, want: allBytes()},
	{name: "bytes in any", row: "[]byte inside any", method: "echo.any", params: []any{[]byte{0, 1, 2, 0xfe, 0xff}}, into: newAny, want: []byte{0, 1, 2, 0xfe, 0xff},
		// JSON has no binary type: []byte travels as encoding/json writes
		// it, a base64 string, which an any receives as a string.
		except: map[string]expect{"json": changed("base64 string", "AAEC/v8=",
			"a base64 string: JSON has no binary type, and an any cannot know the string was bytes")}},

	// Times.
	{name: "time zone and nanoseconds", row: "time.Time with zone and nanoseconds", method: "echo.time", params: []any{zoned}, want: zoned,
		except: map[string]expect{
			// xml: "time.Time as YYYYMMDDTHH:MM:SS in UTC".
			"xml": secondsUTC,
			// msgpack: "A timestamp is an instant: a time.Time keeps its
			// nanoseconds but loses its location, and decodes in UTC."
			"msgpack": asUTCInstant,
			// json: RFC 3339 with the offset, as encoding/json; proto: "time,
			// with its zone's offset": both exact.
		}},
	{name: "time UTC", row: "time.Time in UTC, whole seconds", method: "echo.time",
		params: []any{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, want: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	{name: "time UTC before 1970 with nanoseconds", row: "time.Time in UTC before 1970, nanoseconds",
		method: "echo.time", params: []any{time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		want: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		// xml: whole seconds; for the others a UTC instant is all there is.
		except: map[string]expect{"xml": secondsUTC}},
	{name: "time zero", row: "time.Time zero value (year 1, UTC)", method: "echo.time", params: []any{time.Time{}}, want: time.Time{}},
	{name: "time in any", row: "time.Time inside any", method: "echo.any", into: newAny,
		params: []any{time.Date(2000, 1, 1, 12, 30, 0, 0, time.UTC)}, want: time.Date(2000, 1, 1, 12, 30, 0, 0, time.UTC),
		// JSON has no time type: an any receives the RFC 3339 string
		// (encoding/json's encoding of a time.Time).
		except: map[string]expect{"json": changed("RFC 3339 string", "2000-01-01T12:30:00Z",
			"an RFC 3339 string: JSON has no time type")}},

	{name: "bool true", row: "bool", method: "echo.bool", params: []any{true}, want: true},
	{name: "bool false", row: "bool", method: "echo.bool", params: []any{false}, want: false},

	// Collections.
	{name: "empty []int64", row: "empty array", method: "echo.ints", params: []any{[]int64{}}, want: []int64{}},
	{name: "empty []any", row: "empty array", method: "echo.any", params: []any{[]any{}}, want: []any{}},
	{name: "empty map", row: "empty map", method: "echo.map", params: []any{map[string]any{}}, want: map[string]any{}},
	{name: "nil slice", row: "nil slice, nil map", method: "echo.ints", params: []any{[]int64(nil)}, want: []int64(nil),
		// xml: "nil slices and maps are an empty array and struct".
		except: map[string]expect{"xml": changed("empty", []int64{},
			"an empty array or struct: XML-RPC's `<nil/>` is an extension, so nil slices and maps are sent empty")}},
	{name: "nil map", row: "nil slice, nil map", method: "echo.map", params: []any{map[string]any(nil)}, want: map[string]any(nil),
		except: map[string]expect{"xml": changed("empty", map[string]any{}, "")}},
	{name: "1000 int64s", row: "[]int64, 1000 elements", method: "echo.ints", params: []any{thousandInts()}, want: thousandInts()},
	// Inside an any every codec decodes natural types: int64, float64,
	// string, bool, nil, []any, map[string]any.
	{name: "map mixed", row: "map[string]any, mixed values", method: "echo.map",
		params: []any{map[string]any{
			"int": int64(-42), "big": int64(1<<53 + 1), "float": 1.5, "string": "s", "true": true, "false": false,
			"nil": nil, "list": []any{int64(1), "two", []any{}}, "map": map[string]any{"a": int64(1), "": "empty key"},
		}},
		want: map[string]any{
			"int": int64(-42), "big": int64(1<<53 + 1), "float": 1.5, "string": "s", "true": true, "false": false,
			"nil": nil, "list": []any{int64(1), "two", []any{}}, "map": map[string]any{"a": int64(1), "": "empty key"},
		}},
	{name: "struct", row: "struct with json tags", method: "echo.struct",
		params: []any{Record{Base: Base{ID: 7}, Name: "n", Count: -3, Ratio: 0.25, OK: true, Tags: []string{"a", "b"},
			Attrs: map[string]string{"k": "v"}, Inner: Inner{Label: "in"}, Ptr: &Inner{Label: "ptr"}, Note: "note",
			Secret: "stays home", Untag: 9, private: 1}},
		want: Record{Base: Base{ID: 7}, Name: "n", Count: -3, Ratio: 0.25, OK: true, Tags: []string{"a", "b"},
			Attrs: map[string]string{"k": "v"}, Inner: Inner{Label: "in"}, Ptr: &Inner{Label: "ptr"}, Note: "note", Untag: 9}},
	{name: "struct nil pointer omitempty", row: "struct with json tags", method: "echo.struct",
		params: []any{Record{Name: "n", Tags: []string{}, Attrs: map[string]string{}}},
		want:   Record{Name: "n", Tags: []string{}, Attrs: map[string]string{}}},
	{name: "nested lists 50", row: "nesting: 50 levels of []any, of map[string]any", method: "echo.any",
		params: []any{nestedList(50)}, want: nestedList(50)},
	{name: "nested maps 50", row: "nesting: 50 levels of []any, of map[string]any", method: "echo.any",
		params: []any{nestedMap(50)}, want: nestedMap(50)},
	// Beyond every codec's depth limit (DefaultMaxDepth, 128 in each): the
	// server refuses the message with -32004 before decoding it; xml's
	// limit applies to encoding too ("encoding one fails too").
	{name: "nested lists 200", row: "nesting: 200 levels (beyond the limit)", method: "echo.any",
		params: []any{nestedList(200)}, expect: fails("-32004", rpc.CodeLimitExceeded),
		except: map[string]expect{
			// xml: WithMaxDepth: "encoding one fails too"; msgpack: MaxDepth
			// "decodes and encodes nested values by recursion, whose depth
			// this bounds"; proto: WithMaxDepth "limits the nesting of Values
			// to n levels: a param ... is the first level". Each client
			// refuses to encode what its server would refuse.
			"xml": clientError, "msgpack": clientError, "proto": clientError,
		}},
	// The same as a result: the server cannot encode it (xml: "encoding one
	// fails too"; msgpack: "results nested deeper are not encoded"; proto:
	// the same limit on Values) and answers -32603.
	{name: "nested lists 200 as result", row: "nesting: 200 levels as a result", method: "result.deep",
		result: nestedList(200), want: nestedList(200), into: newAny, expect: serverInternal},

	// Null. A null result clears the destination, whatever it held.
	{name: "nil *T result", row: rowNull, method: "echo.nilptr",
		into: func() any { p := &Record{Name: "sentinel"}; return &p }, want: (*Record)(nil)},
	{name: "nil any", row: rowNull, method: "echo.any", params: []any{nil},
		into: func() any { var v any = "sentinel"; return &v }, want: nil},

	// Outcomes.
	{name: "named params", row: "named params", method: "named.sub",
		named: map[string]any{"subtrahend": int64(23), "minuend": int64(42)}, want: int64(19),
		// xml: "XML-RPC has no named params (ErrNamedParams)".
		except: map[string]expect{"xml": clientError}},
	{name: "method not found", row: "method not found", method: "no.such.method", want: int64(0),
		expect: fails("-32601", rpc.CodeMethodNotFound)},
	{name: "invalid params wrong type", row: rowInvalid, method: "echo.int64", params: []any{"x"}, want: int64(0),
		expect: fails("-32602", rpc.CodeInvalidParams)},
	{name: "invalid params too many", row: rowInvalid, method: "echo.int64", params: []any{int64(1), int64(2)}, want: int64(0),
		expect: fails("-32602", rpc.CodeInvalidParams)},
	{name: "invalid params too few", row: rowInvalid, method: "echo.int64", want: int64(0),
		expect: fails("-32602", rpc.CodeInvalidParams)},
	{name: "invalid params out of range", row: rowInvalid, method: "echo.int32", params: []any{int64(1 << 31)}, want: int32(0),
		expect: fails("-32602", rpc.CodeInvalidParams)},
	{name: "invalid params fraction", row: rowInvalid, method: "echo.int64", params: []any{1.5}, want: int64(0),
		expect: fails("-32602", rpc.CodeInvalidParams)},
	{name: "application fault with data", row: "application fault with data", method: "fail.fault", want: int64(0),
		expect: expect{cell: "code, message, data", code: 4242, message: "application fault", checkData: true, data: faultData()},
		// xml: "rpc.Error.Data has no place in XML-RPC and is dropped".
		except: map[string]expect{"xml": {cell: "data dropped", code: 4242, message: "application fault", checkData: true, data: nil,
			legend: "the code and message arrive, the error's `Data` does not"}}},
	{name: "fault data NaN", row: "error data the codec cannot carry (NaN)", method: "fail.faultNaN", want: int64(0),
		expect: expect{cell: "code, message, data", code: 4242, message: "application fault", checkData: true, data: math.NaN()},
		except: map[string]expect{
			// json: error data is encoded like a result: -32603.
			"json": serverInternal,
			// xml: the data is dropped before anything could fail.
			"xml": {cell: "data dropped", code: 4242, message: "application fault", checkData: true, data: nil},
		}},
	{name: "plain error", row: "a handler's plain error", method: "fail.plain", want: int64(0),
		expect: expect{cell: "-32500, its text", code: rpc.CodeApplication, message: "plain failure"}},
	{name: "handler panic", row: "handler panic", method: "fail.panic",
		expect: expect{cell: "-32603, serves on", code: rpc.CodeInternal, message: "internal error"},
		call: func(t *testing.T, ctx context.Context, c *rpc.Client, _ expect) (any, error) {
			err := c.Call(ctx, "fail.panic", nil)
			var n int64
			if err2 := c.Call(ctx, "echo.int64", &n, int64(7)); err2 != nil || n != 7 {
				t.Errorf("the call after the panic: %d, %v", n, err2)
			}
			return nil, err
		}},
	{name: "deadline exceeded", row: "deadline exceeded", method: "slow.wait",
		expect: expect{cell: "-32001, errors.Is DeadlineExceeded", code: rpc.CodeDeadlineExceeded, is: context.DeadlineExceeded},
		call: func(t *testing.T, ctx context.Context, c *rpc.Client, _ expect) (any, error) {
			return nil, c.Call(ctx, "slow.wait", nil)
		}},
	{name: "notification", row: "notification", want: int64(1),
		expect: expect{cell: "served, no reply"},
		// xml: "XML-RPC has ... no notifications (ErrNotification)".
		except: map[string]expect{"xml": clientError},
		call:   notify},
}

// notify sends a notification that counts under the subtest's name, then
// waits, with ordinary calls, until the server has served it, and returns
// the count. The wait is bounded by the server's call timeout, so it is
// repeated: only the test's context decides that the notification never
// came.
func notify(t *testing.T, ctx context.Context, c *rpc.Client, e expect) (any, error) {
	key := t.Name()
	if err := c.Notify(ctx, "counter.add", key); err != nil {
		var n int64
		if err2 := c.Call(ctx, "counter.get", &n, key); err2 != nil || n != 0 {
			t.Errorf("a notification that failed to send still counted: %d, %v", n, err2)
		}
		return nil, err
	}
	for {
		var n int64
		err := c.Call(ctx, "counter.wait", &n, key, int64(1))
		var re *rpc.Error
		if errors.As(err, &re) && re.Code == rpc.CodeDeadlineExceeded && ctx.Err() == nil {
			continue
		}
		return n, err
	}
}
