package proto

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/codec/internal/mdwire"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// DialectMeta is set in the Dialect of a request that carried metadata (an
// entry of Request.meta) and copied to its response: only then does the
// response carry the reply's metadata, in Response.meta, so that replies
// to clients that send none are what they were before the field existed.
const DialectMeta uint8 = 1

var _ wire.IDKeyer = (*Codec)(nil)

// The tags of the meta fields.
const (
	tagRequestMeta  = byte(fRequestMeta<<3) | byte(protowire.BytesType)
	tagResponseMeta = byte(fResponseMeta<<3) | byte(protowire.BytesType)
)

// strEntry validates an entry of a map<string, string>: its key and value,
// when of their wire type, are UTF-8; fields of another wire type or number
// are unknown and skipped, as protobuf-go skips them.
func strEntry(b []byte) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.typ == protowire.BytesType && (f.num == fEntryKey || f.num == fEntryValue) && !utf8.Valid(f.raw) {
			return errInvalidUTF8
		}
	}
	return nil
}

// strEntryOf reads a validated entry of a map<string, string>: of a key or
// value given twice, the last counts, and one not given is "".
func strEntryOf(b []byte) (key, val []byte) {
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
		case fEntryKey:
			key = f.raw
		case fEntryValue:
			val = f.raw
		}
	}
	return key, val
}

// decodeMeta decodes the n entries of the validated meta field numbered num
// of msg, the first at offset from, into e: metadata refused, as invalid,
// for more than metadata.MaxEntries entries (a key given twice counting
// twice) and for keys and values that metadata.Validate refuses. The keys
// and values share one allocation.
func decodeMeta(msg []byte, from, n int, num protowire.Number, e *wire.Entries) error {
	if n > metadata.MaxEntries {
		return mdwire.ErrTooMany
	}
	// The entries, noted on the stack for the usual few.
	var entriesBuf [8][]byte
	entries, size := entriesBuf[:0], 0
	var f field
	for b := msg[from:]; len(b) > 0 && len(entries) < n; {
		m := readField(b, &f)
		if m < 0 {
			break
		}
		b = b[m:]
		if f.num == num && f.typ == protowire.BytesType {
			key, val := strEntryOf(f.raw)
			entries = append(entries, f.raw)
			size += len(key) + len(val)
		}
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, en := range entries {
		key, val := strEntryOf(en)
		sb.Write(key)
		sb.Write(val)
	}
	all := sb.String()
	off := 0
	for _, en := range entries {
		key, val := strEntryOf(en)
		e.Add(all[off:off+len(key)], all[off+len(key):off+len(key)+len(val)])
		off += len(key) + len(val)
	}
	if err := e.Validate(); err != nil {
		*e = wire.Entries{}
		return err
	}
	return nil
}

// appendMeta appends the metadata md, with e over it, as the entries of the
// map field of tag, in key order, each with its key and value as
// protobuf-go writes them. Text that is not UTF-8 is an error when strict,
// else made valid with U+FFFD.
func appendMeta(dst []byte, tag byte, md metadata.MD, e *wire.Entries, strict bool) ([]byte, error) {
	var buf mdwire.Buf
	for _, p := range mdwire.Sorted(md, e, &buf) {
		k, v := p.Key, p.Value
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			if strict {
				return dst, errors.New("proto: metadata " + k + " is not valid UTF-8")
			}
			k, v = strings.ToValidUTF8(k, "\uFFFD"), strings.ToValidUTF8(v, "\uFFFD")
		}
		var p int
		dst, p = openLen(dst, tag)
		dst = protowire.AppendString(append(dst, tagLen1), k)
		dst = protowire.AppendString(append(dst, tagLen2), v)
		dst = closeLen(dst, p)
	}
	return dst, nil
}

// IDKey implements wire.IDKeyer: the key of a request's id, the encoding of
// its varint as it stood in the request, is the id as a number, as
// wire.KeyOf keys the uint64 or int64 it decodes into. An id that is not
// one varint has no key.
func (c *Codec) IDKey(raw []byte) (wire.Key, bool) {
	v, n := protowire.ConsumeVarint(raw)
	if n <= 0 || n != len(raw) {
		return wire.Key{}, false
	}
	return wire.Key{Num: v}, true
}
