package interop_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func jsonCodec(t testing.TB) rpc.Codec {
	c, ok := rpc.LookupCodec("json")
	if !ok {
		t.Fatal("json codec not registered")
	}
	return c
}

// TestDemoOverHTTP calls every demo method with polyrpc's client over HTTP.
func TestDemoOverHTTP(t *testing.T) {
	t.Parallel()
	_, hs := newDemoServer(t)
	c := must(httprpc.NewClient(hs.URL+"/RPC2", jsonCodec(t)))
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	when := time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)
	stooges := map[string]any{"moe": 1, "larry": 2, "curly": 3}

	tests := []struct {
		name   string
		method string
		params []any
		named  any
		want   any
	}{
		{"subtract", "subtract", []any{42, 23}, nil, int64(19)},
		{"subtract named", "subtract", nil, map[string]any{"minuend": 42, "subtrahend": 23}, int64(19)},
		{"subtract exact", "subtract", []any{int64(1) << 62, int64(-1) << 62}, nil, nil}, // overflows int64: float
		{"sum", "sum", []any{1, 2, 4}, nil, int64(7)},
		{"sum float", "sum", []any{1.5, 2}, nil, 3.5},
		{"get_data", "get_data", nil, nil, []any{"hello", int64(5)}},
		{"update", "update", []any{1, 2, 3}, nil, nil},
		{"state", "examples.getStateName", []any{41}, nil, "South Dakota"},
		{"state named", "examples.getStateName", nil, map[string]any{"n": 1}, "Alabama"},
		{"array of structs", "validator1.arrayOfStructsTest", []any{[]any{stooges, map[string]any{"moe": 0, "larry": 0, "curly": 4}}}, nil, int64(7)},
		{"entities", "validator1.countTheEntities", []any{`<a href='x'>"&"</a>`}, nil, map[string]any{
			"ctLeftAngleBrackets": int64(2), "ctRightAngleBrackets": int64(2), "ctAmpersands": int64(1),
			"ctApostrophes": int64(2), "ctQuotes": int64(2)}},
		{"easy struct", "validator1.easyStructTest", []any{stooges}, nil, int64(6)},
		{"easy struct named", "validator1.easyStructTest", nil, stooges, int64(6)},
		{"echo struct", "validator1.echoStructTest", []any{map[string]any{"a": int64(1), "b": map[string]any{"c": "d"}}}, nil,
			map[string]any{"a": int64(1), "b": map[string]any{"c": "d"}}},
		{"many types", "validator1.manyTypesTest", []any{7, true, "s", 1.5, when, []byte{0, 1, 255}}, nil,
			[]any{int64(7), true, "s", 1.5, "1998-07-17T14:08:55Z", "AAH/"}},
		{"moderate array", "validator1.moderateSizeArrayCheck", []any{[]string{"first", "x", "y", "last"}}, nil, "firstlast"},
		{"nested struct", "validator1.nestedStructTest", []any{map[string]any{
			"1999": map[string]any{},
			"2000": map[string]any{"04": map[string]any{"01": stooges, "02": map[string]any{"moe": 9}}}}}, nil, int64(6)},
		{"simple struct return", "validator1.simpleStructReturnTest", []any{5}, nil,
			map[string]any{"times10": int64(50), "times100": int64(500), "times1000": int64(5000)}},
		{"echo", "demo.echo", []any{map[string]any{"list": []any{int64(1), "ü☃", nil, false, 2.5}, "max": int64(9223372036854775807),
			"min": int64(-9223372036854775808), "2^53+1": int64(9007199254740993)}}, nil,
			map[string]any{"list": []any{int64(1), "ü☃", nil, false, 2.5}, "max": int64(9223372036854775807),
				"min": int64(-9223372036854775808), "2^53+1": int64(9007199254740993)}},
		{"echo null", "demo.echo", []any{nil}, nil, nil},
		{"add", "demo.add", []any{2, 3}, nil, int64(5)},
		{"add named", "demo.add", nil, map[string]any{"a": 9007199254740993, "b": 1}, int64(9007199254740994)},
		{"divide", "demo.divide", []any{1, 4}, nil, 0.25},
		{"sleep", "demo.sleep", []any{5}, nil, int64(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got any
			var err error
			if tt.named != nil {
				err = c.CallNamed(ctx, tt.method, &got, tt.named)
			} else {
				err = c.Call(ctx, tt.method, &got, tt.params...)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "subtract exact" {
				// Beyond int64 the answer is a float; JSON cannot tell a
				// whole float from an integer, so decode it as a float.
				var f float64
				if err := c.Call(ctx, tt.method, &f, tt.params...); err != nil || f != 9.223372036854775808e18 {
					t.Errorf("overflowing subtract = %v, %v", f, err)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}

	faults := []struct {
		name   string
		method string
		params []any
		code   rpc.Code
		msg    string
	}{
		{"state 0", "examples.getStateName", []any{0}, demo.CodeOutOfRange, ""},
		{"state 51", "examples.getStateName", []any{51}, demo.CodeOutOfRange, ""},
		{"divide by zero", "demo.divide", []any{1, 0}, demo.CodeDivisionByZero, "division by zero"},
		{"add overflow", "demo.add", []any{int64(9223372036854775807), 1}, demo.CodeOverflow, ""},
		{"fail", "demo.fail", []any{42, "the answer"}, 42, "the answer"},
		{"fail reserved", "demo.fail", []any{-32000, "server"}, -32000, "server"},
		{"wrong type", "demo.add", []any{"two", 3}, rpc.CodeInvalidParams, ""},
		{"nested missing", "validator1.nestedStructTest", []any{map[string]any{}}, demo.CodeNotFound, ""},
		{"no method", "demo.nope", nil, rpc.CodeMethodNotFound, "method not found: demo.nope"},
	}
	for _, tt := range faults {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := c.Call(ctx, tt.method, nil, tt.params...)
			var e *rpc.Error
			if !errors.As(err, &e) || e.Code != tt.code || (tt.msg != "" && e.Message != tt.msg) {
				t.Errorf("error %v, want code %d %q", err, tt.code, tt.msg)
			}
		})
	}

	t.Run("fail with data", func(t *testing.T) {
		err := c.Call(ctx, "demo.fail", nil, 7, "with data", map[string]any{"k": []any{int64(1), "v"}})
		var e *rpc.Error
		if !errors.As(err, &e) || !reflect.DeepEqual(e.Data, map[string]any{"k": []any{int64(1), "v"}}) {
			t.Errorf("error %#v", err)
		}
	})
	t.Run("notify", func(t *testing.T) {
		if err := c.Notify(ctx, "notify_hello", 7); err != nil {
			t.Error(err)
		}
	})
	t.Run("client deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		// demo.sleep would run a minute: the call must end with the context.
		err := c.Call(dctx, "demo.sleep", nil, 60000)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want deadline exceeded", err)
		}
	})
	t.Run("batch", func(t *testing.T) {
		var a, b int64
		calls := []*rpc.BatchCall{
			{Method: "demo.add", Params: []any{1, 2}, Result: &a},
			{Method: "notify_hello", Params: []any{1}, Notification: true},
			{Method: "demo.divide", Params: []any{1, 0}},
			{Method: "subtract", Named: map[string]any{"minuend": 5, "subtrahend": 7}, Result: &b},
		}
		if err := c.Batch(ctx, calls...); err != nil {
			t.Fatal(err)
		}
		var e *rpc.Error
		if a != 3 || b != -2 || !errors.As(calls[2].Err, &e) || e.Code != demo.CodeDivisionByZero {
			t.Errorf("a=%d b=%d divide err %v", a, b, calls[2].Err)
		}
	})
}
