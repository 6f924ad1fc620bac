package msgpack

import (
	"bufio"
	"fmt"
	"io"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// readChunk is how much a message's buffer grows at a time while a str,
// bin or ext payload arrives, so that a header that promises more bytes than
// arrive costs memory only for what arrived.
const readChunk = 64 << 10

// ReadMessage reads one whole MessagePack object, at most max bytes long,
// from r and appends it to dst: stock msgpack-rpc clients send their
// messages unframed on a stream, one object after another. It reads exactly
// the bytes of that object and no more. Memory grows with the bytes that
// arrive, never with the lengths and counts the object declares; a
// declared length or count that cannot fit in max bytes is refused at once.
//
// ReadMessage returns io.EOF when the stream ends before the first byte, and
// io.ErrUnexpectedEOF when it ends inside the object. An object over max
// bytes is an error wrapping frame.ErrTooLarge; one nested deeper than the
// codec's depth limit, or holding the reserved byte 0xc1, is an error too.
// After any error but io.EOF the stream is out of step and must be closed.
// On error, dst is returned with its original length.
func (c *Codec) ReadMessage(r *bufio.Reader, dst []byte, max int) ([]byte, error) {
	start := len(dst)
	var buf [16]int
	stack := buf[:0] // elements left in each enclosing container
	left := 1
	var fixed [9]byte
	for first := true; ; first = false {
		for left == 0 {
			if len(stack) == 0 {
				return dst, nil
			}
			left = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		left--
		b, err := r.ReadByte()
		if err != nil {
			if first && err == io.EOF {
				return dst[:start], io.EOF
			}
			return dst[:start], unexpected(err)
		}
		size := int(headSize[b])
		if size == 0 {
			return dst[:start], fmt.Errorf("msgpack: reserved byte 0xc1 at offset %d", len(dst)-start)
		}
		if size > max-(len(dst)-start) {
			return dst[:start], tooLarge(max)
		}
		fixed[0] = b
		if _, err := io.ReadFull(r, fixed[1:size]); err != nil {
			return dst[:start], unexpected(err)
		}
		var h head
		if err := parseHead(fixed[:size], 0, &h); err != nil {
			return dst[:start], err
		}
		dst = append(dst, fixed[:size]...)
		room := uint64(max - (len(dst) - start))
		switch h.kind {
		case kindStr, kindBin, kindExt:
			if uint64(h.n) > room {
				return dst[:start], tooLarge(max)
			}
			for n := h.n; n > 0; {
				k := min(n, readChunk)
				dst = grow(dst, k)
				m := len(dst)
				dst = dst[:m+k]
				if _, err := io.ReadFull(r, dst[m:]); err != nil {
					return dst[:start], unexpected(err)
				}
				n -= k
			}
		case kindArray, kindMap:
			if len(stack) >= c.maxDepth {
				return dst[:start], fmt.Errorf("msgpack: message nested deeper than %d levels", c.maxDepth)
			}
			n := uint64(h.n)
			if h.kind == kindMap {
				n *= 2
			}
			if n > room { // every element takes at least one byte
				return dst[:start], tooLarge(max)
			}
			if n > 0 {
				stack = append(stack, left)
				left = int(n)
			}
		}
	}
}

// grow makes room for n more bytes in b, at least doubling its capacity
// when it must reallocate, so that the copies cost little overall.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(2*cap(b), len(b)+n))
	copy(nb, b)
	return nb
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func tooLarge(max int) error {
	return fmt.Errorf("msgpack: message of more than %d bytes: %w", max, frame.ErrTooLarge)
}
