package proto

import (
	"fmt"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// DecodeReply decodes one Response from msg into r, validating all of it as
// DecodeRequest validates a request. r.ID.Seq is the id and r.ID.Raw its
// varint's encoding; the entries of meta, r.Meta, refused as DecodeRequest
// refuses a request's. An error field becomes r.Error, with its data decoded
// into natural Go types as wire.Error.Data promises; when the error has no
// data but details, Data holds the details' messages instead: one
// proto.Message, or a []proto.Message for several (at most 64; a reply
// with more is hostile, and the rest are dropped). A detail whose type is
// not linked into the program (not in protoregistry.GlobalTypes) stays an
// *anypb.Any. Otherwise r.Result refers to msg and decodes like a param; a
// reply with neither result nor error has a null result. A malformed reply
// is a plain error, not an *wire.Error, so that a client does not mistake its
// failure to read a reply for an error the server reported.
func (c *Codec) DecodeReply(msg []byte, r *wire.Reply) error {
	*r = wire.Reply{}
	v := validator{maxDepth: c.maxDepth}
	var result, errMsg wireMsg
	var f field
	nMeta, metaAt := 0, 0
	for b := msg; len(b) > 0; {
		n := readField(b, &f)
		if n < 0 {
			return replyError(wireError(n))
		}
		b = b[n:]
		if f.typ == protowire.VarintType && f.num == fResponseID {
			r.ID = wire.ID{Raw: f.raw, Seq: f.u}
			continue
		}
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fResponseResult:
			if err := v.value(f.raw, 1); err != nil {
				return replyError(err)
			}
			if !result.present() { // later occurrences merge
				result = occurrence(f.raw, b, fResponseResult)
			}
		case fResponseError:
			if err := v.errorMsg(f.raw); err != nil {
				return replyError(err)
			}
			if !errMsg.present() {
				errMsg = occurrence(f.raw, b, fResponseError)
			}
		case fResponseMeta:
			if err := strEntry(f.raw); err != nil {
				return replyError(err)
			}
			if nMeta == 0 {
				metaAt = len(msg) - len(b) - n
			}
			nMeta++
		}
	}
	if nMeta > 0 {
		var e wire.Entries
		if err := decodeMeta(msg, metaAt, nMeta, fResponseMeta, &e); err != nil {
			return fmt.Errorf("proto: the reply's meta: %w", err)
		}
		r.Meta = e.MD()
	}
	if errMsg.present() {
		r.Error = c.decodeError(&errMsg, len(msg))
		return nil
	}
	r.Result = &replyResult{c: c, m: result, size: len(msg)}
	return nil
}

func replyError(err error) error {
	if _, ok := err.(*wire.DepthError); ok {
		return err
	}
	return fmt.Errorf("proto: malformed reply: %w", err)
}

// replyResult is the result of a reply, decoded once the caller says into what.
type replyResult struct {
	c    *Codec
	m    wireMsg
	size int        // the reply's
	nat  nat.Budget // of the call of Decode under way
}

// Decode decodes the result into dst, a non-nil pointer. Natural values too
// many for the reply's size are an error, which is not an *wire.Error: the
// server did not send it.
func (r *replyResult) Decode(dst any) error {
	k := kindOf(&r.m)
	r.nat = nat.New(r.size, nat.Factor)
	return r.c.decodeValue(&k, dst, &r.nat)
}

// maxDetails is how many of an error's details a client decodes; a reply
// with more is hostile, and the rest are dropped.
const maxDetails = 64

// decodeError decodes a validated Error from a reply of size bytes. Data
// whose natural values are too many for that size is left out, and the
// message says so.
func (c *Codec) decodeError(m *wireMsg, size int) *wire.Error {
	e := &wire.Error{}
	var message []byte
	var details [maxDetails][]byte
	n := 0
	var f field
	for it := m.fields(); it.next(&f); {
		switch {
		case f.num == fErrorCode && f.typ == protowire.VarintType:
			x := protowire.DecodeZigZag(f.u)
			if int64(int(x)) != x {
				x = int64(wire.CodeServerError) // beyond a 32-bit int
			}
			e.Code = int(x)
		case f.typ != protowire.BytesType:
		case f.num == fErrorMessage:
			message = f.raw
		case f.num == fErrorDetails && n < maxDetails:
			details[n] = f.raw
			n++
		}
	}
	e.Message = string(message)
	data := m.sub(fErrorData)
	switch {
	case data.present():
		k := kindOf(&data)
		nb := nat.New(size, nat.Factor)
		x, err := natural(&k, &nb)
		if err != nil {
			e.Message += " (error data left out: " + err.Error() + ")"
		}
		e.Data = x
	case n == 1:
		e.Data = c.detail(details[0])
	case n > 1:
		ms := make([]pb.Message, n)
		for i, d := range details[:n] {
			ms[i] = c.detail(d)
		}
		e.Data = ms
	}
	return e
}

// detail decodes a google.protobuf.Any into a message of its type when the
// program has that type, else into an *anypb.Any.
func (c *Codec) detail(b []byte) pb.Message {
	var url string
	var value []byte
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			break
		}
		b = b[n:]
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fAnyTypeURL:
			url = string(f.raw)
		case fAnyValue:
			value = f.raw
		}
	}
	if mt, err := protoregistry.GlobalTypes.FindMessageByURL(url); err == nil {
		m := mt.New().Interface()
		if c.unmarshal(value, m) == nil {
			return m
		}
	}
	return &anypb.Any{TypeUrl: url, Value: append([]byte{}, value...)}
}
