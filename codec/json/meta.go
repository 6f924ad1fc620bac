package json

import (
	"errors"
	"math"

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

// decodeMeta decodes the valid JSON value v of a "meta" member: an object
// of strings, or null for none. It refuses anything else, more than
// metadata.MaxEntries members, and keys and values that metadata.Validate
// refuses. An empty object is no metadata: nil.
func decodeMeta(msg []byte, v span) (metadata.MD, error) {
	switch msg[v.off] {
	case 'n':
		return nil, nil
	case '{':
	default:
		return nil, errors.New("meta must be an object of strings, not " + kindName(msg[v.off:v.end]))
	}
	w, err := newWalker(msg, v.off, math.MaxInt)
	if err != nil {
		return nil, err
	}
	var md metadata.MD
	for n := 0; ; n++ {
		more, err := w.next()
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == metadata.MaxEntries {
			return nil, mdwire.ErrTooMany
		}
		val, err := w.value()
		if err != nil {
			return nil, err
		}
		key := unquote(msg[w.key.off:w.key.end])
		if msg[val.off] != '"' {
			return nil, errors.New("meta must be an object of strings: " + excerpt([]byte(key)) + " is " + kindName(msg[val.off:val.end]))
		}
		if md == nil {
			md = make(metadata.MD, 4)
		}
		md[key] = unquote(msg[val.off:val.end])
	}
	if err := md.Validate(); err != nil {
		return nil, err
	}
	return md, nil
}

// appendMeta appends the member "meta" with md's entries in key order.
func appendMeta(dst []byte, md metadata.MD) []byte {
	var buf [16]string
	dst = append(dst, `,"meta":{`...)
	for i, k := range mdwire.Keys(md, buf[:]) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQuoted(dst, k)
		dst = append(dst, ':')
		dst = appendQuoted(dst, md[k])
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
