package json

import (
	"errors"
	"strconv"

	"github.com/polyrpc/polyrpc/codec/internal/mdwire"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// AppendCall appends a JSON-RPC 2.0 request to dst:
//
//	{"jsonrpc":"2.0","method":"m","params":[...],"id":7}
//
// where the id is call.ID.Seq. A notification has no id. The metadata,
// call.Meta with call.Entries over it, when not empty, follows as a member
// "meta", an object of strings in key order; without it the message is as
// it always was. call.Named, when not nil, is sent as a params object and
// must encode as one (a map with string keys, or a struct; a nil map or
// pointer sends {}). With neither Args nor Named, params are left out. On
// error, dst is returned unchanged in length.
func (c *Codec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	n := len(dst)
	dst = append(dst, `{"jsonrpc":"2.0","method":`...)
	dst = appendQuoted(dst, call.Method)
	var err error
	switch {
	case call.Named != nil:
		dst = append(dst, `,"params":`...)
		start := len(dst)
		if dst, err = appendValue(dst, call.Named); err != nil {
			break
		}
		switch {
		case string(dst[start:]) == "null":
			dst = append(dst[:start], "{}"...)
		case dst[start] != '{':
			err = errors.New("json: named params must encode as a JSON object, not " + kindName(dst[start:]))
		}
	case call.Args != nil:
		dst = append(dst, `,"params":[`...)
		for i, a := range call.Args {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendValue(dst, a); err != nil {
				break
			}
		}
		dst = append(dst, ']')
	}
	if err != nil {
		return dst[:n], err
	}
	if !call.Notification {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendUint(dst, call.ID.Seq, 10)
	}
	if mdwire.Has(call.Meta, call.Entries) {
		dst = appendMeta(dst, call.Meta, call.Entries)
	}
	return append(dst, '}'), nil
}

// EncodesEntries implements wire.EntriesEncoder: AppendCall encodes
// wire.Call.Entries.
func (c *Codec) EncodesEntries() bool { return true }
