package json

import (
	"math"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
)

// natFrame is an array or object that decodeNatural is filling. Its
// elements wait on the value stack (and an object's keys on the key stack)
// until it closes: JSON does not say how many there are, and once they are
// all known, the []any or map is made with room for exactly them.
type natFrame struct {
	obj   bool
	start int // the position of its first element on the value stack
	keys  int // of an object: the position of its first key on the key stack
}

// decodeNatural decodes a valid JSON value into natural Go values: nil,
// bool, string, int64, uint64, float64, []any and map[string]any. Every
// value is charged to nb, and a value that nb cannot pay for fails with a
// *nat.LimitError. It keeps its own stack instead of recursing; the scanner
// has already bounded the depth.
func decodeNatural(b []byte, nb *nat.Budget) (any, error) {
	var frames [8]natFrame
	stack := frames[:0]
	var vals chunks[any]
	var keys chunks[string]
	i := 0
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, errChar(b, i, "looking for a value")
		}
		var v any
		switch c := b[i]; c {
		case '{':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				if !nb.Take(nat.Map(0)) {
					return nil, nb.Err("json")
				}
				v = map[string]any{}
				break
			}
			// A map with entries has at least its first group; the rest
			// is charged as its entries come, and settled when it closes.
			if !nb.Take(nat.Map(1)) {
				return nil, nb.Err("json")
			}
			stack = append(stack, natFrame{obj: true, start: vals.n, keys: keys.n})
			next, err := pushKey(b, i, &keys, nb)
			if err != nil {
				return nil, err
			}
			i = next
			continue
		case '[':
			i = skipSpace(b, i+1)
			if !nb.Take(nat.Array(0)) {
				return nil, nb.Err("json")
			}
			if i < len(b) && b[i] == ']' {
				i++
				v = []any{}
				break
			}
			stack = append(stack, natFrame{start: vals.n})
			continue
		case '"':
			end, _, err := scanString(b, i)
			if err != nil {
				return nil, err
			}
			s := unquote(b[i:end])
			if !nb.Take(nat.String(len(s))) {
				return nil, nb.Err("json")
			}
			v = s
			i = end
		case 't', 'f', 'n':
			end, err := scanScalar(b, i)
			if err != nil {
				return nil, err
			}
			switch c {
			case 't':
				v = true
			case 'f':
				v = false
			}
			nb.Take(0)
			i = end
		default:
			end, err := scanNumber(b, i)
			if err != nil {
				return nil, err
			}
			if v, err = naturalNumber(b[i:end]); err != nil {
				return nil, err
			}
			cost := nat.Boxed
			switch x := v.(type) {
			case int64:
				cost = nat.Int(x)
			case float64:
				cost = nat.Uint(math.Float64bits(x))
			}
			if !nb.Take(cost) {
				return nil, nb.Err("json")
			}
			i = end
		}
		// Store v in its container; close the containers it completes.
		for {
			if len(stack) == 0 {
				if err := trailing(b, i); err != nil {
					return nil, err
				}
				return v, nil
			}
			top := &stack[len(stack)-1]
			// An element's slot: in the []any, or in the map, which is
			// charged when it closes.
			if !top.obj && !nb.TakeN(0, nat.Slot) || !vals.push(v, nb) {
				return nil, nb.Err("json")
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return nil, errChar(b, i, "after value")
			}
			if b[i] == ',' {
				i++
				if top.obj {
					next, err := pushKey(b, i, &keys, nb)
					if err != nil {
						return nil, err
					}
					i = next
				}
				break
			}
			n := vals.n - top.start
			switch {
			case top.obj && b[i] == '}':
				// The map's cost beyond its first group, charged when it
				// was opened.
				if !nb.TakeN(0, nat.Map(n)-nat.Map(1)) {
					return nil, nb.Err("json")
				}
				m := make(map[string]any, n)
				for j := range n {
					m[keys.at(top.keys+j)] = vals.at(top.start + j)
				}
				keys.n = top.keys
				v = m
			case !top.obj && b[i] == ']':
				a := make([]any, n)
				vals.copyOut(top.start, a)
				v = a
			default:
				return nil, errChar(b, i, "after value")
			}
			vals.n = top.start
			i++
			stack = stack[:len(stack)-1]
		}
	}
}

// pushKey scans the object key at b[i] and the colon after it, pushes the
// key on keys, and returns the index of the member's value.
func pushKey(b []byte, i int, keys *chunks[string], nb *nat.Budget) (int, error) {
	key, _, next, err := scanKey(b, i)
	if err != nil {
		return next, err
	}
	k := unquote(b[key.off:key.end])
	if !nb.TakeN(0, nat.Key(len(k))) {
		return next, nb.Err("json")
	}
	if !keys.push(k, nb) {
		return next, nb.Err("json")
	}
	return next, nil
}

// chunks is a stack of values in fixed-size chunks, so that it grows
// without copying what it holds: the first few in the struct itself, the
// rest in chunks that stay allocated for the decode's later containers.
type chunks[T any] struct {
	first [chunkFirst]T
	more  [][]T
	n     int
}

const (
	chunkFirst = 32
	chunkShift = 10
	chunkLen   = 1 << chunkShift
)

// push pushes v. A new chunk, which holds chunkLen slots of 16 bytes, a
// value or a key, is charged to nb first; false means nb could not pay.
func (s *chunks[T]) push(v T, nb *nat.Budget) bool {
	if s.n < chunkFirst {
		s.first[s.n] = v
		s.n++
		return true
	}
	j := s.n - chunkFirst
	c := j >> chunkShift
	if c == len(s.more) {
		if !nb.TakeN(0, chunkLen*nat.Slot) {
			return false
		}
		s.more = append(s.more, make([]T, chunkLen))
	}
	s.more[c][j&(chunkLen-1)] = v
	s.n++
	return true
}

func (s *chunks[T]) at(i int) T {
	if i < chunkFirst {
		return s.first[i]
	}
	j := i - chunkFirst
	return s.more[j>>chunkShift][j&(chunkLen-1)]
}

// copyOut copies the values from position i up into dst, which has room
// for them.
func (s *chunks[T]) copyOut(i int, dst []T) {
	if i < chunkFirst {
		k := copy(dst, s.first[i:min(s.n, chunkFirst)])
		dst, i = dst[k:], i+k
	}
	for len(dst) > 0 {
		j := i - chunkFirst
		k := copy(dst, s.more[j>>chunkShift][j&(chunkLen-1):])
		dst, i = dst[k:], i+k
	}
}

// chargeNatural charges nb for the natural values that the valid JSON value
// b decodes into, about as decodeNatural would charge them, without decoding
// it: for the values that encoding/json makes, which it refuses before
// encoding/json allocates anything. A string is charged its length as
// written, escapes included. (encoding/json itself allocates more: up to
// four times as much for arrays of numbers, whose slices it grows by
// appending and whose numbers it holds as strings first.)
func chargeNatural(b []byte, nb *nat.Budget) error {
	var counts [8]int // the elements of each open container so far
	open := counts[:0]
	var objs levels
	i := 0
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return errChar(b, i, "looking for a value")
		}
		cost := 0
		switch c := b[i]; c {
		case '{', '[':
			j := skipSpace(b, i+1)
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				i = j + 1
				cost = nat.Array(0)
				if c == '{' {
					cost = nat.Map(0)
				}
				break
			}
			nb.Take(0) // the container, charged when it closes
			objs.set(len(open), c == '{')
			open = append(open, 0)
			i = j
			if c == '{' {
				next, err := chargeKey(b, i, nb)
				if err != nil {
					return err
				}
				i = next
			}
			continue
		case '"':
			end, _, err := scanString(b, i)
			if err != nil {
				return err
			}
			cost = nat.String(end - i - 2)
			i = end
		case 't', 'f', 'n':
			end, err := scanScalar(b, i)
			if err != nil {
				return err
			}
			i = end
		default:
			end, err := scanNumber(b, i)
			if err != nil {
				return err
			}
			if !smallInt(b[i:end]) {
				cost = nat.Boxed
			}
			i = end
		}
		if !nb.Take(cost) {
			return nb.Err("json")
		}
		// Count the value in its container; close the containers it
		// completes, charging each for its elements.
		for {
			if len(open) == 0 {
				return trailing(b, i)
			}
			d := len(open) - 1
			open[d]++
			i = skipSpace(b, i)
			if i >= len(b) {
				return errChar(b, i, "after value")
			}
			obj := objs.isObj(d)
			if b[i] == ',' {
				i++
				if obj {
					next, err := chargeKey(b, i, nb)
					if err != nil {
						return err
					}
					i = next
				}
				break
			}
			// An array's elements also wait on decodeNatural's stack.
			cost := nat.Array(open[d]) + nat.Slot*open[d]
			if obj {
				cost = nat.Map(open[d])
			}
			if !nb.TakeN(0, cost) {
				return nb.Err("json")
			}
			i++
			open = open[:d]
		}
	}
}

// chargeKey scans the object key at b[i] and the colon after it, charges
// nb for it, and returns the index of the member's value.
func chargeKey(b []byte, i int, nb *nat.Budget) (int, error) {
	key, _, next, err := scanKey(b, i)
	if err != nil {
		return next, err
	}
	if !nb.TakeN(0, nat.Key(key.end-key.off-2)) {
		return next, nb.Err("json")
	}
	return next, nil
}

// smallInt reports whether the JSON number lit is an integer from 0 to 255
// in plain digits, which the runtime holds in an interface without
// allocating.
func smallInt(lit []byte) bool {
	if len(lit) > 3 {
		return false
	}
	v := 0
	for _, c := range lit {
		if !isDigit(c) {
			return false
		}
		v = v*10 + int(c-'0')
	}
	return v < 256
}
