package proto

import (
	"fmt"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/codec/internal/mdwire"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// The tags of Request's fields.
const (
	tagParams       = byte(fRequestParams<<3) | byte(protowire.BytesType)
	tagNamed        = byte(fRequestNamed<<3) | byte(protowire.BytesType)
	tagNotification = byte(fRequestNotification<<3) | byte(protowire.VarintType)
)

// AppendCall appends a Request to dst: the id (call.ID.Seq; left out for a
// notification), the method, the params and the notification flag, in
// field-number order, then the metadata, call.Meta with call.Entries over
// it, as the entries of meta in key order (an error when a key or value is
// not UTF-8). call.Args go as positional
// params, each a Value;
// call.Named, when not nil, goes as named params instead and must be a map
// with string keys or a struct (a nil map or pointer sends an empty named
// Map). A proto.Message param goes as a message_value. On error, dst is
// returned unchanged in length.
func (c *Codec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	n := len(dst)
	if !call.Notification && call.ID.Seq != 0 {
		dst = protowire.AppendVarint(append(dst, tagRequestID), call.ID.Seq)
	}
	if call.Method != "" {
		if !utf8.ValidString(call.Method) {
			return dst[:n], fmt.Errorf("proto: method name is not valid UTF-8")
		}
		dst = protowire.AppendString(append(dst, tagRequestMethod), call.Method)
	}
	var err error
	if call.Named != nil {
		dst, err = c.appendNamed(dst, call.Named)
	} else {
		for i, a := range call.Args {
			var p int
			dst, p = openLen(dst, tagParams)
			if dst, err = c.appendValue(dst, a, 1, 0); err != nil {
				err = fmt.Errorf("param %d: %w", i+1, err)
				break
			}
			dst = closeLen(dst, p)
		}
	}
	if err != nil {
		return dst[:n], err
	}
	if call.Notification {
		dst = append(dst, tagNotification, 1)
	}
	if mdwire.Has(call.Meta, call.Entries) {
		if dst, err = appendMeta(dst, tagRequestMeta, call.Meta, call.Entries, true); err != nil {
			return dst[:n], err
		}
	}
	return dst, nil
}

// appendNamed appends the named field: x encoded as a Value at level 0, so
// that its entries are at level 1, must come out as a map_value or null,
// whose tag is then rewritten to the named field's.
func (c *Codec) appendNamed(dst []byte, x any) ([]byte, error) {
	start := len(dst)
	dst, err := c.appendValue(dst, x, 0, 0)
	switch {
	case err != nil:
		return dst, err
	case dst[start] == tagMap:
		dst[start] = tagNamed
		return dst, nil
	case dst[start] == tagNull:
		return append(dst[:start], tagNamed, 0), nil
	}
	return dst, fmt.Errorf("proto: named params must be a map with string keys or a struct, not %T", x)
}

// EncodesEntries implements wire.EntriesEncoder: AppendCall encodes
// wire.Call.Entries.
func (c *Codec) EncodesEntries() bool { return true }
