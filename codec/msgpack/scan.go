package msgpack

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// This file reads MessagePack headers and validates whole values without
// trusting a single declared length: every str, bin, ext, array and map
// header is checked against the bytes that actually follow it before
// anything is allocated or decoded, and nesting is bounded without
// recursion. Everything else in the package decodes only bytes that passed
// skim.

// Format bytes of the MessagePack specification.
const (
	fmtPosFixintMax = 0x7f
	fmtFixmap       = 0x80
	fmtFixarray     = 0x90
	fmtFixstr       = 0xa0
	fmtNil          = 0xc0
	fmtReserved     = 0xc1
	fmtFalse        = 0xc2
	fmtTrue         = 0xc3
	fmtBin8         = 0xc4
	fmtBin16        = 0xc5
	fmtBin32        = 0xc6
	fmtExt8         = 0xc7
	fmtExt16        = 0xc8
	fmtExt32        = 0xc9
	fmtFloat32      = 0xca
	fmtFloat64      = 0xcb
	fmtUint8        = 0xcc
	fmtUint16       = 0xcd
	fmtUint32       = 0xce
	fmtUint64       = 0xcf
	fmtInt8         = 0xd0
	fmtInt16        = 0xd1
	fmtInt32        = 0xd2
	fmtInt64        = 0xd3
	fmtFixext1      = 0xd4
	fmtFixext2      = 0xd5
	fmtFixext4      = 0xd6
	fmtFixext8      = 0xd7
	fmtFixext16     = 0xd8
	fmtStr8         = 0xd9
	fmtStr16        = 0xda
	fmtStr32        = 0xdb
	fmtArray16      = 0xdc
	fmtArray32      = 0xdd
	fmtMap16        = 0xde
	fmtMap32        = 0xdf
	fmtNegFixintMin = 0xe0
)

// extTimestamp is the extension type of the specification's timestamps.
const extTimestamp = -1

// kind is the wire type of a value.
type kind uint8

const (
	kindNil kind = iota
	kindBool
	kindInt  // any integer within int64
	kindUint // an unsigned integer above math.MaxInt64
	kindFloat32
	kindFloat64
	kindStr
	kindBin
	kindExt
	kindArray
	kindMap
)

var kindNames = [...]string{
	kindNil:     "nil",
	kindBool:    "boolean",
	kindInt:     "integer",
	kindUint:    "integer",
	kindFloat32: "float",
	kindFloat64: "float",
	kindStr:     "string",
	kindBin:     "binary",
	kindExt:     "extension",
	kindArray:   "array",
	kindMap:     "map",
}

func (k kind) String() string { return kindNames[k] }

// head is a decoded value header.
type head struct {
	kind kind
	ext  int8 // the extension type of kindExt
	bool bool
	// off is where the payload (str, bin, ext) or the first element (array,
	// map) starts; for the other kinds, the offset after the value.
	off int
	// n is the payload length of str, bin and ext, the element count of an
	// array and the entry count of a map.
	n int
	i int64   // kindInt
	u uint64  // kindUint
	f float64 // kindFloat32, kindFloat64
}

// end is the offset after a value that is not an array or a map.
func (h *head) end() int { return h.off + h.n }

// headSize is the size of the fixed part of the value whose first byte is
// c: the format byte, any length and ext type, and the whole of a number.
// It is 0 for the reserved byte 0xc1.
var headSize = func() (t [256]uint8) {
	for c := range t {
		t[c] = 1
	}
	t[fmtReserved] = 0
	for c, n := range map[int]uint8{
		fmtBin8: 2, fmtBin16: 3, fmtBin32: 5,
		fmtExt8: 3, fmtExt16: 4, fmtExt32: 6,
		fmtFloat32: 5, fmtFloat64: 9,
		fmtUint8: 2, fmtUint16: 3, fmtUint32: 5, fmtUint64: 9,
		fmtInt8: 2, fmtInt16: 3, fmtInt32: 5, fmtInt64: 9,
		fmtFixext1: 2, fmtFixext2: 2, fmtFixext4: 2, fmtFixext8: 2, fmtFixext16: 2,
		fmtStr8: 2, fmtStr16: 3, fmtStr32: 5,
		fmtArray16: 3, fmtArray32: 5, fmtMap16: 3, fmtMap32: 5,
	} {
		t[c] = n
	}
	return t
}()

// errTooDeep reports nesting beyond a depth limit.
var errTooDeep = errors.New("msgpack: nested too deeply")

// syntaxError is malformed MessagePack at an offset.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return "msgpack: " + e.msg + " at offset " + strconv.Itoa(e.off)
}

func truncated(off int) error { return &syntaxError{"unexpected end of input", off} }

func errReserved(off int) error { return &syntaxError{"reserved byte 0xc1", off} }

// parseHead decodes the header at b[i] into h, of which it needs only the
// fixed part (headSize bytes): it does not check that a payload or the
// elements follow. h is filled in place rather than returned, which costs
// less than copying it back up through the callers.
func parseHead(b []byte, i int, h *head) error {
	if i >= len(b) {
		return truncated(i)
	}
	c := b[i]
	size := int(headSize[c])
	if size == 0 {
		return errReserved(i)
	}
	if size > len(b)-i {
		return truncated(len(b))
	}
	h.off = i + size
	p := b[i+1 : i+size] // the fixed part after the format byte
	switch {
	case c <= fmtPosFixintMax:
		h.kind, h.i = kindInt, int64(c)
		return nil
	case c >= fmtNegFixintMin:
		h.kind, h.i = kindInt, int64(int8(c))
		return nil
	case c < fmtFixarray:
		h.kind, h.n = kindMap, int(c&0x0f)
		return nil
	case c < fmtFixstr:
		h.kind, h.n = kindArray, int(c&0x0f)
		return nil
	case c < fmtNil:
		h.kind, h.n = kindStr, int(c&0x1f)
		return nil
	}
	var n uint64 // a declared length or count
	switch c {
	case fmtNil:
		h.kind = kindNil
		return nil
	case fmtFalse, fmtTrue:
		h.kind, h.bool = kindBool, c == fmtTrue
		return nil
	case fmtFloat32:
		h.kind, h.f = kindFloat32, float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
		return nil
	case fmtFloat64:
		h.kind, h.f = kindFloat64, math.Float64frombits(binary.BigEndian.Uint64(p))
		return nil
	case fmtUint8:
		h.kind, h.i = kindInt, int64(p[0])
		return nil
	case fmtUint16:
		h.kind, h.i = kindInt, int64(binary.BigEndian.Uint16(p))
		return nil
	case fmtUint32:
		h.kind, h.i = kindInt, int64(binary.BigEndian.Uint32(p))
		return nil
	case fmtUint64:
		if u := binary.BigEndian.Uint64(p); u > math.MaxInt64 {
			h.kind, h.u = kindUint, u
		} else {
			h.kind, h.i = kindInt, int64(u)
		}
		return nil
	case fmtInt8:
		h.kind, h.i = kindInt, int64(int8(p[0]))
		return nil
	case fmtInt16:
		h.kind, h.i = kindInt, int64(int16(binary.BigEndian.Uint16(p)))
		return nil
	case fmtInt32:
		h.kind, h.i = kindInt, int64(int32(binary.BigEndian.Uint32(p)))
		return nil
	case fmtInt64:
		h.kind, h.i = kindInt, int64(binary.BigEndian.Uint64(p))
		return nil
	case fmtBin8, fmtBin16, fmtBin32:
		h.kind, n = kindBin, beUint(p)
	case fmtStr8, fmtStr16, fmtStr32:
		h.kind, n = kindStr, beUint(p)
	case fmtArray16, fmtArray32:
		h.kind, n = kindArray, beUint(p)
	case fmtMap16, fmtMap32:
		h.kind, n = kindMap, beUint(p)
	case fmtExt8, fmtExt16, fmtExt32:
		h.kind, n, h.ext = kindExt, beUint(p[:len(p)-1]), int8(p[len(p)-1])
	case fmtFixext1, fmtFixext2, fmtFixext4, fmtFixext8, fmtFixext16:
		h.kind, n, h.ext = kindExt, 1<<(c-fmtFixext1), int8(p[0])
	}
	if n > math.MaxInt32 && strconv.IntSize == 32 {
		return &syntaxError{"a length beyond this platform's int", i}
	}
	h.n = int(n)
	return nil
}

// beUint decodes a big-endian unsigned integer of 1, 2 or 4 bytes.
func beUint(p []byte) uint64 {
	switch len(p) {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(p))
	}
	return uint64(binary.BigEndian.Uint32(p))
}

// readHead decodes the header at b[i] and checks that what it declares can
// follow in b: the whole payload of a str, bin or ext, and at least one
// byte for every element of an array and both halves of every map entry.
func readHead(b []byte, i int, h *head) error {
	if err := parseHead(b, i, h); err != nil {
		return err
	}
	rest := uint64(len(b) - h.off)
	switch h.kind {
	case kindStr, kindBin, kindExt, kindArray:
		if uint64(h.n) > rest {
			return beyondError(h, i, rest)
		}
	case kindMap:
		if 2*uint64(h.n) > rest {
			return beyondError(h, i, rest)
		}
	}
	return nil
}

// beyondError reports a length or count at b[i] that cannot fit in the
// rest bytes that follow its header. It is a function of its own so that
// the hot readHead stays small.
func beyondError(h *head, i int, rest uint64) error {
	what := " bytes"
	switch h.kind {
	case kindArray:
		what = " elements"
	case kindMap:
		what = " entries"
	}
	return &syntaxError{h.kind.String() + " of " + strconv.Itoa(h.n) + what +
		" but " + strconv.FormatUint(rest, 10) + " bytes follow", i}
}

// skim validates the value at b[i] and returns the offset after it. The
// value may open containers up to budget levels deep, itself included: with
// budget 0 it must be a scalar. skim keeps its own stack of element counts
// instead of recursing.
func skim(b []byte, i, budget int) (int, error) {
	var buf [16]int
	stack := buf[:0] // elements left in each enclosing container
	left := 1
	for {
		for left == 0 {
			if len(stack) == 0 {
				return i, nil
			}
			left = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		left--
		// The one-byte values and short strings that make up most
		// messages take a shortcut.
		if i < len(b) {
			switch c := b[i]; {
			case c <= fmtPosFixintMax || c >= fmtNegFixintMin || c == fmtNil || c == fmtFalse || c == fmtTrue:
				i++
				continue
			case c >= fmtFixstr && c < fmtNil && int(c&0x1f) < len(b)-i:
				i += 1 + int(c&0x1f)
				continue
			}
		}
		var h head
		err := readHead(b, i, &h)
		if err != nil {
			return i, err
		}
		switch h.kind {
		case kindStr, kindBin, kindExt:
			i = h.end()
		case kindArray, kindMap:
			if len(stack) >= budget {
				return i, errTooDeep
			}
			i = h.off
			n := h.n
			if h.kind == kindMap {
				n *= 2
			}
			if n > 0 {
				stack = append(stack, left)
				left = n
			}
		default:
			i = h.off
		}
	}
}

// skip returns the offset after the value at b[i], which skim has
// validated.
func skip(b []byte, i int) int {
	end, err := skim(b, i, math.MaxInt)
	if err != nil {
		// The caller's bytes were validated: this is a bug, not bad input.
		panic("msgpack: skip over unvalidated bytes: " + err.Error())
	}
	return end
}

// span is the bytes of one value: b[off:end].
type span struct{ off, end int }
