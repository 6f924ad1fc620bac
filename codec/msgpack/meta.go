package msgpack

import (
	"errors"
	"strings"

	"github.com/polyrpc/polyrpc/codec/internal/mdwire"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// DialectMeta is set in the Dialect of a request that carried metadata, a
// fifth element (a fourth in a notification) that is not nil, and copied to
// its response: only then does the response carry the reply's metadata as
// a fifth element, so that a client that sends none, as stock msgpack-rpc
// clients do, gets the responses of four it expects.
const DialectMeta uint8 = 1

var _ wire.IDKeyer = (*Codec)(nil)

// decodeMeta decodes the validated metadata element at s into e: a map of
// str (or bin) keys to str (or bin) values, or nil for none. It refuses
// anything else, more than metadata.MaxEntries entries, and keys and
// values that metadata.Validate refuses. An empty map is no metadata. The
// keys and values share one allocation, the one the call takes.
func decodeMeta(msg []byte, s span, e *wire.Entries) error {
	var h head
	_ = readHead(msg, s.off, &h)
	switch {
	case h.kind == kindNil:
		return nil
	case h.kind != kindMap:
		return errors.New("meta must be a map of strings, not " + article(h.kind) + " " + h.kind.String())
	case h.n > metadata.MaxEntries:
		return mdwire.ErrTooMany
	case h.n == 0:
		return nil
	}
	size := 0
	j := h.off
	for range h.n {
		var k, v head
		_ = readHead(msg, j, &k)
		if k.kind != kindStr && k.kind != kindBin {
			return errors.New("meta must be a map of strings: a key is " + article(k.kind) + " " + k.kind.String())
		}
		_ = readHead(msg, k.end(), &v)
		if v.kind != kindStr && v.kind != kindBin {
			return errors.New("meta must be a map of strings: " + excerpt(string(msg[k.off:k.end()])) + " is " + article(v.kind) + " " + v.kind.String())
		}
		size += k.n + v.n
		j = v.end()
	}
	var sb strings.Builder
	sb.Grow(size)
	j = h.off
	for range h.n {
		var k, v head
		_ = readHead(msg, j, &k)
		_ = readHead(msg, k.end(), &v)
		sb.Write(msg[k.off:k.end()])
		sb.Write(msg[v.off:v.end()])
		j = v.end()
	}
	all := sb.String()
	off := 0
	j = h.off
	for range h.n {
		var k, v head
		_ = readHead(msg, j, &k)
		_ = readHead(msg, k.end(), &v)
		e.Add(all[off:off+k.n], all[off+k.n:off+k.n+v.n])
		off += k.n + v.n
		j = v.end()
	}
	if err := e.Validate(); err != nil {
		*e = wire.Entries{}
		return err
	}
	return nil
}

// appendMeta appends the metadata md, with e over it, as a map of str to
// str in key order.
func appendMeta(dst []byte, md metadata.MD, e *wire.Entries) ([]byte, error) {
	var buf mdwire.Buf
	pairs := mdwire.Sorted(md, e, &buf)
	dst = appendMapHeader(dst, len(pairs))
	var err error
	for _, p := range pairs {
		if dst, err = appendStr(dst, p.Key); err != nil {
			return dst, err
		}
		if dst, err = appendStr(dst, p.Value); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// IDKey implements wire.IDKeyer: the key of a request's msgid as it stood
// in the request, the same as wire.KeyOf returns for the natural value the
// codec decodes it into (int64, or uint64 beyond int64; float64; string).
// An integer from 0 up, such as the uint32 of the specification, keys as
// a number, and so does a float that is a whole number from 0 up; a
// negative integer keys as its text, a str as its text; nil, bin, a float
// with a fraction and anything else have no key.
func (c *Codec) IDKey(raw []byte) (wire.Key, bool) {
	var h head
	if readHead(raw, 0, &h) != nil {
		return wire.Key{}, false
	}
	switch h.kind {
	case kindInt:
		if h.off != len(raw) {
			break
		}
		if h.i >= 0 {
			return wire.Key{Num: uint64(h.i)}, true
		}
		return wire.KeyOf(h.i)
	case kindUint:
		if h.off == len(raw) {
			return wire.Key{Num: h.u}, true
		}
	case kindFloat32, kindFloat64:
		if h.off == len(raw) {
			return wire.KeyOf(h.f)
		}
	case kindStr:
		if h.end() == len(raw) {
			return wire.KeyOf(string(raw[h.off:h.end()]))
		}
	}
	return wire.Key{}, false
}
