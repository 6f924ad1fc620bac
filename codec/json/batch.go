package json

import (
	"fmt"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// SplitBatch reports whether msg is a batch, a JSON array, and if so returns
// its elements as slices of msg (capped, so appending to one cannot overwrite
// the next). It validates the whole message: a batch that is not valid JSON
// returns an *wire.Error with CodeParseError, and one nested deeper than the
// depth limit allows (one level more than for a single call) returns
// CodeLimitExceeded. An empty batch returns no items and isBatch true; the
// server answers it. A batch of more than max items (max > 0) returns
// CodeLimitExceeded once the item past max is found, before the rest is
// scanned. Servers and clients both use SplitBatch.
func (c *Codec) SplitBatch(msg []byte, max int) (items [][]byte, isBatch bool, err error) {
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '[' {
		return nil, false, nil
	}
	w, err := newWalker(msg, i, c.maxDepth+1)
	if err != nil {
		return nil, true, c.scanError(err)
	}
	items = make([][]byte, 0, 8)
	for {
		more, err := w.next()
		if err != nil {
			return nil, true, c.scanError(err)
		}
		if !more {
			break
		}
		if max > 0 && len(items) == max {
			return nil, true, &wire.Error{Code: wire.CodeLimitExceeded,
				Message: fmt.Sprintf("batch of more than %d calls exceeds the limit", max)}
		}
		v, err := w.value()
		if err != nil {
			return nil, true, c.scanError(err)
		}
		items = append(items, msg[v.off:v.end:v.end])
	}
	if err := trailing(msg, w.i); err != nil {
		return nil, true, c.scanError(err)
	}
	return items, true, nil
}

// AppendBatch appends a batch made of the encoded items to dst: "[", the
// items joined by ",", and "]".
func (c *Codec) AppendBatch(dst []byte, items [][]byte) []byte {
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, it...)
	}
	return append(dst, ']')
}
