// Package mdwire holds what the codecs share to carry a call's metadata
// inside their messages.
package mdwire

import (
	"errors"
	"slices"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/metadata"
)

// Keys returns the keys of md in sorted order, so that an encoding is
// deterministic; it appends them to buf[:0], which a caller may keep on its
// stack for the usual few entries.
func Keys(md metadata.MD, buf []string) []string {
	keys := buf[:0]
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ErrTooMany is the error of metadata with more entries than
// metadata.MaxEntries, found before they are all decoded.
var ErrTooMany = errors.New("metadata: more than " + strconv.Itoa(metadata.MaxEntries) + " entries")
