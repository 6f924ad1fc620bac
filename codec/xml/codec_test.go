package xml_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

var codec = xml.New()

// client returns a client of a server with the xml codec only, to which
// register adds methods; calls go through the codec in both directions.
func client(t testing.TB, register func(s *rpc.Server) error) *rpc.Client {
	t.Helper()
	s, err := rpc.NewServer(rpc.WithCodecs(codec))
	if err != nil {
		t.Fatal(err)
	}
	if err := register(s); err != nil {
		t.Fatal(err)
	}
	cl, err := rpc.NewClient(rpc.InProcess(s), codec)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// echo sends v to a method taking and returning a T and returns its result.
func echo[T any](t *testing.T, v T) T {
	t.Helper()
	c := client(t, func(s *rpc.Server) error {
		return s.Register("echo", func(_ context.Context, x T) (T, error) { return x, nil })
	})
	var out T
	if err := c.Call(context.Background(), "echo", &out, v); err != nil {
		t.Fatalf("echo %#v: %v", v, err)
	}
	return out
}

func TestCodecAbilities(t *testing.T) {
	if got := codec.Name(); got != "xml" {
		t.Errorf("Name = %q", got)
	}
	if got := codec.MediaTypes(); !reflect.DeepEqual(got, []string{"text/xml", "application/xml"}) {
		t.Errorf("MediaTypes = %q", got)
	}
	if !codec.Sniff('<') || codec.Sniff('{') || codec.Sniff(0x93) {
		t.Error("Sniff accepts other than '<'")
	}
	if !codec.InOrder() {
		t.Error("InOrder = false")
	}
	if c, ok := rpc.LookupCodec("xml"); !ok {
		t.Error("not registered")
	} else if _, ok := c.(*xml.Codec); !ok {
		t.Errorf("registered codec is %T", c)
	}
}

// roundTrip returns a subtest that echoes v and expects it back unchanged.
func roundTrip[T any](v T) func(*testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		if got := echo(t, v); !reflect.DeepEqual(got, v) {
			t.Errorf("got  %#v\nwant %#v", got, v)
		}
	}
}

// roundTripTo returns a subtest that echoes v and expects want.
func roundTripTo[T any](v, want T) func(*testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		if got := echo(t, v); !reflect.DeepEqual(got, want) {
			t.Errorf("got  %#v\nwant %#v", got, want)
		}
	}
}

type point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

type record struct {
	Name    string            `json:"name"`
	Note    string            `json:"note,omitempty"`
	Count   int64             `json:"count"`
	Ratio   float64           `json:"ratio"`
	OK      bool              `json:"ok"`
	When    time.Time         `json:"when"`
	Blob    []byte            `json:"blob"`
	Points  []point           `json:"points"`
	Tags    map[string]string `json:"tags"`
	Ptr     *point            `json:"ptr"`
	Any     any               `json:"any"`
	Skipped string            `json:"-"`
	point                     // promoted: x and y
}

type tree struct {
	Name string `json:"name"`
	Kids []tree `json:"kids"`
}

// deepTree returns n nested structs (2n levels with their arrays).
func deepTree(n int) tree {
	t := tree{Name: "leaf", Kids: []tree{}}
	for i := range n - 1 {
		t = tree{Name: strings.Repeat("n", i%5), Kids: []tree{t}}
	}
	return t
}

// deepAny returns a value of n nested arrays and structs.
func deepAny(n int) any {
	var v any = "bottom"
	for i := range n {
		if i%2 == 0 {
			v = []any{v, int64(i)}
		} else {
			v = map[string]any{"k": v}
		}
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	day := time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)
	large := make([]byte, 1<<20)
	for i := range large {
		large[i] = byte(i * 7)
	}
	x := 7
	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"int zero", roundTrip(0)},
		{"int32 max", roundTrip(int32(math.MaxInt32))},
		{"int32 min", roundTrip(int32(math.MinInt32))},
		{"int beyond int32", roundTrip(int64(math.MaxInt32) + 1)},
		{"int64 max", roundTrip(int64(math.MaxInt64))},
		{"int64 min", roundTrip(int64(math.MinInt64))},
		{"int8", roundTrip(int8(-128))},
		{"uint16", roundTrip(uint16(65535))},
		{"uint64 max int64", roundTrip(uint64(math.MaxInt64))},
		{"bool true", roundTrip(true)},
		{"bool false", roundTrip(false)},
		{"string empty", roundTrip("")},
		{"string unicode", roundTrip("héllo wörld ✓ 𝄞 日本")},
		{"string escaped", roundTrip(`<a href="x">&amp; ]]> 'q'</a>`)},
		{"string CR LF", roundTrip("a\r\nb\rc\n\td")},
		{"string spaces only", roundTrip("   ")},
		{"double zero", roundTrip(0.0)},
		{"double negative zero", func(t *testing.T) {
			if got := echo(t, math.Copysign(0, -1)); !math.Signbit(got) {
				t.Errorf("got %v, want -0", got)
			}
		}},
		{"double 1.5", roundTrip(1.5)},
		{"double 0.1", roundTrip(0.1)},
		{"double third", roundTrip(1.0 / 3)},
		{"double max", roundTrip(math.MaxFloat64)},
		{"double smallest", roundTrip(math.SmallestNonzeroFloat64)},
		{"double -1e300", roundTrip(-1e300)},
		{"double 1e21", roundTrip(1e21)},
		{"double 1e-7", roundTrip(1e-7)},
		{"double big integer", roundTrip(float64(1 << 53))},
		{"float32", roundTrip(float32(0.1))},
		{"datetime", roundTrip(day)},
		{"datetime zero", roundTrip(time.Time{}.UTC())},
		{"datetime last", roundTrip(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))},
		{"datetime zone and nanos", roundTripTo(
			time.Date(2024, 2, 29, 23, 30, 0, 999, time.FixedZone("", -3600)),
			time.Date(2024, 3, 1, 0, 30, 0, 0, time.UTC))},
		{"bytes", roundTrip([]byte("hi\x00\xff"))},
		{"bytes empty", roundTrip([]byte{})},
		{"bytes nil", roundTripTo([]byte(nil), []byte{})},
		{"bytes large", roundTrip(large)},
		{"nil pointer", roundTrip[*int](nil)},
		{"pointer", roundTrip(&x)},
		{"nil any", roundTrip[any](nil)},
		{"slice", roundTrip([]string{"a", "", "<"})},
		{"slice empty", roundTrip([]int{})},
		{"slice nil", roundTripTo([]int(nil), []int{})},
		{"array", roundTrip([3]int{1, 2, 3})},
		{"map", roundTrip(map[string]int{"b": 2, "a": 1, "<&>": 3})},
		{"map empty", roundTrip(map[string]int{})},
		{"map nil", roundTripTo(map[string]int(nil), map[string]int{})},
		{"struct empty", roundTrip(struct{}{})},
		{"struct", roundTrip(record{
			Name: "n", Count: -5, Ratio: 2.5, OK: true, When: day, Blob: []byte{1},
			Points: []point{{1, 2}, {3, 4}}, Tags: map[string]string{"k": "v"},
			Ptr: &point{5, 6}, Any: int64(9), point: point{7, 8},
		})},
		{"struct zero", roundTripTo(record{}, record{Blob: []byte{}, Points: []point{}, Tags: map[string]string{}})},
		{"struct 50 deep", roundTrip(deepTree(50))},
		{"any 50 deep", roundTrip(deepAny(50))},
		{"any natural", roundTrip[any](map[string]any{
			"int": int64(1), "i8": int64(1 << 40), "bool": true, "double": 1.5, "string": "s",
			"nil": nil, "bytes": []byte("b"), "time": day, "array": []any{int64(1), "a"},
			"struct": map[string]any{}, "empty": []any{},
		})},
		{"any from typed", roundTripTo[any](
			struct {
				A int     `json:"a"`
				B []uint8 `json:"b"`
				C []int   `json:"c"`
			}{1, []byte("x"), []int{2}},
			map[string]any{"a": int64(1), "b": []byte("x"), "c": []any{int64(2)}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestOmitEmpty(t *testing.T) {
	type v struct {
		A string  `json:"a,omitempty"`
		B int     `json:"b,omitempty"`
		C []int   `json:"c,omitempty"`
		D *int    `json:"d,omitempty"`
		E string  `json:"e"`
		F float64 `json:"f,omitempty"`
	}
	msg, err := codec.AppendCall(nil, &wire.Call{Method: "m", Args: []any{v{}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `<value><struct><member><name>e</name><value><string></string></value></member></struct></value>`
	if !bytes.Contains(msg, []byte(want)) {
		t.Errorf("got %s\nwant it to contain %s", msg, want)
	}
}

func TestMultipleParams(t *testing.T) {
	t.Parallel()
	c := client(t, func(s *rpc.Server) error {
		return s.Register("join", func(sep string, n int, parts ...string) (string, error) {
			return strings.Repeat(strings.Join(parts, sep), n), nil
		})
	})
	var got string
	if err := c.Call(context.Background(), "join", &got, "-", 2, "a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	if got != "a-b-ca-b-c" {
		t.Errorf("got %q", got)
	}
}

func TestNoResult(t *testing.T) {
	t.Parallel()
	c := client(t, func(s *rpc.Server) error {
		return s.Register("void", func() error { return nil })
	})
	got := "unchanged"
	var p *string = &got
	if err := c.Call(context.Background(), "void", &p); err != nil {
		t.Fatal(err)
	}
	if p != nil {
		t.Errorf("result %v, want nil from <nil/>", *p)
	}
}

func TestFaultsThroughCore(t *testing.T) {
	t.Parallel()
	c := client(t, func(s *rpc.Server) error {
		return errors.Join(
			s.Register("app", func() (int, error) {
				return 0, &rpc.Error{Code: 42, Message: "boom <&> \x00", Data: map[string]any{"dropped": true}}
			}),
			s.Register("plain", func() (int, error) { return 0, errors.New("plain failure") }),
			s.Register("add", func(a, b int32) (int32, error) { return a + b, nil }),
			s.Register("panics", func() (int, error) { panic("no") }),
			s.Register("nan", func() (float64, error) { return math.NaN(), nil }),
		)
	})
	tests := []struct {
		method string
		params []any
		code   rpc.Code
		msg    string // a substring of the message
	}{
		{"app", nil, 42, "boom <&> \uFFFD"},
		{"plain", nil, rpc.CodeApplication, "plain failure"},
		{"missing", nil, rpc.CodeMethodNotFound, "missing"},
		{"add", []any{1}, rpc.CodeInvalidParams, "wants 2 params"},
		{"add", []any{1, "2"}, rpc.CodeInvalidParams, "cannot use string as a 32-bit integer"},
		{"add", []any{1, int64(1) << 40}, rpc.CodeInvalidParams, "1099511627776 is out of the range of a 32-bit integer"},
		{"add", []any{1, 2.0}, rpc.CodeInvalidParams, "cannot use double as a 32-bit integer"},
		{"panics", nil, rpc.CodeInternal, "internal error"},
		{"nan", nil, rpc.CodeInternal, "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+tt.msg, func(t *testing.T) {
			err := c.Call(context.Background(), tt.method, nil, tt.params...)
			var e *rpc.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *rpc.Error", err)
			}
			if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %d %q, want %d containing %q", e.Code, e.Message, tt.code, tt.msg)
			}
			if e.Data != nil {
				t.Errorf("Data = %v, want nil: XML-RPC has no room for it", e.Data)
			}
		})
	}
}

func TestAppendCallErrors(t *testing.T) {
	tests := []struct {
		name string
		call wire.Call
		want string
	}{
		{"named params", wire.Call{Method: "m", Named: map[string]any{"a": 1}}, "no named params"},
		{"notification", wire.Call{Method: "m", Notification: true}, "no notifications"},
		{"empty method", wire.Call{}, "empty method name"},
		{"method NUL", wire.Call{Method: "a\x00"}, "U+0000"},
		{"NaN", wire.Call{Method: "m", Args: []any{math.NaN()}}, "NaN"},
		{"+Inf", wire.Call{Method: "m", Args: []any{math.Inf(1)}}, "+Inf"},
		{"float32 Inf", wire.Call{Method: "m", Args: []any{float32(math.Inf(-1))}}, "-Inf"},
		{"NUL", wire.Call{Method: "m", Args: []any{"a\x00b"}}, "U+0000"},
		{"FFFE", wire.Call{Method: "m", Args: []any{"\uFFFE"}}, "U+FFFE"},
		{"bad UTF-8", wire.Call{Method: "m", Args: []any{"\xff"}}, "invalid UTF-8"},
		{"control in key", wire.Call{Method: "m", Args: []any{map[string]int{"\x01": 1}}}, "U+0001"},
		{"control in field name", wire.Call{Method: "m", Args: []any{struct {
			A int `json:"a\x01"`
		}{}}}, "U+0001"},
		{"uint64", wire.Call{Method: "m", Args: []any{uint64(math.MaxUint64)}}, "exceeds"},
		{"year 10000", wire.Call{Method: "m", Args: []any{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "years"},
		{"chan", wire.Call{Method: "m", Args: []any{make(chan int)}}, "a channel cannot be encoded or decoded"},
		{"int keys", wire.Call{Method: "m", Args: []any{map[int]int{1: 1}}}, "a map with non-string keys cannot be encoded or decoded"},
		{"nested NaN", wire.Call{Method: "m", Args: []any{[]any{map[string]any{"k": math.NaN()}}}}, `[0]["k"]: NaN cannot be encoded`},
		{"too deep", wire.Call{Method: "m", Args: []any{deepAny(200)}}, "deeper than 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := codec.AppendCall(dst, &tt.call)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
	if _, err := codec.AppendCall(nil, &wire.Call{Method: "m", Named: struct{}{}}); !errors.Is(err, xml.ErrNamedParams) {
		t.Errorf("named params: %v, want ErrNamedParams", err)
	}
	if _, err := codec.AppendCall(nil, &wire.Call{Method: "m", Notification: true}); !errors.Is(err, xml.ErrNotification) {
		t.Errorf("notification: %v, want ErrNotification", err)
	}
}

func TestCyclicValue(t *testing.T) {
	type node struct {
		Next *node `json:"next"`
	}
	n := &node{}
	n.Next = n
	type self *self
	var s self
	s = &s
	for _, tt := range []struct {
		v    any
		want string
	}{
		{n, "deeper than"},
		{s, "a chain of more than 32 pointers cannot be encoded"}, // a type, not only a value, without end
	} {
		if _, err := codec.AppendCall(nil, &wire.Call{Method: "m", Args: []any{tt.v}}); err == nil ||
			!strings.Contains(err.Error(), tt.want) {
			t.Errorf("%T: error %v, want one containing %q", tt.v, err, tt.want)
		}
	}
}

func TestAppendResponseError(t *testing.T) {
	dst := []byte("keep")
	out, err := codec.AppendResponse(dst, &wire.Response{Result: []any{1, math.Inf(1)}})
	if err == nil || string(out) != "keep" {
		t.Errorf("got %q, %v; want dst unchanged and an error", out, err)
	}
}

func TestMaxDepthOption(t *testing.T) {
	shallow := xml.New(xml.WithMaxDepth(3))
	if _, err := shallow.AppendCall(nil, &wire.Call{Method: "m", Args: []any{deepAny(3)}}); err != nil {
		t.Errorf("3 levels: %v", err)
	}
	if _, err := shallow.AppendCall(nil, &wire.Call{Method: "m", Args: []any{deepAny(4)}}); err == nil {
		t.Error("4 levels encoded with a limit of 3")
	}
	msg, err := codec.AppendCall(nil, &wire.Call{Method: "m", Args: []any{deepAny(4)}})
	if err != nil {
		t.Fatal(err)
	}
	var req wire.Request
	err = shallow.DecodeRequest(msg, &req)
	var e *wire.Error
	if !errors.As(err, &e) || e.Code != wire.CodeLimitExceeded {
		t.Errorf("4 levels decoded with a limit of 3: %v", err)
	}
	if _, err := xml.New(xml.WithMaxDepth(0)).AppendCall(nil, &wire.Call{Method: "m", Args: []any{deepAny(128)}}); err != nil {
		t.Errorf("WithMaxDepth(0) does not keep the default: %v", err)
	}
	deep := xml.New(xml.WithMaxDepth(1000))
	msg, err = deep.AppendCall(nil, &wire.Call{Method: "m", Args: []any{deepAny(1000)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := deep.DecodeRequest(msg, &req); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := req.Params.DecodeAt(0, &v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, deepAny(1000)) {
		t.Error("1000 levels did not round-trip")
	}
}
