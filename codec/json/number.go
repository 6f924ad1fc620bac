package json

import (
	"bytes"
	"math"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Numbers are decoded from their decimal digits: integers never pass
// through float64, and whether a number is whole is decided exactly, for
// any spelling of it.

// decodeInt decodes an integer literal into a value of the plan p, an
// integer type, and returns it as an int64 (holding the bits of a uint64
// for unsigned types). ok reports whether a value was decoded (null decodes
// nothing). Like encoding/json, it takes only integer literals: 1.0 and 1e3
// are errors.
func decodeInt(raw []byte, p *wire.Plan) (v int64, ok bool, err error) {
	c := raw[0]
	if c == 'n' {
		return 0, false, nil
	}
	if c != '-' && !isDigit(c) {
		return 0, false, p.Mismatch(kindName(raw))
	}
	neg := c == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	mag, ok := parseDigits(digits)
	switch {
	case !ok && bytes.ContainsAny(raw, ".eE"):
		err = p.Mismatch(kindName(raw))
	case !ok || neg && (mag > 1<<63 || p.Kind == wire.KindUint): // -0 too, as in encoding/json
		err = p.OutOfRange(excerpt(raw))
	case neg:
		v = -int64(mag) // -1<<63 wraps to itself, as wanted
		err = p.CheckInt(v)
	default:
		v = int64(mag)
		err = p.CheckUint(mag)
	}
	return v, err == nil, err
}

// parseDigits parses a non-empty run of decimal digits that fits in uint64.
func parseDigits[B ~string | ~[]byte](s B) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var v uint64
	if len(s) < 20 {
		// Nineteen digits cannot overflow.
		for i := 0; i < len(s); i++ {
			d := s[i] - '0'
			if d > 9 {
				return 0, false
			}
			v = v*10 + uint64(d)
		}
		return v, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// naturalNumber converts a valid JSON number to int64 when its value is a
// whole number within int64, to uint64 when it is a whole number within
// uint64, and to float64 otherwise. Whole means the value, not the spelling:
// 1.0 and 1e3 are whole, so a number reads the same after encoding/json
// writes a float64 such as 1000 back without its fraction.
func naturalNumber[B ~string | ~[]byte](lit B) (any, error) {
	if neg, mag, ok := wholeNumber(lit); ok {
		switch {
		case !neg && mag <= math.MaxInt64:
			return int64(mag), nil
		case !neg:
			return mag, nil
		case mag <= 1<<63:
			return -int64(mag), nil // -1<<63 wraps to itself, as wanted
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return nil, float64Plan.OutOfRange(excerpt([]byte(lit)))
	}
	return f, nil
}

// wholeNumber reports whether the JSON number lit is a whole number whose
// magnitude fits in uint64, and returns its sign and magnitude. It works on
// the decimal digits, so the answer is exact for any spelling.
func wholeNumber[B ~string | ~[]byte](lit B) (neg bool, mag uint64, ok bool) {
	i := 0
	if lit[0] == '-' {
		neg = true
		i++
	}
	// The digits before and after the point, and the exponent.
	intStart := i
	for i < len(lit) && isDigit(lit[i]) {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(lit) && lit[i] == '.' {
		i++
		fracStart = i
		for i < len(lit) && isDigit(lit[i]) {
			i++
		}
		fracEnd = i
	}
	if fracStart == intEnd && intEnd-intStart <= 19 && i == len(lit) {
		// A plain integer literal of at most 19 digits: the common case.
		mag, _ = parseDigits(lit[intStart:intEnd])
		return neg, mag, true
	}
	exp := 0
	if i < len(lit) {
		i++ // e or E
		expNeg := false
		if lit[i] == '+' || lit[i] == '-' {
			expNeg = lit[i] == '-'
			i++
		}
		// Past len(lit)+30 the exponent leaves no whole number that fits,
		// and no fraction that the digits could make whole: stop there.
		for ; i < len(lit); i++ {
			if exp <= len(lit)+30 {
				exp = exp*10 + int(lit[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	// digit returns the k-th significant digit, counting the integer digits
	// and then the fraction digits as one run.
	nInt, nFrac := intEnd-intStart, fracEnd-fracStart
	digit := func(k int) byte {
		if k < nInt {
			return lit[intStart+k]
		}
		return lit[fracStart+k-nInt]
	}
	n := nInt + nFrac
	first := 0
	for first < n && digit(first) == '0' {
		first++
	}
	if first == n {
		return neg, 0, true // zero, however spelled
	}
	last := n
	for digit(last-1) == '0' {
		last--
	}
	// The decimal point sits after digit nInt+exp-1; the value is whole when
	// no nonzero digit follows it.
	point := nInt + exp
	if point < last || point-first > 20 {
		return false, 0, false
	}
	for k := first; k < point; k++ {
		d := uint64(0)
		if k < last {
			d = uint64(digit(k) - '0')
		}
		if mag > (math.MaxUint64-d)/10 {
			return false, 0, false
		}
		mag = mag*10 + d
	}
	return neg, mag, true
}
