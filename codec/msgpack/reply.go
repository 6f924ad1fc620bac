package msgpack

import (
	"errors"
	"fmt"
	"math"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// DecodeReply decodes one MessagePack-RPC response, [1, msgid, error,
// result], or [1, msgid, error, result, meta] with the reply's metadata in
// r.Meta (refused as DecodeRequest refuses a request's), from msg into r.
// r.ID.Raw is the msgid as sent (a slice of msg)
// and r.ID.Seq its value when it is a non-negative integer. r.Result refers
// to msg. An error that is not nil becomes r.Error:
//
//   - a map with an integer "code" and a string "message", as this
//     package's servers send, becomes that code and message, with the
//     map's "data" as Data;
//   - a string (or bin), as many other msgpack-rpc servers send, becomes a
//     CodeServerError with that message;
//   - anything else becomes a CodeServerError with the value as Data.
//
// Data holds natural Go values. A reply that is not valid MessagePack, or
// not a response, is an error, and it is not an *wire.Error, so that a
// client does not mistake its own failure to read a reply for an error the
// server reported.
func (c *Codec) DecodeReply(msg []byte, r *wire.Reply) error {
	*r = wire.Reply{}
	var env envelope
	if err := c.scanEnvelope(msg, &env, false); err != nil {
		return c.replyError(err)
	}
	if !env.array || env.n != 4 && env.n != 5 {
		return errors.New("msgpack: a reply must be an array of 4, [1, msgid, error, result], or 5, with metadata")
	}
	if typ, ok := intAt(msg, env.elems[0]); !ok || typ != typeResponse {
		return errors.New("msgpack: a reply must start with the type 1")
	}
	id := env.elems[1]
	var h head
	if _ = readHead(msg, id.off, &h); h.kind != kindNil {
		r.ID.Raw = id.of(msg)
		switch {
		case h.kind == kindInt && h.i >= 0:
			r.ID.Seq = uint64(h.i)
		case h.kind == kindUint:
			r.ID.Seq = h.u
		}
	}
	if env.n == 5 {
		var e wire.Entries
		if err := decodeMeta(msg, env.elems[4], &e); err != nil {
			return errors.New("msgpack: the reply's meta: " + err.Error())
		}
		r.Meta = e.MD()
	}
	if e := env.elems[2]; msg[e.off] != fmtNil {
		r.Error = decodeError(msg[e.off:e.end])
		return nil
	}
	r.Result = value(env.elems[3].of(msg))
	return nil
}

// decodeError decodes the validated error element of a response.
func decodeError(raw []byte) *wire.Error {
	nb := nat.New(len(raw), nat.MsgpackFactor)
	v, _, err := decodeNatural(raw, 0, &nb)
	if err != nil {
		return &wire.Error{Code: wire.CodeServerError, Message: "server error that cannot be decoded: " + err.Error()}
	}
	switch x := v.(type) {
	case string:
		return &wire.Error{Code: wire.CodeServerError, Message: x}
	case []byte:
		return &wire.Error{Code: wire.CodeServerError, Message: string(x)}
	case map[string]any:
		msg, _ := x["message"].(string)
		code, ok := x["code"].(int64)
		if ok && code >= math.MinInt32 && code <= math.MaxInt32 {
			return &wire.Error{Code: int(code), Message: msg, Data: x["data"]}
		}
		if msg != "" {
			return &wire.Error{Code: wire.CodeServerError, Message: msg, Data: v}
		}
	}
	return &wire.Error{Code: wire.CodeServerError, Message: "server error: " + excerpt(fmt.Sprint(v)), Data: v}
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// value is an encoded result, decoded once the caller says into what.
type value []byte

// Decode decodes the result into dst, a non-nil pointer, by the rules of
// params. Natural values too many for the result's size fail with a
// *nat.LimitError, which is not an *wire.Error: the server did not send it.
func (v value) Decode(dst any) error {
	nb := nat.New(len(v), nat.MsgpackFactor)
	return decodeValue(v, dst, &nb)
}
