package json

import (
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// AppendResponse appends the encoded response to dst: in JSON-RPC 2.0
//
//	{"jsonrpc":"2.0","result":...,"id":...}
//	{"jsonrpc":"2.0","error":{"code":-32601,"message":"...","data":...},"id":...}
//
// and, for a Dialect1 request, in JSON-RPC 1.0, where both members are
// present and one of them is null:
//
//	{"result":...,"error":null,"id":...}
//	{"result":null,"error":{"code":-32601,"message":"..."},"id":...}
//
// The id is resp.ID.Raw verbatim, or null. resp.Meta, when not empty and
// the request carried a "meta" member (DialectMeta), follows the id as a
// member "meta", an object of strings in key order. "data" is left out when nil. The
// result and the error data are encoded with encoding/json's rules, without
// HTML escaping. A value JSON cannot carry (NaN, an infinity, a channel)
// makes it return an error with dst unchanged in length.
func (c *Codec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	n := len(dst)
	v1 := resp.Dialect&^DialectMeta == Dialect1
	var err error
	if resp.Error != nil {
		if v1 {
			dst = append(dst, `{"result":null,"error":`...)
		} else {
			dst = append(dst, `{"jsonrpc":"2.0","error":`...)
		}
		start := len(dst)
		dst, err = appendError(dst, resp.Error)
		if err == nil {
			err = c.checkDepth(dst[start:])
		}
	} else {
		if v1 {
			dst = append(dst, `{"result":`...)
		} else {
			dst = append(dst, `{"jsonrpc":"2.0","result":`...)
		}
		start := len(dst)
		dst, err = appendValue(dst, resp.Result)
		if err == nil {
			err = c.checkDepth(dst[start:])
		}
		if v1 {
			dst = append(dst, `,"error":null`...)
		}
	}
	if err != nil {
		return dst[:n], err
	}
	dst = append(dst, `,"id":`...)
	if len(resp.ID.Raw) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, resp.ID.Raw...)
	}
	if resp.Dialect&DialectMeta != 0 && len(resp.Meta) > 0 {
		dst = appendMeta(dst, resp.Meta, nil)
	}
	return append(dst, '}'), nil
}

// checkDepth refuses to send a value nested deeper than the codec reads:
// its own clients, and peers with the same limit, could not read the reply.
func (c *Codec) checkDepth(value []byte) error {
	if _, err := skipValue(value, 0, c.maxDepth); err == errTooDeep {
		return c.depthError()
	}
	return nil
}

// appendError appends a JSON-RPC error object.
func appendError(dst []byte, e *wire.Error) ([]byte, error) {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendQuoted(dst, e.Message)
	if e.Data != nil {
		dst = append(dst, `,"data":`...)
		var err error
		if dst, err = appendValue(dst, e.Data); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}
