// Package demo holds the methods that rpcd serves by default: the examples of
// the JSON-RPC 2.0 specification, examples.getStateName, the validator1
// interop suite and a few demo.* methods. Clients in other languages and the
// interop tests call them, so their results are exact in every codec.
package demo

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// Application fault codes of the demo methods. They are outside the ranges
// reserved by JSON-RPC and XML-RPC fault interop.
const (
	CodeDivisionByZero rpc.Code = 1001 // demo.divide by zero
	CodeOutOfRange     rpc.Code = 1002 // examples.getStateName with no such state
	CodeOverflow       rpc.Code = 1003 // integer arithmetic overflowed
	CodeNotFound       rpc.Code = 1004 // validator1.nestedStructTest without 2000-04-01
)

// MaxSleep bounds demo.sleep.
const MaxSleep = 10 * time.Minute

// Register registers every demo method on s.
func Register(s *rpc.Server) error {
	type reg struct {
		name string
		fn   any
		opts []rpc.MethodOption
	}
	regs := []reg{
		// The JSON-RPC 2.0 specification's examples.
		{"subtract", subtract, opts("Returns minuend - subtrahend (integers stay exact).", "minuend", "subtrahend")},
		{"sum", sum, opts("Returns the sum of any count of numbers.")},
		{"get_data", getData, opts(`Returns ["hello", 5].`)},
		{"update", ignore, opts("Accepts any params and does nothing (a notification in the specification).")},
		{"notify_hello", ignore, opts("Accepts any params and does nothing (a notification in the specification).")},
		{"notify_sum", ignore, opts("Accepts any params and does nothing (a notification in the specification).")},

		{"examples.getStateName", getStateName, opts("Returns the name of the n-th US state in alphabetical order, 1 to 50.", "n")},

		{"validator1.arrayOfStructsTest", arrayOfStructsTest, opts("Takes an array of structs with moe, larry and curly; returns the sum of all curly.")},
		{"validator1.countTheEntities", countTheEntities, opts("Counts the < > & ' \" characters of a string.")},
		{"validator1.easyStructTest", easyStructTest, opts("Takes a struct with moe, larry and curly; returns their sum.")},
		{"validator1.echoStructTest", echoStructTest, opts("Returns the struct it was given.")},
		{"validator1.manyTypesTest", manyTypesTest, opts("Returns its six params (number, boolean, string, double, dateTime, base64) as an array.")},
		{"validator1.moderateSizeArrayCheck", moderateSizeArrayCheck, opts("Takes an array of strings; returns the first and last concatenated.")},
		{"validator1.nestedStructTest", nestedStructTest, opts("Takes a calendar struct; returns moe + larry + curly of 2000-04-01.")},
		{"validator1.simpleStructReturnTest", simpleStructReturnTest, opts("Returns n times 10, 100 and 1000 in a struct.")},

		{"demo.echo", echo, opts("Returns its param unchanged.", "value")},
		{"demo.add", add, opts("Returns a + b; an overflow is a fault.", "a", "b")},
		{"demo.divide", divide, opts("Returns a / b; dividing by zero is a fault.", "a", "b")},
		{"demo.sleep", sleep, opts("Sleeps ms milliseconds (at most 10 minutes), honouring cancellation and deadlines; returns ms.", "ms")},
		{"demo.fail", fail, opts("Fails with exactly the fault code and message given, and the data if any.", "code", "message", "data")},
	}
	for _, r := range regs {
		if err := s.Register(r.name, r.fn, r.opts...); err != nil {
			return err
		}
	}
	return nil
}

// opts are a demo method's options: every demo method keeps no state, so
// each is idempotent, and a client over many replicas may retry it.
func opts(help string, names ...string) []rpc.MethodOption {
	o := []rpc.MethodOption{rpc.WithHelp(help), rpc.Idempotent()}
	if names != nil {
		o = append(o, rpc.WithParamNames(names...))
	}
	return o
}

// number reads a numeric param: an int64 when it is a whole number that fits.
func number(v any) (i int64, f float64, isInt bool, err error) {
	switch x := v.(type) {
	case int64:
		return x, float64(x), true, nil
	case uint64:
		return 0, float64(x), false, nil
	case float64:
		return 0, x, false, nil
	}
	return 0, 0, false, &rpc.Error{Code: rpc.CodeInvalidParams, Message: fmt.Sprintf("invalid params: %v is not a number", v)}
}

func subtract(a, b any) (any, error) {
	ai, af, aInt, err := number(a)
	if err != nil {
		return nil, err
	}
	bi, bf, bInt, err := number(b)
	if err != nil {
		return nil, err
	}
	if aInt && bInt {
		d := ai - bi
		if (bi > 0 && d > ai) || (bi < 0 && d < ai) {
			return af - bf, nil // beyond int64: the float answer
		}
		return d, nil
	}
	return af - bf, nil
}

func sum(xs ...any) (any, error) {
	var si int64
	var sf float64
	allInt := true
	for _, x := range xs {
		i, f, isInt, err := number(x)
		if err != nil {
			return nil, err
		}
		sf += f
		if allInt && isInt {
			n := si + i
			if (i > 0 && n < si) || (i < 0 && n > si) {
				allInt = false
				continue
			}
			si = n
		} else {
			allInt = false
		}
	}
	if allInt {
		return si, nil
	}
	return sf, nil
}

func getData() ([]any, error) { return []any{"hello", int64(5)}, nil }

func ignore(...any) error { return nil }

var states = [...]string{
	"Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
	"Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky",
	"Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
	"Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico",
	"New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
	"Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont",
	"Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
}

func getStateName(n int64) (string, error) {
	if n < 1 || n > int64(len(states)) {
		return "", &rpc.Error{Code: CodeOutOfRange, Message: fmt.Sprintf("no state number %d: valid numbers are 1 to %d", n, len(states))}
	}
	return states[n-1], nil
}

// Stooges is the struct of the validator1 tests.
type Stooges struct {
	Moe   int64 `json:"moe"`
	Larry int64 `json:"larry"`
	Curly int64 `json:"curly"`
}

func arrayOfStructsTest(list []Stooges) (int64, error) {
	var n int64
	for _, s := range list {
		n += s.Curly
	}
	return n, nil
}

// Entities is the result of validator1.countTheEntities.
type Entities struct {
	LeftAngleBrackets  int64 `json:"ctLeftAngleBrackets"`
	RightAngleBrackets int64 `json:"ctRightAngleBrackets"`
	Ampersands         int64 `json:"ctAmpersands"`
	Apostrophes        int64 `json:"ctApostrophes"`
	Quotes             int64 `json:"ctQuotes"`
}

func countTheEntities(s string) (Entities, error) {
	var e Entities
	for _, r := range s {
		switch r {
		case '<':
			e.LeftAngleBrackets++
		case '>':
			e.RightAngleBrackets++
		case '&':
			e.Ampersands++
		case '\'':
			e.Apostrophes++
		case '"':
			e.Quotes++
		}
	}
	return e, nil
}

func easyStructTest(s Stooges) (int64, error) { return s.Moe + s.Larry + s.Curly, nil }

func echoStructTest(s map[string]any) (map[string]any, error) { return s, nil }

func manyTypesTest(n int64, b bool, s string, d float64, t time.Time, data []byte) ([]any, error) {
	return []any{n, b, s, d, t, data}, nil
}

func moderateSizeArrayCheck(list []string) (string, error) {
	if len(list) == 0 {
		return "", &rpc.Error{Code: rpc.CodeInvalidParams, Message: "invalid params: the array is empty"}
	}
	return list[0] + list[len(list)-1], nil
}

func nestedStructTest(cal map[string]map[string]map[string]Stooges) (int64, error) {
	day, ok := cal["2000"]["04"]["01"]
	if !ok {
		return 0, &rpc.Error{Code: CodeNotFound, Message: "the calendar has no 2000-04-01"}
	}
	return day.Moe + day.Larry + day.Curly, nil
}

// Multiples is the result of validator1.simpleStructReturnTest.
type Multiples struct {
	Times10   int64 `json:"times10"`
	Times100  int64 `json:"times100"`
	Times1000 int64 `json:"times1000"`
}

func simpleStructReturnTest(n int64) (Multiples, error) {
	if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
		return Multiples{}, &rpc.Error{Code: CodeOverflow, Message: "n times 1000 overflows a 64-bit integer"}
	}
	return Multiples{n * 10, n * 100, n * 1000}, nil
}

func echo(v any) (any, error) { return v, nil }

func add(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, &rpc.Error{Code: CodeOverflow, Message: fmt.Sprintf("%d + %d overflows a 64-bit integer", a, b)}
	}
	return s, nil
}

func divide(a, b float64) (float64, error) {
	if b == 0 {
		return 0, &rpc.Error{Code: CodeDivisionByZero, Message: "division by zero"}
	}
	return a / b, nil
}

func sleep(ctx context.Context, ms int64) (int64, error) {
	d := time.Duration(ms) * time.Millisecond
	if ms < 0 || d > MaxSleep {
		return 0, &rpc.Error{Code: rpc.CodeInvalidParams, Message: fmt.Sprintf("invalid params: ms must be 0 to %d", MaxSleep.Milliseconds())}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ms, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func fail(code int64, message string, data ...any) error {
	if code < math.MinInt32 || code > math.MaxInt32 {
		return &rpc.Error{Code: rpc.CodeInvalidParams, Message: "invalid params: code must fit in 32 bits"}
	}
	e := &rpc.Error{Code: rpc.Code(code), Message: message}
	if len(data) > 1 {
		return &rpc.Error{Code: rpc.CodeInvalidParams, Message: "invalid params: at most one data value"}
	}
	if len(data) == 1 {
		e.Data = data[0]
	}
	return e
}
