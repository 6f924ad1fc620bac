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
	"runtime"
	"slices"
	"sync"
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
// header is io.EOF; one inside the header is io.ErrUnexpectedEOF.
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
			br.Discard(4)
			return checkLength(n, max)
		}
		b, err = br.Peek(12)
		if err != nil {
			return 0, noEOF(err)
		}
		u := binary.BigEndian.Uint64(b[4:])
		br.Discard(12)
		return checkLong(u, max)
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

// Writer writes frames to an io.Writer from many goroutines at once,
// coalescing them: when nobody is writing, a frame goes out at once in one
// Write call; frames queued while a Write is under way go out together in the
// next one. Writer is safe for concurrent use.
type Writer struct {
	w   io.Writer
	raw bool // no headers: the payloads delimit themselves
	mu  sync.Mutex
	// queued holds frames waiting for the writing goroutine; spare is the
	// buffer that goroutine wrote last, reused to avoid allocation.
	queued, spare []byte
	writing       bool
	err           error
	busy          func() bool
}

// NewWriter returns a Writer that writes frames to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// NewRawWriter returns a Writer that writes each payload as it is, with no
// header, for messages that delimit themselves (msgpack objects); it
// coalesces as NewWriter's does.
func NewRawWriter(w io.Writer) *Writer {
	return &Writer{w: w, raw: true}
}

// SetBusy gives w a hint: when busy reports true as a Write is about to
// start, more frames are expected soon (say, calls in flight whose replies
// are being computed), and w yields the processor once before writing, so
// that they join this Write rather than each costing one. It must be set
// before the first WriteFrame.
func (w *Writer) SetBusy(busy func() bool) { w.busy = busy }

// maxSpare bounds the buffer a Writer keeps between bursts.
const maxSpare = 256 << 10

// WriteFrame queues payload as one frame and sees it written: by this call,
// or by the call that is writing already. It copies payload, which the caller
// may reuse on return. It returns the error of a failed Write, this one's or
// an earlier one's: after a failure every call fails.
func (w *Writer) WriteFrame(payload []byte) error {
	w.mu.Lock()
	if w.err == nil {
		w.queue(payload)
	}
	return w.flushLocked()
}

// maxQueued is how much Queue holds back before writing anyway.
const maxQueued = 64 << 10

// Queue queues payload as one frame without writing it yet, unless the
// frames held back reach 64 KiB: a later WriteFrame or Flush, or the Write
// under way in another goroutine, sends it. A reader that serves several
// requests it found buffered queues their replies and flushes once, when it
// is about to wait for more. Queue copies payload and returns the error of
// an earlier failed Write.
func (w *Writer) Queue(payload []byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.queue(payload)
	if len(w.queued) < maxQueued {
		w.mu.Unlock()
		return nil
	}
	return w.flushLocked()
}

// Flush writes the frames Queue held back, unless a Write under way in
// another goroutine will. It returns the error of a failed Write.
func (w *Writer) Flush() error {
	w.mu.Lock()
	return w.flushLocked()
}

func (w *Writer) queue(payload []byte) {
	if w.raw {
		w.queued = append(w.queued, payload...)
	} else {
		w.queued = Append(w.queued, payload)
	}
}

// flushLocked writes what is queued, unless another goroutine is writing
// already and will; w.mu is held, and released on return.
func (w *Writer) flushLocked() error {
	if w.writing || w.err != nil || len(w.queued) == 0 {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.writing = true
	if w.busy != nil && w.busy() {
		// More frames are on their way: let their goroutines run and
		// queue them, to go out in this Write.
		w.mu.Unlock()
		runtime.Gosched()
		w.mu.Lock()
	}
	for len(w.queued) > 0 && w.err == nil {
		buf := w.queued
		w.queued = w.spare[:0]
		w.mu.Unlock()
		_, err := w.w.Write(buf)
		w.mu.Lock()
		if err != nil {
			w.err = err
		}
		if cap(buf) <= maxSpare {
			w.spare = buf[:0]
		} else {
			w.spare = nil
		}
	}
	w.writing = false
	err := w.err
	w.mu.Unlock()
	return err
}
