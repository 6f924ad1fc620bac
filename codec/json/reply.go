package json

import (
	"errors"
	"math"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// DecodeReply decodes one JSON-RPC reply from msg into r, in either dialect:
// a JSON-RPC 1.0 reply carries "error": null beside its result. r.ID.Raw is
// the id as sent (a slice of msg) and r.ID.Seq its value when it is a whole
// number; a null id leaves both zero. r.Result refers to msg and decodes
// with the same exact integers as params. An error member that is not null
// becomes r.Error, its data decoded into natural Go types; an error that is
// not a JSON-RPC error object with an integer code is kept whole as the Data
// of a CodeServerError. A "meta" member becomes r.Meta (nil for {} or
// null; see DecodeRequest).
// A reply with neither result nor error, a "meta" that DecodeRequest would
// refuse, or a reply that is not valid JSON, is an error.
func (c *Codec) DecodeReply(msg []byte, r *wire.Reply) error {
	*r = wire.Reply{}
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		if err := c.validate(msg, i); err != nil {
			return err
		}
		return errors.New("json: a reply must be an object")
	}
	var env envelope
	if err := c.scanEnvelope(msg, i, &env); err != nil {
		return c.replyError(err)
	}
	if env.jsonrpc.end != 0 && string(msg[env.jsonrpc.off:env.jsonrpc.end]) != `"2.0"` &&
		(msg[env.jsonrpc.off] != '"' || unquote(msg[env.jsonrpc.off:env.jsonrpc.end]) != "2.0") {
		return errors.New(`json: reply with a jsonrpc member other than "2.0"`)
	}
	if id := env.id; id.end != 0 && msg[id.off] != 'n' {
		r.ID.Raw = msg[id.off:id.end:id.end]
		if ch := msg[id.off]; ch == '-' || isDigit(ch) {
			if neg, mag, ok := wholeNumber(msg[id.off:id.end]); ok && !neg {
				r.ID.Seq = mag
			}
		}
	}
	if env.meta.end != 0 {
		var e wire.Entries
		if err := decodeMeta(msg, env.meta, &e); err != nil {
			return errors.New("json: the reply's meta: " + err.Error())
		}
		r.Meta = e.MD()
	}
	if e := env.errObj; e.end != 0 && msg[e.off] != 'n' {
		r.Error = decodeError(msg[e.off:e.end])
		return nil
	}
	if env.result.end == 0 {
		return errors.New("json: a reply needs a result or an error")
	}
	r.Result = value(msg[env.result.off:env.result.end:env.result.end])
	return nil
}

// validate checks the whole of msg from i, so that a reply that is not an
// object is reported as malformed when it is.
func (c *Codec) validate(msg []byte, i int) error {
	end, err := skipValue(msg, i, c.maxDepth)
	if err == nil {
		err = trailing(msg, end)
	}
	return c.replyError(err)
}

// decodeError decodes the valid JSON value of a reply's error member.
func decodeError(raw []byte) *wire.Error {
	nb := nat.New(len(raw), nat.Factor)
	v, err := decodeNatural(raw, &nb)
	if err != nil { // values too many for their size: raw has been validated
		return &wire.Error{Code: wire.CodeServerError, Message: "server error that cannot be decoded: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		msg, _ := v.(string)
		if msg == "" {
			msg = string(raw)
		}
		return &wire.Error{Code: wire.CodeServerError, Message: msg, Data: v}
	}
	msg, _ := m["message"].(string)
	code, ok := m["code"].(int64)
	if !ok || code < math.MinInt32 || code > math.MaxInt32 {
		if msg == "" {
			msg = string(raw)
		}
		return &wire.Error{Code: wire.CodeServerError, Message: msg, Data: v}
	}
	return &wire.Error{Code: int(code), Message: msg, Data: m["data"]}
}

// value is an encoded result, decoded once the caller says into what.
type value []byte

// Decode decodes the result into dst, a non-nil pointer, with the codec's
// exact integers. Natural values too many for the result's size are an
// error, which is not an *wire.Error: the server did not send it.
func (v value) Decode(dst any) error {
	nb := nat.New(len(v), nat.Factor)
	return decodeValue(v, dst, &nb)
}
