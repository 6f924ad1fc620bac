package proto

import (
	"reflect"
	"time"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
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
	return func(d *decoder, k *kind, v reflect.Value) error {
		if v.CanAddr() && v.CanInterface() {
			if p, ok := v.Addr().Interface().(*T); ok {
				return fast(k, p)
			}
		}
		return slow(d, k, v)
	}
}

// typedNatural is typed for the types of natural values, []any and
// map[string]any, whose decoders charge the decode's budget.
func typedNatural[T any](fast func(k *kind, p *T, nb *nat.Budget) error, slow decodeFunc) decodeFunc {
	return func(d *decoder, k *kind, v reflect.Value) error {
		if v.CanAddr() && v.CanInterface() {
			if p, ok := v.Addr().Interface().(*T); ok {
				return fast(k, p, d.nb)
			}
		}
		return slow(d, k, v)
	}
}

// naturalSlice decodes a list into a new []any of natural values; null is
// nil.
func naturalSlice(k *kind, p *[]any, nb *nat.Budget) error {
	switch k.num {
	case fList, fIntList, fDoubleList:
	case 0, fNull:
		*p = nil
		return nil
	default:
		return mismatchOf[[]any](k)
	}
	out, err := naturalList(k, nb)
	if err == nil {
		*p = out
	}
	return err
}

// naturalMapInto decodes a map into a map[string]any of natural values,
// which it fills when it is not nil; null is nil. Of entries with the same
// key, the last counts.
func naturalMapInto(k *kind, p *map[string]any, nb *nat.Budget) error {
	switch k.num {
	case fMap:
	case 0, fNull:
		*p = nil
		return nil
	default:
		return mismatchOf[map[string]any](k)
	}
	m, err := naturalMap(k, *p, nb)
	if err == nil {
		*p = m
	}
	return err
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
	return "", stringPlan.Mismatch(kindName(k))
}

func boolElem(k *kind) (bool, error) {
	switch k.num {
	case fBool:
		return k.u != 0, nil
	case 0, fNull:
		return false, nil
	}
	return false, boolPlan.Mismatch(kindName(k))
}

func int64Elem(k *kind) (int64, error) { return intOf(k, int64Plan) }

func uint64Elem(k *kind) (uint64, error) { return uintOf(k, uint64Plan) }

func bytesElem(k *kind) ([]byte, error) {
	switch k.num {
	case fBytes, fMessage:
		return append(make([]byte, 0, len(k.bytes())), k.bytes()...), nil
	case 0, fNull:
		return nil, nil
	}
	return nil, bytesPlan.Mismatch(kindName(k))
}

func timeElem(k *kind) (time.Time, error) {
	switch k.num {
	case fTime:
		return timeOf(&k.m), nil
	case 0, fNull:
		return time.Time{}, nil
	}
	return time.Time{}, timePlan.Mismatch(kindName(k))
}

// setValue stores x in v with reflect.Value.Set.
func setValue[T any](v reflect.Value, x T) { v.Set(reflect.ValueOf(x)) }

func intElem(k *kind) (int, error) {
	x, err := intOf(k, intPlan)
	return int(x), err
}

func float64Elem(k *kind) (float64, error) { return floatOf(k, float64Plan) }

// mismatchOf is the error of a Value that a T cannot hold. It finds the
// plan itself, so that the decoders above stay small enough to be inlined
// where they are made, with elem a known function.
func mismatchOf[T any](k *kind) error {
	return wire.PlanOf(reflect.TypeFor[T]()).Mismatch(kindName(k))
}

// into returns the decoder of a value that elem decodes into a *T.
func into[T any](elem elemFunc[T]) func(k *kind, p *T) error {
	return func(k *kind, p *T) error { return set(p, k, elem) }
}

// sliceInto returns the decoder of a list into a new []E; null is nil.
func sliceInto[E any](elem elemFunc[E]) func(k *kind, p *[]E) error {
	return func(k *kind, p *[]E) error {
		switch k.num {
		case fList, fIntList, fDoubleList:
		case 0, fNull:
			*p = nil
			return nil
		default:
			return mismatchOf[[]E](k)
		}
		out := make([]E, count(k))
		*p = out
		l := elemsOf(k)
		var e kind
		for i := 0; l.next(&e); i++ {
			x, err := elem(&e)
			if err != nil {
				return wire.AtIndex(err, i)
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
	return func(k *kind, p *map[string]E) error {
		switch k.num {
		case fMap:
		case 0, fNull:
			*p = nil
			return nil
		default:
			return mismatchOf[map[string]E](k)
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
				return wire.AtKey(err, string(key))
			}
			m[string(key)] = x
		}
		return nil
	}
}

// typedDecoders are the decoders of the types above, by type; build falls
// back on each one's reflective decoder.
var typedDecoders = map[reflect.Type]func(slow decodeFunc) decodeFunc{
	timeType:   func(slow decodeFunc) decodeFunc { return typed(into(timeElem), slow) },
	int64sType: func(slow decodeFunc) decodeFunc { return typed(into(int64s), slow) },

	reflect.TypeFor[[]string]():  func(slow decodeFunc) decodeFunc { return typed(sliceInto(stringElem), slow) },
	reflect.TypeFor[[]bool]():    func(slow decodeFunc) decodeFunc { return typed(sliceInto(boolElem), slow) },
	reflect.TypeFor[[]int]():     func(slow decodeFunc) decodeFunc { return typed(sliceInto(intElem), slow) },
	reflect.TypeFor[[]float64](): func(slow decodeFunc) decodeFunc { return typed(sliceInto(float64Elem), slow) },
	reflect.TypeFor[[]any]():     func(slow decodeFunc) decodeFunc { return typedNatural(naturalSlice, slow) },

	reflect.TypeFor[map[string]string]():  func(slow decodeFunc) decodeFunc { return typed(mapInto(stringElem), slow) },
	reflect.TypeFor[map[string]bool]():    func(slow decodeFunc) decodeFunc { return typed(mapInto(boolElem), slow) },
	reflect.TypeFor[map[string]int]():     func(slow decodeFunc) decodeFunc { return typed(mapInto(intElem), slow) },
	reflect.TypeFor[map[string]int64]():   func(slow decodeFunc) decodeFunc { return typed(mapInto(int64Elem), slow) },
	reflect.TypeFor[map[string]float64](): func(slow decodeFunc) decodeFunc { return typed(mapInto(float64Elem), slow) },
	reflect.TypeFor[map[string]any]():     func(slow decodeFunc) decodeFunc { return typedNatural(naturalMapInto, slow) },
}
