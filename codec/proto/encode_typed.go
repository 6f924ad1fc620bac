package proto

import (
	"reflect"
	"slices"
)

// This file holds the encoders of the maps that structs and params use
// most. They range over the map itself instead of through reflect, which
// costs an allocation per key and per value, and write the bytes that encMap
// writes; they fall back on it for a value that cannot be had as an
// interface (reached through an unexported field).

// mapFrom returns the encoder of a map[string]E whose values elem appends.
func mapFrom[E any](elem func(c *Codec, dst []byte, x E, depth int) ([]byte, error), slow encodeFunc) encodeFunc {
	return func(c *Codec, dst []byte, v reflect.Value, depth, hops int) ([]byte, error) {
		if !v.CanInterface() {
			return slow(c, dst, v, depth, hops)
		}
		m := v.Interface().(map[string]E)
		if m == nil {
			return appendNull(dst), nil
		}
		if depth >= c.maxDepth && len(m) > 0 {
			return dst, c.tooDeep()
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst, start := openLen(dst, tagMap)
		for _, k := range keys {
			var entry, value int
			var err error
			if dst, entry, value, err = openEntry(dst, k); err != nil {
				return dst, err
			}
			if dst, err = elem(c, dst, m[k], depth+1); err != nil {
				return dst, err
			}
			dst = closeEntry(dst, entry, value)
		}
		return closeLen(dst, start), nil
	}
}

func appendStringElem(_ *Codec, dst []byte, x string, _ int) ([]byte, error) {
	return appendString(dst, x)
}

func appendBoolElem(_ *Codec, dst []byte, x bool, _ int) ([]byte, error) {
	return appendBool(dst, x), nil
}

func appendIntElem(_ *Codec, dst []byte, x int, _ int) ([]byte, error) {
	return appendInt(dst, int64(x)), nil
}

func appendInt64Elem(_ *Codec, dst []byte, x int64, _ int) ([]byte, error) {
	return appendInt(dst, x), nil
}

func appendFloat64Elem(_ *Codec, dst []byte, x float64, _ int) ([]byte, error) {
	return appendDouble(dst, x), nil
}

// appendAnyElem appends an interface value as encInterface does: one
// interface dereferenced.
func appendAnyElem(c *Codec, dst []byte, x any, depth int) ([]byte, error) {
	return c.appendValue(dst, x, depth, 1)
}

// typedEncoder returns the encoder above of type t, with slow, its
// reflective encoder, as the fallback; or slow when there is none. (A
// switch, not a map: the map would refer to build through appendValue.)
func typedEncoder(t reflect.Type, slow encodeFunc) encodeFunc {
	switch t {
	case reflect.TypeFor[map[string]string]():
		return mapFrom(appendStringElem, slow)
	case reflect.TypeFor[map[string]bool]():
		return mapFrom(appendBoolElem, slow)
	case reflect.TypeFor[map[string]int]():
		return mapFrom(appendIntElem, slow)
	case reflect.TypeFor[map[string]int64]():
		return mapFrom(appendInt64Elem, slow)
	case reflect.TypeFor[map[string]float64]():
		return mapFrom(appendFloat64Elem, slow)
	case anyMapType:
		return mapFrom(appendAnyElem, slow)
	}
	return slow
}
