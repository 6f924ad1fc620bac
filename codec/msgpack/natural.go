package msgpack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
)

// decodeNatural decodes the validated value at b[i] into natural Go values
// and returns the offset after it: nil, bool, int64 (uint64 only beyond
// int64), float64, string for str, []byte for bin, time.Time for the
// timestamp extension, []any and map[string]any. A map with a key that is
// not a str, and an extension other than a timestamp, are errors. Every
// value is charged to nb, arrays and maps with their elements before they
// are made, and a value that nb cannot pay for fails with a
// *nat.LimitError. The recursion is bounded by the depth limit that skim
// enforced.
func decodeNatural(b []byte, i int, nb *nat.Budget) (any, int, error) {
	var h head
	err := readHead(b, i, &h)
	if err != nil {
		return nil, i, err
	}
	var v any
	cost := 0
	switch h.kind {
	case kindNil:
		v = nil
	case kindBool:
		v = h.bool
	case kindInt:
		v, cost = h.i, nat.Int(h.i)
	case kindUint:
		v, cost = h.u, nat.Uint(h.u)
	case kindFloat32, kindFloat64:
		v, cost = h.f, nat.Uint(math.Float64bits(h.f))
	case kindStr:
		if !nb.Take(nat.String(h.n)) {
			return nil, i, nb.Err("msgpack")
		}
		return string(b[h.off:h.end()]), h.end(), nil
	case kindBin:
		if !nb.Take(nat.Bytes(h.n)) {
			return nil, i, nb.Err("msgpack")
		}
		return bytes.Clone(b[h.off:h.end()]), h.end(), nil
	case kindExt:
		if h.ext != extTimestamp {
			return nil, i, extError(h.ext)
		}
		if !nb.Take(nat.SliceHeader) {
			return nil, i, nb.Err("msgpack")
		}
		t, err := decodeTimestamp(b[h.off:h.end()])
		return t, h.end(), err
	case kindArray:
		// The elements are counted here, and charged their own costs as
		// they are decoded.
		if !nb.Container(h.n, nat.Array(h.n)) {
			return nil, i, nb.Err("msgpack")
		}
		a := make([]any, h.n)
		j := h.off
		for k := range a {
			if a[k], j, err = decodeNatural(b, j, nb); err != nil {
				return nil, j, err
			}
		}
		return a, j, nil
	default: // kindMap
		// Made for all its entries, which skim has seen: the budget has
		// paid for them. (A key given twice takes a slot it does not use.)
		if !nb.Container(h.n, nat.Map(h.n)) {
			return nil, i, nb.Err("msgpack")
		}
		m := make(map[string]any, h.n)
		j := h.off
		for range h.n {
			key, next, err := mapKey(b, j)
			if err != nil {
				return nil, j, err
			}
			var v any
			if v, j, err = decodeNatural(b, next, nb); err != nil {
				return nil, j, err
			}
			if !nb.TakeN(0, nat.Key(len(key))) {
				return nil, j, nb.Err("msgpack")
			}
			m[key] = v
		}
		return m, j, nil
	}
	if !nb.Take(cost) {
		return nil, i, nb.Err("msgpack")
	}
	return v, h.off, nil
}

// mapKey decodes the validated map key at b[i], which must be a str, and
// returns the offset of its value.
func mapKey(b []byte, i int) (string, int, error) {
	var h head
	err := readHead(b, i, &h)
	if err != nil {
		return "", i, err
	}
	if h.kind != kindStr {
		return "", i, fmt.Errorf("msgpack: map key is %s %s; only string keys are supported", article(h.kind), h.kind)
	}
	return string(b[h.off:h.end()]), h.end(), nil
}

func article(k kind) string {
	switch k {
	case kindInt, kindUint, kindExt, kindArray:
		return "an"
	}
	return "a"
}

func extError(ext int8) error {
	return fmt.Errorf("msgpack: extension type %d has no Go value; only timestamps (type -1) decode", ext)
}

// decodeTimestamp decodes the payload of a timestamp extension in any of
// its three sizes. A timestamp is an instant; it decodes in UTC.
func decodeTimestamp(p []byte) (time.Time, error) {
	var sec int64
	var nsec uint64
	switch len(p) {
	case 4:
		sec = int64(binary.BigEndian.Uint32(p))
	case 8:
		d := binary.BigEndian.Uint64(p)
		sec, nsec = int64(d&(1<<34-1)), d>>34
	case 12:
		nsec = uint64(binary.BigEndian.Uint32(p))
		sec = int64(binary.BigEndian.Uint64(p[4:]))
	default:
		return time.Time{}, fmt.Errorf("msgpack: timestamp of %d bytes; want 4, 8 or 12", len(p))
	}
	if nsec > 999999999 {
		return time.Time{}, fmt.Errorf("msgpack: timestamp with %s nanoseconds", strconv.FormatUint(nsec, 10))
	}
	return time.Unix(sec, int64(nsec)).UTC(), nil
}
