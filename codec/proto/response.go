package proto

import (
	"fmt"
	"strings"

	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// The tags of Response's and Error's fields.
const (
	tagResponseID = byte(fResponseID<<3) | byte(protowire.VarintType)
	tagResult     = byte(fResponseResult<<3) | byte(protowire.BytesType)
	tagError      = byte(fResponseError<<3) | byte(protowire.BytesType)
	tagCode       = byte(fErrorCode<<3) | byte(protowire.VarintType)
	tagMessageTxt = byte(fErrorMessage<<3) | byte(protowire.BytesType)
	tagData       = byte(fErrorData<<3) | byte(protowire.BytesType)
	tagDetail     = byte(fErrorDetails<<3) | byte(protowire.BytesType)
)

// typeURLPrefix is the prefix of the type URLs of the Anys in Error.details.
const typeURLPrefix = "type.googleapis.com/"

// AppendResponse appends a Response to dst: the id, echoed verbatim from
// resp.ID.Raw when that is one varint (and left out otherwise), then the
// result or the error. A nil result is a null Value. An error carries its
// code and message (invalid UTF-8 in the message replaced by U+FFFD) and
// its Data: a proto.Message or a []proto.Message as details, anything else
// as the data Value. resp.Meta, when not empty and the request carried
// metadata (DialectMeta), follows as the entries of meta in key order, text
// that is not UTF-8 made valid with U+FFFD. A result or data that a Value cannot hold (a channel,
// a string that is not UTF-8, nesting beyond the depth limit) makes it
// return an error with dst unchanged in length.
func (c *Codec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	n := len(dst)
	if raw := resp.ID.Raw; len(raw) > 0 {
		if _, m := protowire.ConsumeVarint(raw); m == len(raw) {
			dst = append(append(dst, tagResponseID), raw...)
		}
	}
	var err error
	var p int
	if resp.Error != nil {
		dst, p = openLen(dst, tagError)
		dst, err = c.appendError(dst, resp.Error)
	} else {
		dst, p = openLen(dst, tagResult)
		dst, err = c.appendValue(dst, resp.Result, 1, 0)
	}
	if err != nil {
		return dst[:n], err
	}
	dst = closeLen(dst, p)
	if resp.Dialect&DialectMeta != 0 && len(resp.Meta) > 0 {
		dst, _ = appendMeta(dst, tagResponseMeta, resp.Meta, nil, false)
	}
	return dst, nil
}

// appendError appends the fields of an Error.
func (c *Codec) appendError(dst []byte, e *wire.Error) ([]byte, error) {
	if e.Code != 0 {
		dst = protowire.AppendVarint(append(dst, tagCode), protowire.EncodeZigZag(int64(e.Code)))
	}
	if e.Message != "" {
		dst = protowire.AppendString(append(dst, tagMessageTxt), strings.ToValidUTF8(e.Message, "\uFFFD"))
	}
	var err error
	switch d := e.Data.(type) {
	case nil:
	case pb.Message:
		dst, err = appendDetail(dst, d)
	case []pb.Message:
		for _, m := range d {
			if dst, err = appendDetail(dst, m); err != nil {
				break
			}
		}
	default:
		var p int
		dst, p = openLen(dst, tagData)
		if dst, err = c.appendValue(dst, d, 1, 0); err == nil {
			dst = closeLen(dst, p)
		}
	}
	if err != nil {
		return dst, fmt.Errorf("error data: %w", err)
	}
	return dst, nil
}

// appendDetail appends m to Error.details as a google.protobuf.Any. A nil
// message is left out.
func appendDetail(dst []byte, m pb.Message) ([]byte, error) {
	r := m.ProtoReflect()
	if !r.IsValid() {
		return dst, nil
	}
	dst, p := openLen(dst, tagDetail)
	dst = protowire.AppendString(append(dst, tagLen1), typeURLPrefix+string(r.Descriptor().FullName()))
	opts := pb.MarshalOptions{Deterministic: true}
	if size := opts.Size(m); size > 0 {
		dst = protowire.AppendVarint(append(dst, tagLen2), uint64(size))
		opts.UseCachedSize = true
		start := len(dst)
		out, err := opts.MarshalAppend(dst, m)
		if err != nil {
			return dst, fmt.Errorf("proto: message %s: %w", r.Descriptor().FullName(), err)
		}
		if len(out)-start != size {
			return dst, fmt.Errorf("proto: message %s changed while it was encoded", r.Descriptor().FullName())
		}
		dst = out
	}
	return closeLen(dst, p), nil
}
