package proto

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// This file holds the decoders of the exact types that structs and params
// use most: time.Time, and slices and maps of the basic types. They work on
// a typed pointer, one element at a time, instead of through reflect, and
// behave as the reflective decoders in decode.go do, which they fall back
// on for a value that cannot be addressed as a *T.

// typed returns a decoder for values of type T that calls fast with a *T,
// or slow when v cannot give one (it is not addressable, or it was reached
// through an unexported field).
func typed[T any](fast func(k *kind, p *T) error, slow decodeFunc) decodeFunc {
	return func(c *Codec, k *kind, v reflect.Value) error {
		if v.CanAddr() && v.CanInterface() {
			if p, ok := v.Addr().Interface().(*T); ok {
				return fast(k, p)
			}
		}
		return slow(c, k, v)
	}
}

// elemFunc decodes a Value into an E, as the reflective decoder of E does.
type elemFunc[E any] func(k *kind) (E, error)

func stringElem(k *kind) (string, error) {
	switch k.num {
	case fString:
		return string(k.bytes()), nil
	case 0, fNull:
		return "", nil
	}
	return "", typeError(k, "string")
}

func boolElem(k *kind) (bool, error) {
	switch k.num {
	case fBool:
		return k.u != 0, nil
	case 0, fNull:
		return false, nil
	}
	return false, typeError(k, "bool")
}

func int64Elem(k *kind) (int64, error) { return intOf(k, 64) }

func intElem(k *kind) (int, error) {
	x, err := intOf(k, strconv.IntSize)
	return int(x), err
}

func float64Elem(k *kind) (float64, error) { return floatOf(k, 64) }

func anyElem(k *kind) (any, error) { return natural(k), nil }

// timeInto decodes a time.
func timeInto(k *kind, p *time.Time) error {
	switch k.num {
	case fTime:
		*p = timeOf(&k.m)
	case 0, fNull:
		*p = time.Time{}
	default:
		return typeError(k, timeType)
	}
	return nil
}

// int64sInto decodes a list of integers, packed or not.
func int64sInto(k *kind, p *[]int64) error {
	x, err := int64s(k)
	if err == nil {
		*p = x
	}
	return err
}

// sliceInto returns the decoder of a list into a new []E; null is nil.
func sliceInto[E any](elem elemFunc[E]) func(k *kind, p *[]E) error {
	t := reflect.TypeFor[[]E]()
	return func(k *kind, p *[]E) error {
		switch k.num {
		case fList, fIntList, fDoubleList:
		case 0, fNull:
			*p = nil
			return nil
		default:
			return typeError(k, t)
		}
		out := make([]E, count(k))
		*p = out
		l := elemsOf(k)
		var e kind
		for i := 0; l.next(&e); i++ {
			x, err := elem(&e)
			if err != nil {
				return indexError(i, err)
			}
			out[i] = x
		}
		return nil
	}
}

// mapInto returns the decoder of a map into a map[string]E, which it fills
// when it is not nil; null is nil. Of entries with the same key, the last
// counts.
func mapInto[E any](elem elemFunc[E]) func(k *kind, p *map[string]E) error {
	t := reflect.TypeFor[map[string]E]()
	return func(k *kind, p *map[string]E) error {
		switch k.num {
		case fMap:
		case 0, fNull:
			*p = nil
			return nil
		default:
			return typeError(k, t)
		}
		m := *p
		if m == nil {
			m = make(map[string]E, mapHint(k))
			*p = m
		}
		es := entriesOf(k)
		var key []byte
		var val wireMsg
		var e kind
		for es.next(&key, &val) {
			e = kindOf(&val)
			x, err := elem(&e)
			if err != nil {
				return fmt.Errorf("[%q]: %w", key, err)
			}
			m[string(key)] = x
		}
		return nil
	}
}

// typedDecoders are the decoders of the types above, by type; build falls
// back on each one's reflective decoder.
var typedDecoders = map[reflect.Type]func(slow decodeFunc) decodeFunc{
	timeType:   func(slow decodeFunc) decodeFunc { return typed(timeInto, slow) },
	int64sType: func(slow decodeFunc) decodeFunc { return typed(int64sInto, slow) },

	reflect.TypeFor[[]string]():  func(slow decodeFunc) decodeFunc { return typed(sliceInto(stringElem), slow) },
	reflect.TypeFor[[]bool]():    func(slow decodeFunc) decodeFunc { return typed(sliceInto(boolElem), slow) },
	reflect.TypeFor[[]int]():     func(slow decodeFunc) decodeFunc { return typed(sliceInto(intElem), slow) },
	reflect.TypeFor[[]float64](): func(slow decodeFunc) decodeFunc { return typed(sliceInto(float64Elem), slow) },
	reflect.TypeFor[[]any]():     func(slow decodeFunc) decodeFunc { return typed(sliceInto(anyElem), slow) },

	reflect.TypeFor[map[string]string]():  func(slow decodeFunc) decodeFunc { return typed(mapInto(stringElem), slow) },
	reflect.TypeFor[map[string]bool]():    func(slow decodeFunc) decodeFunc { return typed(mapInto(boolElem), slow) },
	reflect.TypeFor[map[string]int]():     func(slow decodeFunc) decodeFunc { return typed(mapInto(intElem), slow) },
	reflect.TypeFor[map[string]int64]():   func(slow decodeFunc) decodeFunc { return typed(mapInto(int64Elem), slow) },
	reflect.TypeFor[map[string]float64](): func(slow decodeFunc) decodeFunc { return typed(mapInto(float64Elem), slow) },
	reflect.TypeFor[map[string]any]():     func(slow decodeFunc) decodeFunc { return typed(mapInto(anyElem), slow) },
}
