package json

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/codec/internal/mdwire"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// DialectMeta is set in the Dialect of a request that carried a "meta"
// member (even {}), beside Dialect1 or Dialect2, and copied to its
// response: only then does the response carry the reply's metadata, so
// that a client that sends none gets replies as it always did.
const DialectMeta uint8 = 0x80

var _ wire.IDKeyer = (*Codec)(nil)

// inlineMeta is how many entries of metadata decodeMeta notes on its
// stack; beyond them, in memory of their own.
const inlineMeta = 8

// decodeMeta decodes the valid JSON value v of a "meta" member into e: an
// object of strings, or null for none. It refuses anything else, more than
// metadata.MaxEntries members, and keys and values that metadata.Validate
// refuses. An empty object is no metadata. The keys and values share one
// allocation, the one the call takes.
func decodeMeta(msg []byte, v span, e *wire.Entries) error {
	switch msg[v.off] {
	case 'n':
		return nil
	case '{':
	default:
		return errors.New("meta must be an object of strings, not " + kindName(msg[v.off:v.end]))
	}
	w, err := newWalker(msg, v.off, math.MaxInt)
	if err != nil {
		return err
	}
	// The members' keys and values, quoted, and what they take unquoted
	// (at most as much, unless a byte that is not UTF-8 becomes U+FFFD);
	// the arrays hold the usual few.
	type member struct{ key, val span }
	var membersBuf [inlineMeta]member
	members, size := membersBuf[:0], 0
	for n := 0; ; n++ {
		more, err := w.next()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if n == metadata.MaxEntries {
			return mdwire.ErrTooMany
		}
		val, err := w.value()
		if err != nil {
			return err
		}
		if msg[val.off] != '"' {
			return errors.New("meta must be an object of strings: " + excerpt([]byte(unquote(msg[w.key.off:w.key.end]))) + " is " + kindName(msg[val.off:val.end]))
		}
		members = append(members, member{w.key, val})
		size += w.key.end - w.key.off - 2 + val.end - val.off - 2
	}
	if len(members) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.Grow(size)
	var endsBuf [2 * inlineMeta]int
	ends := endsBuf[:0]
	for _, m := range members {
		writeUnquoted(&sb, msg[m.key.off:m.key.end])
		ends = append(ends, sb.Len())
		writeUnquoted(&sb, msg[m.val.off:m.val.end])
		ends = append(ends, sb.Len())
	}
	all := sb.String()
	off := 0
	for i := range members {
		e.Add(all[off:ends[2*i]], all[ends[2*i]:ends[2*i+1]])
		off = ends[2*i+1]
	}
	if err := e.Validate(); err != nil {
		*e = wire.Entries{}
		return err
	}
	return nil
}

// writeUnquoted writes what the valid JSON string raw holds, as unquote
// returns it.
func writeUnquoted(sb *strings.Builder, raw []byte) {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		sb.Write(s)
		return
	}
	var buf [256]byte
	sb.Write(appendUnquoted(buf[:0], s))
}

// appendMeta appends the member "meta" with the entries of md, with e over
// it, in key order.
func appendMeta(dst []byte, md metadata.MD, e *wire.Entries) []byte {
	var buf mdwire.Buf
	dst = append(dst, `,"meta":{`...)
	for i, p := range mdwire.Sorted(md, e, &buf) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQuoted(dst, p.Key)
		dst = append(dst, ':')
		dst = appendQuoted(dst, p.Value)
	}
	return append(dst, '}')
}

// IDKey implements wire.IDKeyer: the key of a request's id as it stood in
// the request, a number or a string, the same as wire.KeyOf returns for
// the value the codec decodes the id into (an int64, a uint64 or a float64
// for a number, as in params; a string). Whole numbers from 0 up key as
// numbers, whatever their spelling (1, 1.0, 1e0 are one id), negative
// integers as their text; null, a fraction and a number above 2^64-1 have
// no key.
func (c *Codec) IDKey(raw []byte) (wire.Key, bool) {
	if len(raw) == 0 {
		return wire.Key{}, false
	}
	switch ch := raw[0]; {
	case ch == '"':
		if end, _, err := scanString(raw, 0); err != nil || end != len(raw) {
			return wire.Key{}, false
		}
		s := raw[1 : len(raw)-1]
		key := appendUnquoted(append(make([]byte, 0, 1+len(s)), 0), s)
		return wire.Key{Str: string(key), IsStr: true}, true
	case ch == '-' || isDigit(ch):
		if end, err := scanNumber(raw, 0); err != nil || end != len(raw) {
			return wire.Key{}, false
		}
		if neg, mag, ok := wholeNumber(raw); ok && (!neg || mag == 0) {
			return wire.Key{Num: mag}, true
		}
		v, err := naturalNumber(raw)
		if err != nil {
			return wire.Key{}, false
		}
		return wire.KeyOf(v)
	}
	return wire.Key{}, false
}
