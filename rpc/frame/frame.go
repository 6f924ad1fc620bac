// Package frame reads and writes length-prefixed frames exactly as Python's
// multiprocessing.connection does (Connection.send_bytes / recv_bytes): a
// 4-byte big-endian signed length, then the payload; a payload longer than
// 0x7fffffff bytes has the length -1 followed by an 8-byte big-endian
// unsigned length.
//
// The TCP transport and the HMAC handshake are built on it, and a Python
// program with only its standard library speaks it.
package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// MaxHeaderSize is the size of the longest header.
const MaxHeaderSize = 12

// Errors of a frame that cannot be read. After any error but io.EOF at a
// frame boundary, the stream is out of step and must be closed.
var (
	ErrTooLarge  = errors.New("frame: frame too large")
	ErrBadHeader = errors.New("frame: malformed length header")
)

// AppendHeader appends the header of an n-byte payload to dst.
func AppendHeader(dst []byte, n int) []byte {
	if n <= math.MaxInt32 {
		return binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// Append appends payload as one frame to dst.
func Append(dst, payload []byte) []byte {
	return append(AppendHeader(dst, len(payload)), payload...)
}

// Write writes payload as one frame with a single Write call.
func Write(w io.Writer, payload []byte) error {
	_, err := w.Write(Append(make([]byte, 0, MaxHeaderSize+len(payload)), payload))
	return err
}

// readChunk is how much a frame's buffer grows first; it then doubles with
// the bytes that arrived, so that a header that promises more bytes than
// arrive costs memory only for what arrived: a peer stalled one byte into a
// frame announced as 4 MiB holds 4 KiB, not a whole chunk, per connection.
const readChunk = 4 << 10

// ReadHeader reads a frame header and returns the payload length. A length
// over max is ErrTooLarge, refused before anything is allocated; a negative
// length other than -1 is ErrBadHeader. A clean end of stream before the
// header is io.EOF; one inside the header is io.ErrUnexpectedEOF. From a
// bufio.Reader, a header refused (ErrTooLarge, ErrBadHeader) is left
// unread, for the caller to look at (it may be another protocol's).
func ReadHeader(r io.Reader, max int) (int, error) {
	if br, ok := r.(*bufio.Reader); ok {
		// Peeking keeps the header off the heap on the hot path, and
		// consumes it only once whole: a read interrupted by a deadline
		// inside a header can be tried again.
		b, err := br.Peek(4)
		if err != nil {
			if len(b) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		n := int64(int32(binary.BigEndian.Uint32(b)))
		if n != -1 {
			m, err := checkLength(n, max)
			if err == nil {
				br.Discard(4)
			}
			return m, err
		}
		b, err = br.Peek(12)
		if err != nil {
			return 0, noEOF(err)
		}
		m, err := checkLong(binary.BigEndian.Uint64(b[4:]), max)
		if err == nil {
			br.Discard(12)
		}
		return m, err
	}
	var h [8]byte
	if _, err := io.ReadFull(r, h[:4]); err != nil {
		return 0, err
	}
	n := int64(int32(binary.BigEndian.Uint32(h[:4])))
	if n != -1 {
		return checkLength(n, max)
	}
	if _, err := io.ReadFull(r, h[:8]); err != nil {
		return 0, noEOF(err)
	}
	return checkLong(binary.BigEndian.Uint64(h[:8]), max)
}

func checkLength(n int64, max int) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("%w: length %d", ErrBadHeader, n)
	}
	if n > int64(max) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	return int(n), nil
}

func checkLong(u uint64, max int) (int, error) {
	if u > uint64(max) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, u, max)
	}
	return int(u), nil
}

// Read reads one frame of at most max bytes and appends its payload to dst.
// Memory grows with the bytes that actually arrive, not with the length the
// header claims. On error it returns dst unchanged.
func Read(r io.Reader, dst []byte, max int) ([]byte, error) {
	n, err := ReadHeader(r, max)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst, err = ReadPayload(r, dst, n)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// ReadPayload reads an n-byte payload, as announced by ReadHeader, and
// appends it to dst. On error, the bytes that arrived are appended: a read
// interrupted by a deadline can go on for the rest.
func ReadPayload(r io.Reader, dst []byte, n int) ([]byte, error) {
	start := len(dst)
	for len(dst)-start < n {
		want := min(n-(len(dst)-start), max(readChunk, len(dst)-start))
		dst = slices.Grow(dst, want)
		m, err := io.ReadFull(r, dst[len(dst):len(dst)+want])
		dst = dst[:len(dst)+m]
		if err != nil {
			return dst, noEOF(err)
		}
	}
	return dst, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
