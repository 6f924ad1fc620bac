package json

import (
	"bytes"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Slices of the basic types are decoded here rather than by encoding/json,
// whose reflection costs about a tenth of a microsecond per element. They
// behave as encoding/json does in what a caller sees on success: null makes
// the slice nil, [] an empty one, and the slice's own array is reused, its
// elements decoded into (so that a null element leaves one alone). On an
// error the slice keeps its length; elements before the one in error may
// have been decoded into its array, as encoding/json decodes them.

// decodeSlice decodes the valid JSON value raw into *d, a slice of the plan
// p, decoding each element with elem.
func decodeSlice[E any](raw []byte, d *[]E, p *wire.Plan, elem func(raw []byte, e *E) error) error {
	switch raw[0] {
	case 'n':
		*d = nil
		return nil
	case '[':
	default:
		return p.Mismatch(kindName(raw))
	}
	out := (*d)[:0]
	i := skipSpace(raw, 1)
	if raw[i] == ']' {
		if out == nil {
			out = []E{}
		}
		*d = out
		return nil
	}
	for n := 0; ; n++ {
		var end int
		var err error
		if c := raw[i]; c == '[' || c == '{' {
			end, err = skipValue(raw, i, 0)
		} else {
			end, err = scanScalar(raw, i)
		}
		if err != nil {
			// An array or object, which no element type here takes, or
			// bytes that were not validated.
			if raw[i] == '[' || raw[i] == '{' {
				err = p.Elem.Mismatch(kindName(raw[i:]))
			}
			return wire.AtIndex(err, n)
		}
		// As encoding/json does, an element within the array's capacity
		// is decoded into what is there, which null leaves alone.
		if n < cap(out) {
			out = out[:n+1]
		} else {
			var zero E
			out = append(out, zero)
		}
		if err := elem(raw[i:end], &out[n]); err != nil {
			return wire.AtIndex(err, n)
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			break
		}
		i = skipSpace(raw, i+1)
	}
	*d = out
	return nil
}

// numberHint is how many elements an array of numbers raw may have, from
// its commas, for a slice's first capacity: at least two bytes of JSON per
// element bound it.
func numberHint(raw []byte) int {
	return bytes.Count(raw, []byte{','}) + 1
}

// decodeInt64, decodeFloat64 and decodeString decode a value into a
// non-nil pointer: null leaves it alone, as in encoding/json.
func decodeInt64(raw []byte, e *int64) error {
	v, ok, err := decodeInt(raw, int64Plan)
	if ok {
		*e = v
	}
	return err
}

func decodeFloat64(raw []byte, e *float64) error {
	switch c := raw[0]; {
	case c == 'n':
		return nil
	case c == '-' || isDigit(c):
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return float64Plan.OutOfRange(excerpt(raw))
		}
		*e = f
		return nil
	}
	return float64Plan.Mismatch(kindName(raw))
}

func decodeString(raw []byte, e *string) error {
	switch raw[0] {
	case '"':
		*e = unquote(raw)
		return nil
	case 'n':
		return nil
	}
	return stringPlan.Mismatch(kindName(raw))
}

// decodeInt64s decodes []int64, sized up front from the commas.
func decodeInt64s(raw []byte, d *[]int64) error {
	return presized(raw, d, int64sPlan, decodeInt64)
}

// decodeFloat64s decodes []float64, sized up front from the commas.
func decodeFloat64s(raw []byte, d *[]float64) error {
	return presized(raw, d, float64sPlan, decodeFloat64)
}

// presized is decodeSlice for numbers into a nil slice, which it makes
// with room for the elements that raw may have.
func presized[E any](raw []byte, d *[]E, p *wire.Plan, elem func(raw []byte, e *E) error) error {
	if raw[0] != '[' || *d != nil {
		return decodeSlice(raw, d, p, elem)
	}
	out := make([]E, 0, numberHint(raw))
	if err := decodeSlice(raw, &out, p, elem); err != nil {
		return err
	}
	*d = out
	return nil
}
