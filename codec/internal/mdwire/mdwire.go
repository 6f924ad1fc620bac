// Package mdwire holds what the codecs share to carry a call's metadata
// inside their messages.
package mdwire

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Pair is one entry of metadata.
type Pair struct{ Key, Value string }

// Buf is room for the pairs of the usual metadata, which a caller may keep
// on its stack.
type Buf [8]Pair

// Sorted returns the entries of md with those of e (when not nil) standing
// over md's of the same key, in key order, so that an encoding is
// deterministic; of a key that e holds twice, its last entry counts. It
// appends them to buf[:0].
func Sorted(md metadata.MD, e *wire.Entries, buf *Buf) []Pair {
	pairs := buf[:0]
	n := e.Len()
	for i := range n {
		k, v := e.At(i)
		pairs = append(pairs, Pair{k, v})
	}
	for k, v := range md {
		if n > 0 {
			if _, over := e.Get(k); over {
				continue
			}
		}
		pairs = append(pairs, Pair{k, v})
	}
	if len(pairs) < 2 {
		return pairs
	}
	// Stable: of the entries of a key, which only e may hold more than
	// once, the last stays last, and stands for the key.
	slices.SortStableFunc(pairs, func(a, b Pair) int { return strings.Compare(a.Key, b.Key) })
	out := pairs[:0]
	for i, p := range pairs {
		if i+1 < len(pairs) && pairs[i+1].Key == p.Key {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Has reports whether md and e hold any metadata.
func Has(md metadata.MD, e *wire.Entries) bool {
	return len(md) > 0 || e.Len() > 0
}

// ErrTooMany is the error of metadata with more entries than
// metadata.MaxEntries, found before they are all decoded.
var ErrTooMany = errors.New("metadata: more than " + strconv.Itoa(metadata.MaxEntries) + " entries")
