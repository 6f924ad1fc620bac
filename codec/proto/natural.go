package proto

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// natural returns the value k holds in natural Go types, the types a value
// decoded into an interface gets: nil, bool, int64, uint64 (above the int64
// range only), float64, string, []byte (for bytes and message values),
// time.Time, []any and map[string]any. The recursion is bounded by the
// depth limit that the value was validated with.
func natural(k *kind) any {
	switch k.num {
	case fBool:
		return k.u != 0
	case fInt:
		return protowire.DecodeZigZag(k.u)
	case fUint:
		if k.u <= math.MaxInt64 {
			return int64(k.u)
		}
		return k.u
	case fDouble:
		return math.Float64frombits(k.u)
	case fString:
		return string(k.bytes())
	case fBytes, fMessage:
		return append([]byte{}, k.bytes()...)
	case fTime:
		return timeOf(&k.m)
	case fList, fIntList, fDoubleList:
		out := make([]any, 0, count(k))
		l := elemsOf(k)
		var e kind
		for l.next(&e) {
			out = append(out, natural(&e))
		}
		return out
	case fMap:
		out := make(map[string]any, mapHint(k))
		es := entriesOf(k)
		var key []byte
		var val wireMsg
		var e kind
		for es.next(&key, &val) {
			e = kindOf(&val)
			out[string(key)] = natural(&e)
		}
		return out
	}
	return nil // null, or no kind set
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
