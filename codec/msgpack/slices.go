package msgpack

import (
	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// []int64, the commonest large param, is decoded and encoded here without
// reflection; any value that is not nil or an array of integers and nils
// goes to the reflective path, which says what is wrong.

// decodeInt64s decodes raw into *d as decodeReflect would.
func decodeInt64s(raw []byte, d *[]int64, nb *nat.Budget) error {
	var h head
	if err := readHead(raw, 0, &h); err != nil {
		return err
	}
	switch h.kind {
	case kindNil:
		*d = nil
		return nil
	case kindArray:
	default:
		return decodeReflectAll(raw, d, nb)
	}
	out := make([]int64, h.n)
	j := h.off
	for k := range out {
		var e head
		if err := readHead(raw, j, &e); err != nil {
			return wire.AtIndex(err, k)
		}
		switch e.kind {
		case kindInt:
			out[k] = e.i
		case kindNil:
		default:
			return decodeReflectAll(raw, d, nb)
		}
		j = e.off
	}
	*d = out
	return nil
}

// appendInt64s appends xs as an array, nil as nil.
func appendInt64s(dst []byte, xs []int64) []byte {
	if xs == nil {
		return append(dst, fmtNil)
	}
	dst = appendArrayHeader(dst, len(xs))
	for _, x := range xs {
		dst = appendInt(dst, x)
	}
	return dst
}
