package json

import (
	stdjson "encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// This file encodes Go values as encoding/json does with HTML escaping off,
// byte for byte. The types results and params usually have are written here
// directly; anything else goes through a pooled json.Encoder that writes
// straight into the caller's buffer.

// maxFastDepth bounds the recursion of the direct path through nested []any
// values; deeper ones go to encoding/json, which detects cycles.
const maxFastDepth = 32

// appendValue appends the JSON encoding of v to dst. On error the bytes
// after len(dst) are garbage; callers cut back to their own length.
func appendValue(dst []byte, v any) ([]byte, error) {
	return appendValueDepth(dst, v, 0)
}

func appendValueDepth(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendQuoted(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return appendFloat(dst, x, 64)
	case float32:
		return appendFloat(dst, float64(x), 32)
	case []int64:
		return appendSlice(dst, x, appendInt64)
	case []float64:
		return appendSlice(dst, x, appendFloat64)
	case []string:
		return appendSlice(dst, x, appendString)
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth < maxFastDepth {
			dst = append(dst, '[')
			for i, e := range x {
				if i > 0 {
					dst = append(dst, ',')
				}
				var err error
				if dst, err = appendValueDepth(dst, e, depth+1); err != nil {
					return dst, err
				}
			}
			return append(dst, ']'), nil
		}
	}
	return appendStd(dst, v)
}

// appendSlice appends xs as an array, or null when it is nil, each element
// appended by elem.
func appendSlice[E any](dst []byte, xs []E, elem func([]byte, E) ([]byte, error)) ([]byte, error) {
	if xs == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	for i, e := range xs {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = elem(dst, e); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func appendInt64(dst []byte, x int64) ([]byte, error) { return strconv.AppendInt(dst, x, 10), nil }

func appendFloat64(dst []byte, f float64) ([]byte, error) { return appendFloat(dst, f, 64) }

func appendString(dst []byte, s string) ([]byte, error) { return appendQuoted(dst, s), nil }

// appendFloat writes f as encoding/json does: the shortest decimal that reads
// back as the same float, in exponent form only below 1e-6 and from 1e21,
// with the exponent unpadded (1e-7, not 1e-07).
func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, unencodable(strconv.FormatFloat(f, 'g', -1, bits))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		// float32 values are compared as float32, so that the cut-offs fall
		// where float32 rounding puts them.
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// strconv pads the exponent to two digits: e-07 becomes e-7.
		if k := len(dst); k-n >= 4 && dst[k-4] == 'e' && dst[k-3] == '-' && dst[k-2] == '0' {
			dst[k-2] = dst[k-1]
			dst = dst[:k-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// plain marks the ASCII bytes that a JSON string holds as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendQuoted appends s as a JSON string, escaped as encoding/json escapes
// it without HTML escaping: quote, backslash and control characters, U+2028
// and U+2029 (which break JavaScript), and invalid UTF-8 as U+FFFD.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// sliceWriter is an io.Writer that appends to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// stdEncoder is a json.Encoder with HTML escaping off, bound to a
// sliceWriter; pooled, because an Encoder cannot be pointed at a new writer.
type stdEncoder struct {
	w   sliceWriter
	enc *stdjson.Encoder
}

var stdEncoders = sync.Pool{New: func() any {
	e := &stdEncoder{}
	e.enc = stdjson.NewEncoder(&e.w)
	e.enc.SetEscapeHTML(false)
	return e
}}

// appendStd appends v as encoding/json encodes it, without HTML escaping.
func appendStd(dst []byte, v any) ([]byte, error) {
	e := stdEncoders.Get().(*stdEncoder)
	e.w.b = dst
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil // the pool must not keep the caller's buffer
	stdEncoders.Put(e)
	if err != nil {
		return dst, stdEncodeError(err)
	}
	return out[:len(out)-1], nil // Encode ends each value with a newline
}

// unencodable is the error of a number that JSON has no form for.
func unencodable(num string) error {
	return &wire.ValueError{Msg: num + " cannot be encoded: JSON has no representation for it"}
}

// stdEncodeError words an error of encoding/json in the protocol's terms,
// without the Go types it names.
func stdEncodeError(err error) error {
	var ve *stdjson.UnsupportedValueError
	var te *stdjson.UnsupportedTypeError
	var me *stdjson.MarshalerError
	switch {
	case errors.As(err, &ve) && strings.HasPrefix(ve.Str, "encountered a cycle"):
		return &wire.ValueError{Msg: "a cyclic value cannot be encoded", Err: err}
	case errors.As(err, &ve):
		e := unencodable(ve.Str).(*wire.ValueError)
		e.Err = err
		return e
	case errors.As(err, &te):
		msg := "a value of an unsupported type cannot be encoded"
		if p := wire.PlanOf(te.Type); p.Kind == wire.KindUnsupported {
			msg = p.Unsupported().Error()
		}
		return &wire.ValueError{Msg: msg, Err: err}
	case errors.As(err, &me):
		return &wire.ValueError{Msg: me.Unwrap().Error(), Err: err}
	}
	return err
}
