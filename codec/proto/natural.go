package proto

import (
	"math"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"google.golang.org/protobuf/encoding/protowire"
)

// natural returns the value k holds in natural Go types, the types a value
// decoded into an interface gets: nil, bool, int64, uint64 (above the int64
// range only), float64, string, []byte (for bytes and message values),
// time.Time, []any and map[string]any. Every value is charged to nb, lists
// and maps with their elements before they are made, and a value that nb
// cannot pay for fails with a *nat.LimitError. The recursion is bounded by
// the depth limit that the value was validated with.
func natural(k *kind, nb *nat.Budget) (any, error) {
	var v any
	cost := 0
	switch k.num {
	case fBool:
		v = k.u != 0
	case fInt:
		x := protowire.DecodeZigZag(k.u)
		v, cost = x, nat.Int(x)
	case fUint:
		if k.u <= math.MaxInt64 {
			v = int64(k.u)
		} else {
			v = k.u
		}
		cost = nat.Uint(k.u)
	case fDouble:
		v, cost = math.Float64frombits(k.u), nat.Uint(k.u)
	case fString:
		if !nb.Take(nat.String(len(k.bytes()))) {
			return nil, nb.Err("proto")
		}
		return string(k.bytes()), nil
	case fBytes, fMessage:
		if !nb.Take(nat.Bytes(len(k.bytes()))) {
			return nil, nb.Err("proto")
		}
		return append([]byte{}, k.bytes()...), nil
	case fTime:
		v, cost = timeOf(&k.m), nat.SliceHeader
	case fList, fIntList, fDoubleList:
		l, err := naturalList(k, nb)
		if err != nil {
			return nil, err
		}
		return l, nil
	case fMap:
		m, err := naturalMap(k, nil, nb)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	if !nb.Take(cost) {
		return nil, nb.Err("proto")
	}
	return v, nil // null, or no kind set, is nil
}

// naturalList returns the natural value of a list kind: an []any made for
// exactly its elements.
func naturalList(k *kind, nb *nat.Budget) ([]any, error) {
	n := count(k)
	if !nb.Container(n, nat.Array(n)) {
		return nil, nb.Err("proto")
	}
	out := make([]any, 0, n)
	l := elemsOf(k)
	var e kind
	for l.next(&e) {
		x, err := natural(&e, nb)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// naturalMap returns the natural value of a map kind: m filled with its
// entries when m is not nil, else a map made for all its entries. (Entries
// that repeat a key take slots they do not use; the budget has paid for
// them.)
func naturalMap(k *kind, m map[string]any, nb *nat.Budget) (map[string]any, error) {
	n := countEntries(k)
	if !nb.Container(n, nat.Map(n)) {
		return nil, nb.Err("proto")
	}
	if m == nil {
		m = make(map[string]any, n)
	}
	es := entriesOf(k)
	var key []byte
	var val wireMsg
	var e kind
	for es.next(&key, &val) {
		e = kindOf(&val)
		x, err := natural(&e, nb)
		if err != nil {
			return nil, err
		}
		if !nb.TakeN(0, nat.Key(len(key))) {
			return nil, nb.Err("proto")
		}
		m[string(key)] = x
	}
	return m, nil
}

// kindName names what k holds, for error messages.
func kindName(k *kind) string {
	switch k.num {
	case fBool:
		return "boolean"
	case fInt, fUint:
		return "integer"
	case fDouble:
		return "double"
	case fString:
		return "string"
	case fBytes:
		return "bytes"
	case fTime:
		return "time"
	case fList, fIntList, fDoubleList:
		return "list"
	case fMap:
		return "map"
	case fMessage:
		return "message"
	}
	return "null"
}
