package msgpack

import (
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// AppendResponse appends the encoded response to dst:
//
//	[1, msgid, nil, result]
//	[1, msgid, {"code": -32601, "message": "...", "data": ...}, nil]
//
// The msgid is resp.ID.Raw verbatim, or nil when the request's could not be
// read (or when resp.ID.Raw is not one MessagePack value). resp.Meta, when
// not empty and the request carried metadata (DialectMeta), follows as a
// fifth element, a map of str to str in key order:
//
//	[1, msgid, nil, result, {"key": "value", ...}]
//
// "data" is left out when nil. A result or error data that cannot be
// encoded (a channel, a map with keys that are not strings, a value nested
// deeper than the depth limit) makes it return an error with dst unchanged
// in length.
func (c *Codec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	n := len(dst)
	withMeta := resp.Dialect&DialectMeta != 0 && len(resp.Meta) > 0
	if withMeta {
		dst = append(dst, fmtFixarray|5, typeResponse)
	} else {
		dst = append(dst, fmtFixarray|4, typeResponse)
	}
	if id := resp.ID.Raw; len(id) > 0 && c.isValue(id) {
		dst = append(dst, id...)
	} else {
		dst = append(dst, fmtNil)
	}
	var err error
	if resp.Error != nil {
		dst, err = appendError(dst, resp.Error, c.maxDepth-2)
		dst = append(dst, fmtNil)
	} else {
		dst = append(dst, fmtNil)
		dst, err = appendValue(dst, resp.Result, c.maxDepth-1)
	}
	if err == nil && withMeta {
		dst, err = appendMeta(dst, resp.Meta, nil)
	}
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// isValue reports whether b is exactly one valid value, as a msgid taken
// from a request always is: a response never carries bytes that would make
// it malformed.
func (c *Codec) isValue(b []byte) bool {
	var h head
	err := readHead(b, 0, &h)
	switch {
	case err != nil:
		return false
	case h.kind == kindArray || h.kind == kindMap:
		end, err := skim(b, 0, c.maxDepth-1)
		return err == nil && end == len(b)
	}
	return valueEnd(b, 0, &h) == len(b)
}

// appendError appends the error map; its data may open budget levels.
func appendError(dst []byte, e *wire.Error, budget int) ([]byte, error) {
	if e.Data == nil {
		dst = append(dst, fmtFixmap|2)
	} else {
		dst = append(dst, fmtFixmap|3)
	}
	dst = append(dst, fmtFixstr|4, 'c', 'o', 'd', 'e')
	dst = appendInt(dst, int64(e.Code))
	dst = append(dst, fmtFixstr|7, 'm', 'e', 's', 's', 'a', 'g', 'e')
	dst, err := appendStr(dst, e.Message)
	if err != nil || e.Data == nil {
		return dst, err
	}
	dst = append(dst, fmtFixstr|4, 'd', 'a', 't', 'a')
	return appendValue(dst, e.Data, budget)
}
