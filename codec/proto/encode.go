package proto

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
	pb "google.golang.org/protobuf/proto"
)

// This file encodes Go values as Values. The encoding is deterministic and
// canonical: byte for byte what proto.MarshalOptions{Deterministic: true}
// makes of the equivalent polyrpcpb.Value, map keys and struct fields
// sorted.

// The tags of Value's members, each one byte.
const (
	tagNull       = byte(fNull<<3) | byte(protowire.VarintType)
	tagBool       = byte(fBool<<3) | byte(protowire.VarintType)
	tagInt        = byte(fInt<<3) | byte(protowire.VarintType)
	tagUint       = byte(fUint<<3) | byte(protowire.VarintType)
	tagDouble     = byte(fDouble<<3) | byte(protowire.Fixed64Type)
	tagString     = byte(fString<<3) | byte(protowire.BytesType)
	tagBytes      = byte(fBytes<<3) | byte(protowire.BytesType)
	tagTime       = byte(fTime<<3) | byte(protowire.BytesType)
	tagList       = byte(fList<<3) | byte(protowire.BytesType)
	tagMap        = byte(fMap<<3) | byte(protowire.BytesType)
	tagMessage    = byte(fMessage<<3) | byte(protowire.BytesType)
	tagIntList    = byte(fIntList<<3) | byte(protowire.BytesType)
	tagDoubleList = byte(fDoubleList<<3) | byte(protowire.BytesType)

	// Field 1 and 2, length-delimited: List.values, Map.fields, an entry's
	// key and value, the packed values of the packed lists.
	tagLen1 = byte(1<<3) | byte(protowire.BytesType)
	tagLen2 = byte(2<<3) | byte(protowire.BytesType)
)

// openLen appends tag and one byte for the length of a length-delimited field
// and returns the offset of its payload, which closeLen then measures.
func openLen(dst []byte, tag byte) ([]byte, int) {
	dst = append(dst, tag, 0)
	return dst, len(dst)
}

// closeLen writes the length of the payload that starts at start. Payloads of
// 128 bytes or more need a longer varint: the payload moves up to make room.
func closeLen(dst []byte, start int) []byte {
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst
	}
	k := protowire.SizeVarint(uint64(n))
	dst = append(dst, make([]byte, k-1)...)
	copy(dst[start-1+k:], dst[start:start+n])
	protowire.AppendVarint(dst[:start-1], uint64(n))
	return dst
}

func appendNull(dst []byte) []byte { return append(dst, tagNull, 0) }

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, tagBool, 1)
	}
	return append(dst, tagBool, 0)
}

func appendInt(dst []byte, x int64) []byte {
	return protowire.AppendVarint(append(dst, tagInt), protowire.EncodeZigZag(x))
}

func appendUint(dst []byte, x uint64) []byte {
	return protowire.AppendVarint(append(dst, tagUint), x)
}

func appendDouble(dst []byte, f float64) []byte {
	return protowire.AppendFixed64(append(dst, tagDouble), math.Float64bits(f))
}

func appendBytes(dst []byte, tag byte, b []byte) []byte {
	return append(protowire.AppendVarint(append(dst, tag), uint64(len(b))), b...)
}

func appendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, errStringUTF8
	}
	return protowire.AppendString(append(dst, tagString), s), nil
}

var errStringUTF8 = errors.New("proto: string is not valid UTF-8")

// appendTime appends a Time: the instant, and the offset of t's zone.
func appendTime(dst []byte, t time.Time) []byte {
	dst, start := openLen(dst, tagTime)
	if s := t.Unix(); s != 0 {
		dst = protowire.AppendVarint(append(dst, byte(fTimeSeconds<<3)), protowire.EncodeZigZag(s))
	}
	if ns := t.Nanosecond(); ns != 0 {
		dst = protowire.AppendVarint(append(dst, byte(fTimeNanos<<3)), uint64(ns))
	}
	if _, off := t.Zone(); off != 0 {
		dst = protowire.AppendVarint(append(dst, byte(fTimeOffset<<3)), protowire.EncodeZigZag(int64(int32(off))))
	}
	return closeLen(dst, start)
}

// appendInts appends an Int64List of n integers, the ith being at(i).
func appendInts(dst []byte, n int, at func(int) int64) []byte {
	dst, start := openLen(dst, tagIntList)
	if n > 0 {
		var p int
		dst, p = openLen(dst, tagLen1)
		for i := range n {
			dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(at(i)))
		}
		dst = closeLen(dst, p)
	}
	return closeLen(dst, start)
}

// appendInt64s is appendInts for a []int64, without the indirection.
func appendInt64s(dst []byte, xs []int64) []byte {
	dst, start := openLen(dst, tagIntList)
	if len(xs) > 0 {
		size := 0
		for _, x := range xs {
			size += protowire.SizeVarint(protowire.EncodeZigZag(x))
		}
		dst = slices.Grow(dst, size+16) // one allocation, not one per doubling
		dst = protowire.AppendVarint(append(dst, tagLen1), uint64(size))
		for _, x := range xs {
			dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(x))
		}
	}
	return closeLen(dst, start)
}

// appendDoubles appends a DoubleList of n doubles, the ith being at(i).
func appendDoubles(dst []byte, n int, at func(int) float64) []byte {
	dst, start := openLen(dst, tagDoubleList)
	if n > 0 {
		dst = slices.Grow(dst, 8*n+16)
		dst = protowire.AppendVarint(append(dst, tagLen1), uint64(8*n))
		for i := range n {
			dst = protowire.AppendFixed64(dst, math.Float64bits(at(i)))
		}
	}
	return closeLen(dst, start)
}

// appendMessage appends a message_value: m marshalled deterministically.
func appendMessage(dst []byte, m pb.Message) ([]byte, error) {
	if !m.ProtoReflect().IsValid() { // a nil pointer
		return appendNull(dst), nil
	}
	opts := pb.MarshalOptions{Deterministic: true}
	n := opts.Size(m)
	dst = slices.Grow(dst, n+16)
	dst = protowire.AppendVarint(append(dst, tagMessage), uint64(n))
	start := len(dst)
	opts.UseCachedSize = true
	out, err := opts.MarshalAppend(dst, m)
	if err != nil {
		return dst, fmt.Errorf("proto: message %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	if len(out)-start != n {
		return dst, fmt.Errorf("proto: message %s changed while it was encoded", m.ProtoReflect().Descriptor().FullName())
	}
	return out, nil
}

// tooDeep is the error of a value nested deeper than the codec's limit.
func (c *Codec) tooDeep() error { return &wire.DepthError{Codec: "proto", Max: c.maxDepth} }

// appendValue appends the fields of a Value holding x at nesting level
// depth. The usual types are encoded here directly; any other goes through
// its compiled typeCodec. On error the bytes after len(dst) are garbage.
func (c *Codec) appendValue(dst []byte, x any, depth, hops int) ([]byte, error) {
	switch x := x.(type) {
	case nil:
		return appendNull(dst), nil
	case bool:
		return appendBool(dst, x), nil
	case int64:
		return appendInt(dst, x), nil
	case int:
		return appendInt(dst, int64(x)), nil
	case int32:
		return appendInt(dst, int64(x)), nil
	case uint64:
		return appendUint(dst, x), nil
	case float64:
		return appendDouble(dst, x), nil
	case string:
		return appendString(dst, x)
	case []byte:
		if x == nil {
			return appendNull(dst), nil
		}
		return appendBytes(dst, tagBytes, x), nil
	case time.Time:
		return appendTime(dst, x), nil
	case []int64:
		if x == nil {
			return appendNull(dst), nil
		}
		return appendInt64s(dst, x), nil
	case []any:
		if x == nil {
			return appendNull(dst), nil
		}
		if depth >= c.maxDepth && len(x) > 0 {
			return dst, c.tooDeep()
		}
		dst, start := openLen(dst, tagList)
		for _, e := range x {
			var p int
			var err error
			dst, p = openLen(dst, tagLen1)
			if dst, err = c.appendValue(dst, e, depth+1, 0); err != nil {
				return dst, err
			}
			dst = closeLen(dst, p)
		}
		return closeLen(dst, start), nil
	case map[string]any:
		if x == nil {
			return appendNull(dst), nil
		}
		if depth >= c.maxDepth && len(x) > 0 {
			return dst, c.tooDeep()
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst, start := openLen(dst, tagMap)
		for _, k := range keys {
			var err error
			if dst, err = c.appendEntry(dst, k, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return closeLen(dst, start), nil
	case pb.Message:
		return appendMessage(dst, x)
	}
	v := reflect.ValueOf(x)
	return codecFor(v.Type()).encode(c, dst, v, depth, hops)
}

// appendEntry appends a map entry whose value, at level depth, is x.
func (c *Codec) appendEntry(dst []byte, key string, x any, depth int) ([]byte, error) {
	dst, entry, value, err := openEntry(dst, key)
	if err != nil {
		return dst, err
	}
	if dst, err = c.appendValue(dst, x, depth, 0); err != nil {
		return dst, err
	}
	return closeEntry(dst, entry, value), nil
}

// openEntry appends the start of a map entry: its key field, and the head
// of its value field, whose fields the caller appends next. closeEntry then
// measures both.
func openEntry(dst []byte, key string) (out []byte, entry, value int, err error) {
	if !utf8.ValidString(key) {
		return dst, 0, 0, errKeyUTF8
	}
	dst, entry = openLen(dst, tagLen1)
	dst = protowire.AppendString(append(dst, tagLen1), key)
	dst, value = openLen(dst, tagLen2)
	return dst, entry, value, nil
}

func closeEntry(dst []byte, entry, value int) []byte {
	return closeLen(closeLen(dst, value), entry)
}

var errKeyUTF8 = errors.New("proto: map key is not valid UTF-8")

func encBool(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	return appendBool(dst, v.Bool()), nil
}

func encInt(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	return appendInt(dst, v.Int()), nil
}

func encUint(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	return appendUint(dst, v.Uint()), nil
}

func encFloat(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	return appendDouble(dst, v.Float()), nil
}

func encString(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	return appendString(dst, v.String())
}

func encBytes(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	if v.IsNil() {
		return appendNull(dst), nil
	}
	return appendBytes(dst, tagBytes, v.Bytes()), nil
}

func encByteArray(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	n := v.Len()
	dst = protowire.AppendVarint(append(dst, tagBytes), uint64(n))
	for i := range n {
		dst = append(dst, byte(v.Index(i).Uint()))
	}
	return dst, nil
}

func encTime(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	return appendTime(dst, v.Interface().(time.Time)), nil
}

func encPackedInts(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	if v.Kind() == reflect.Slice && v.IsNil() {
		return appendNull(dst), nil
	}
	if v.Type() == int64sType && v.CanInterface() {
		return appendInt64s(dst, v.Interface().([]int64)), nil
	}
	if k := v.Type().Elem().Kind(); k >= reflect.Uint && k <= reflect.Uintptr {
		return appendInts(dst, v.Len(), func(i int) int64 { return int64(v.Index(i).Uint()) }), nil
	}
	return appendInts(dst, v.Len(), func(i int) int64 { return v.Index(i).Int() }), nil
}

func encPackedDoubles(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	if v.Kind() == reflect.Slice && v.IsNil() {
		return appendNull(dst), nil
	}
	return appendDoubles(dst, v.Len(), func(i int) float64 { return v.Index(i).Float() }), nil
}

// encSeq encodes a slice or an array whose elements are of the plan p and
// elem encodes them: packed when they are integers that fit in an int64 or
// floats, else as a List.
func encSeq(p *wire.Plan, elem *typeCodec) encodeFunc {
	switch {
	case p.Kind == wire.KindInt, p.Kind == wire.KindUint && (p.Bits == 16 || p.Bits == 32):
		return encPackedInts
	case p.Kind == wire.KindFloat:
		return encPackedDoubles
	}
	return func(c *Codec, dst []byte, v reflect.Value, depth, _ int) ([]byte, error) {
		if v.Kind() == reflect.Slice && v.IsNil() {
			return appendNull(dst), nil
		}
		n := v.Len()
		if depth >= c.maxDepth && n > 0 {
			return dst, c.tooDeep()
		}
		dst, start := openLen(dst, tagList)
		for i := range n {
			var p int
			var err error
			dst, p = openLen(dst, tagLen1)
			if dst, err = elem.encode(c, dst, v.Index(i), depth+1, 0); err != nil {
				return dst, wire.AtIndex(err, i)
			}
			dst = closeLen(dst, p)
		}
		return closeLen(dst, start), nil
	}
}

// encMap encodes a map with string keys, in the order of its keys.
func encMap(elem *typeCodec) encodeFunc {
	return func(c *Codec, dst []byte, v reflect.Value, depth, _ int) ([]byte, error) {
		if v.IsNil() {
			return appendNull(dst), nil
		}
		if depth >= c.maxDepth && v.Len() > 0 {
			return dst, c.tooDeep()
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		dst, start := openLen(dst, tagMap)
		for _, k := range keys {
			var entry, value int
			var err error
			if dst, entry, value, err = openEntry(dst, k.String()); err != nil {
				return dst, err
			}
			if dst, err = elem.encode(c, dst, v.MapIndex(k), depth+1, 0); err != nil {
				return dst, wire.AtKey(err, k.String())
			}
			dst = closeEntry(dst, entry, value)
		}
		return closeLen(dst, start), nil
	}
}

// encStruct encodes a struct as a map of its fields, sorted by name,
// leaving out the absent ones (see wire.Field.Of).
func encStruct(fields []structField) encodeFunc {
	return func(c *Codec, dst []byte, v reflect.Value, depth, _ int) ([]byte, error) {
		if depth >= c.maxDepth && len(fields) > 0 {
			return dst, c.tooDeep()
		}
		dst, start := openLen(dst, tagMap)
		for i := range fields {
			f := &fields[i]
			fv, ok := f.Of(v)
			if !ok {
				continue
			}
			var p, q int
			var err error
			dst, p = openLen(dst, tagLen1)
			dst = append(dst, f.keyField...)
			dst, q = openLen(dst, tagLen2)
			if dst, err = f.codec.encode(c, dst, fv, depth+1, 0); err != nil {
				return dst, wire.AtField(err, f.Name)
			}
			dst = closeEntry(dst, p, q)
		}
		return closeLen(dst, start), nil
	}
}

// encPointer encodes what hops pointers lead to; a nil one is null.
func encPointer(hops int, final *typeCodec) encodeFunc {
	return func(c *Codec, dst []byte, v reflect.Value, depth, h int) ([]byte, error) {
		for range hops {
			if v.IsNil() {
				return appendNull(dst), nil
			}
			v = v.Elem()
		}
		return final.encode(c, dst, v, depth, h)
	}
}

var errCycle = errors.New("proto: interfaces nested in a cycle")

// encInterface encodes an interface's dynamic value.
func encInterface(c *Codec, dst []byte, v reflect.Value, depth, hops int) ([]byte, error) {
	if v.IsNil() {
		return appendNull(dst), nil
	}
	if hops >= maxHops {
		return dst, errCycle
	}
	e := v.Elem()
	if !e.CanInterface() {
		return codecFor(e.Type()).encode(c, dst, e, depth, hops+1)
	}
	return c.appendValue(dst, e.Interface(), depth, hops+1)
}

func encMessagePtr(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	if v.IsNil() {
		return appendNull(dst), nil
	}
	return appendMessage(dst, v.Interface().(pb.Message))
}

func encMessageStruct(c *Codec, dst []byte, v reflect.Value, _, _ int) ([]byte, error) {
	if !v.CanAddr() {
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p.Elem()
	}
	return appendMessage(dst, v.Addr().Interface().(pb.Message))
}
