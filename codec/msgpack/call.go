package msgpack

import (
	"errors"

	"github.com/polyrpc/polyrpc/codec/internal/mdwire"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// AppendCall appends a MessagePack-RPC request or notification to dst:
//
//	[0, msgid, "method", [params...]]
//	[2, "method", [params...]]
//
// where the msgid is call.ID.Seq as an unsigned integer. The metadata,
// call.Meta with call.Entries over it, when not empty, follows the params
// as one more element, a map of str to str in key order:
//
//	[0, msgid, "method", [params...], {"key": "value", ...}]
//	[2, "method", [params...], {"key": "value", ...}]
//
// Without it the message is as the specification has it. call.Named, when
// not nil, is sent as a params map (an extension of the specification that
// this package's servers accept) and must encode as one: a map with string
// keys or a struct; a nil map or pointer sends an empty map. Otherwise
// call.Args are sent as the params array, empty when there are none, since
// the specification requires params. On error, dst is returned unchanged
// in length.
func (c *Codec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	n := len(dst)
	withMeta := byte(0)
	if mdwire.Has(call.Meta, call.Entries) && !c.noCallMeta {
		withMeta = 1
	}
	if call.Notification {
		dst = append(dst, fmtFixarray|3+withMeta, typeNotification)
	} else {
		dst = append(dst, fmtFixarray|4+withMeta, typeRequest)
		dst = appendUint(dst, call.ID.Seq)
	}
	dst, err := appendStr(dst, call.Method)
	if err == nil {
		dst, err = c.appendParams(dst, call)
	}
	if err == nil && withMeta != 0 {
		dst, err = appendMeta(dst, call.Meta, call.Entries)
	}
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

func (c *Codec) appendParams(dst []byte, call *wire.Call) ([]byte, error) {
	budget := c.maxDepth - 1 // the params container's own level included
	if call.Named == nil {
		if budget < 1 {
			return dst, errDeep
		}
		dst = appendArrayHeader(dst, len(call.Args))
		for _, a := range call.Args {
			var err error
			if dst, err = appendValue(dst, a, budget-1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	start := len(dst)
	dst, err := appendValue(dst, call.Named, budget)
	switch {
	case err != nil:
		return dst, err
	case dst[start] == fmtNil:
		return append(dst[:start], fmtFixmap), nil
	case !isMap(dst[start]):
		return dst, errors.New("msgpack: named params must encode as a map, not " + kindAt(dst, start).String())
	}
	return dst, nil
}

// EncodesEntries implements wire.EntriesEncoder: AppendCall encodes
// wire.Call.Entries.
func (c *Codec) EncodesEntries() bool { return true }
