package frame

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/netpeek"
)

// Writer writes frames to an io.Writer from many goroutines at once,
// coalescing them: when nobody is writing, a frame goes out at once; frames
// queued while a write is under way go out together after it, written by
// the same goroutine. Large buffers are written in chunks of 64 KiB, so
// that a write's progress can be seen. Once nothing is queued, a Writer
// keeps at most 16 KiB of buffers, whatever it wrote before. Writer is safe
// for concurrent use.
//
// When the io.Writer is a net.Conn, the Writer watches its writes: one to a
// peer that takes no bytes fails after the write timeout (SetWriteTimeout)
// or, once the context of the goroutine writing has ended, after 200 ms
// (WriteFrame). After a failed write every write fails, and the io.Writer is
// closed if it is an io.Closer: the stream is out of step.
type Writer struct {
	w     io.Writer
	conn  net.Conn // w, if its writes are watched
	raw   bool     // no headers: the payloads delimit themselves
	mu    sync.Mutex
	watch watch
	// queued holds frames waiting for the writing goroutine; spare is the
	// buffer that goroutine wrote last, reused to avoid allocation.
	queued, spare []byte
	writing       bool
	err           error
	busy          func() bool
	written       func(n int)
}

// NewWriter returns a Writer that writes frames to w.
func NewWriter(w io.Writer) *Writer {
	conn, _ := w.(net.Conn)
	return &Writer{w: w, conn: conn}
}

// NewRawWriter returns a Writer that writes each payload as it is, with no
// header, for messages that delimit themselves (msgpack objects); it
// coalesces as NewWriter's does.
func NewRawWriter(w io.Writer) *Writer {
	fw := NewWriter(w)
	fw.raw = true
	return fw
}

// SetBusy gives w a hint: when busy reports true as a write is about to
// start, more frames are expected soon (say, calls in flight whose replies
// are being computed), and w yields the processor once before writing, so
// that they join this write rather than each costing one. It must be set
// before the first WriteFrame.
func (w *Writer) SetBusy(busy func() bool) { w.busy = busy }

// SetWriteTimeout makes a write to a peer that takes no bytes for d fail,
// and the Writer with it, so that a peer that stops reading cannot hold the
// writing goroutines forever. It takes effect if the io.Writer is a
// net.Conn, and must be set before the first write.
func (w *Writer) SetWriteTimeout(d time.Duration) { w.watch.timeout = d }

// SetWritten makes w call f with the number of bytes of each write that
// went out, headers included, as soon as it has: a caller that counts the
// bytes of the frames it queued (a server's memory budget) learns when they
// are gone. Bytes never written, after a failure, are never reported. f
// must not call w. It must be set before the first write.
func (w *Writer) SetWritten(f func(n int)) { w.written = f }

// maxSpare bounds the buffer a Writer reuses from one write to the next
// while it is busy.
const maxSpare = 256 << 10

// keepIdle bounds each of the two buffers a Writer keeps once nothing is
// queued: a connection that sent a burst of large frames, then goes quiet,
// keeps at most 2×keepIdle bytes, however many such connections there are.
const keepIdle = 8 << 10

// chunk is the most one Write call is given.
const chunk = 64 << 10

// stallWindow is how long a write may go without progress once the context
// of the goroutine writing ended, before the Writer fails.
const stallWindow = 200 * time.Millisecond

// WriteFrame queues payload as one frame and sees it written: by this call,
// or by the goroutine that is writing already, in which case it returns at
// once. It copies payload, which the caller may reuse on return. It returns
// the error of a failed write, this one's or an earlier one's: after a
// failure every call fails.
//
// ctx is the caller's. A goroutine that writes may go on to write the
// frames queued behind its own: once ctx has ended and its own frame is out,
// it leaves the rest to a new goroutine (at the end of a 64 KiB chunk) and
// returns nil. Until then it goes on writing, since a frame half written
// cannot be taken back, as long as the peer takes bytes: once ctx has ended,
// 200 ms without progress fail the write and the Writer (the peer is not
// reading, and every frame behind is stuck anyway). Progress is the bytes
// the peer's end acknowledges where the system tells them (Linux), and
// chunks written otherwise.
func (w *Writer) WriteFrame(ctx context.Context, payload []byte) error {
	w.mu.Lock()
	if w.err == nil {
		w.queue(payload)
	}
	return w.flushLocked(ctx)
}

// maxQueued is how much Queue holds back before writing anyway.
const maxQueued = 64 << 10

// Queue queues payload as one frame without writing it yet, unless the
// frames held back reach 64 KiB: a later WriteFrame or Flush, or the write
// under way in another goroutine, sends it. A reader that serves several
// requests it found buffered queues their replies and flushes once, when it
// is about to wait for more. Queue copies payload and returns the error of
// an earlier failed write.
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
	return w.flushLocked(context.Background())
}

// Flush writes the frames Queue held back, unless a write under way in
// another goroutine will. It returns the error of a failed write.
func (w *Writer) Flush() error {
	w.mu.Lock()
	return w.flushLocked(context.Background())
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
func (w *Writer) flushLocked(ctx context.Context) error {
	if w.writing || w.err != nil || len(w.queued) == 0 {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.writing = true
	if w.busy != nil && w.busy() {
		// More frames are on their way: let their goroutines run and
		// queue them, to go out in this write.
		w.mu.Unlock()
		runtime.Gosched()
		w.mu.Lock()
	}
	return w.writeLoop(ctx)
}

// drain writes what is queued for a goroutine that left: w.writing is set.
func (w *Writer) drain() {
	w.mu.Lock()
	w.writeLoop(context.Background())
}

// writeLoop writes what is queued until nothing is, for a caller whose
// frame, if any, is in the first buffer it takes; w.mu is held and
// w.writing set, and both are released on return.
func (w *Writer) writeLoop(ctx context.Context) error {
	own := true // the caller's frame is in buf
	for len(w.queued) > 0 && w.err == nil {
		if !own && ctx.Err() != nil {
			break // the caller's frame is out and ctx ended: leave
		}
		buf := w.queued
		w.queued = w.spare[:0]
		w.mu.Unlock()
		n, err := w.write(ctx, buf, own)
		if w.written != nil && n > 0 {
			w.written(n)
		}
		w.mu.Lock()
		own = false
		if err == errLeave {
			// ctx ended inside buf, after the caller's frame: the rest
			// of buf goes first.
			w.queued = append(slices.Clip(buf[n:]), w.queued...)
			break
		}
		if err != nil {
			w.fail(err)
		}
		if cap(buf) <= maxSpare {
			w.spare = buf[:0]
		} else {
			w.spare = nil
		}
	}
	if w.err == nil && len(w.queued) > 0 {
		// Left by a caller whose context ended: another goroutine writes
		// on, and w.writing stays set for it.
		w.mu.Unlock()
		go w.drain()
		return nil
	}
	w.writing = false
	if w.err != nil {
		// Nothing queued will ever go out.
		w.queued, w.spare = nil, nil
	}
	if cap(w.queued) > keepIdle && len(w.queued) == 0 {
		w.queued = nil
	}
	if cap(w.spare) > keepIdle {
		w.spare = nil
	}
	err := w.err
	w.mu.Unlock()
	return err
}

// errLeave stops a write that leaves the rest of its buffer to another
// goroutine.
var errLeave = errors.New("frame: leave the rest")

// write writes buf in chunks and returns how much of it went out. own says
// that buf ends with the frame of the caller, whose context is ctx. Unless
// own, it stops with errLeave once ctx has ended.
func (w *Writer) write(ctx context.Context, buf []byte, own bool) (int, error) {
	off := 0
	for off < len(buf) {
		if !own && ctx.Err() != nil {
			return off, errLeave
		}
		end := min(off+chunk, len(buf))
		if w.conn == nil {
			n, err := w.w.Write(buf[off:end])
			off += n
			if err != nil {
				return off, err
			}
			continue
		}
		w.watch.start(w, ctx)
		n, err := w.w.Write(buf[off:end])
		off += n
		if why := w.watch.stop(n); why != nil {
			return off, fmt.Errorf("%w: %w", why, err)
		}
		if err != nil {
			return off, err
		}
	}
	return off, nil
}

// fail records err as the Writer's, and closes w; w.mu is held.
func (w *Writer) fail(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	if c, ok := w.w.(io.Closer); ok {
		c.Close()
	}
}

// watch looks at the chunk being written every tick while it waits, and
// ends the write, by a deadline in the past, when the peer takes no bytes
// for the write timeout, or for a tick that ends after the writing
// goroutine's context did. No deadline is set otherwise: over TLS, a write
// that timed out leaves the connection unusable. Its timer runs while
// chunks are written, and stops at the first look that finds none, so that
// a write costs no timer operation while the connection is busy, and an
// idle connection none at all.
type watch struct {
	timeout time.Duration

	mu      sync.Mutex
	timer   *time.Timer
	armed   bool
	w       *Writer
	active  bool            // a chunk is being written
	ctx     context.Context // of the goroutine writing it
	written int64           // bytes of the chunks written
	seen    int64           // written at the last look
	unsent  int             // the system's count at the last look, or -1
	idle    time.Duration   // without progress, as of the last look
	peek    *netpeek.Peeker // made at the first look at a waiting write
	why     error           // set once the watch ended the write
}

// tick is the time between two looks.
func (wt *watch) tick() time.Duration {
	if wt.timeout > 0 && wt.timeout < stallWindow {
		return wt.timeout
	}
	return stallWindow
}

// start watches the chunk w is about to write for the goroutine of ctx.
func (wt *watch) start(w *Writer, ctx context.Context) {
	wt.mu.Lock()
	wt.active, wt.ctx = true, ctx
	if !wt.armed {
		wt.armed = true
		if wt.timer == nil {
			wt.w, wt.unsent = w, -1
			wt.timer = time.AfterFunc(wt.tick(), wt.look)
		} else {
			wt.timer.Reset(wt.tick())
		}
	}
	wt.mu.Unlock()
}

// stop ends the watch of a chunk of which n bytes were written, and returns
// why the watch ended the write, if it did.
func (wt *watch) stop(n int) error {
	wt.mu.Lock()
	wt.active, wt.ctx = false, nil
	wt.written += int64(n)
	why := wt.why
	wt.mu.Unlock()
	return why
}

// look runs every tick while chunks are being written.
func (wt *watch) look() {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if !wt.active || wt.why != nil {
		// Nothing waits: stop until the next chunk, and forget what was
		// seen, which says nothing of the next wait.
		wt.armed, wt.idle, wt.unsent = false, 0, -1
		wt.seen = wt.written
		return
	}
	tick := wt.tick()
	progress := wt.written != wt.seen
	wt.seen = wt.written
	known := wt.unsent >= 0
	if !progress && wt.peek == nil {
		wt.peek = netpeek.New(wt.w.conn)
	}
	if u, ok := wt.peek.Unsent(); ok {
		progress = progress || known && u < wt.unsent
		wt.unsent = u
	} else {
		known = true // chunks written are all there is to go by
	}
	if progress {
		wt.idle = 0
	} else {
		wt.idle += tick
	}
	switch {
	case !progress && known && wt.ctx.Err() != nil:
		wt.why = fmt.Errorf("frame: write stalled: the peer took no bytes for %v after the writer's context ended", wt.idle)
	case wt.timeout > 0 && wt.idle >= wt.timeout:
		wt.why = fmt.Errorf("frame: write timed out: the peer took no bytes for %v", wt.idle)
	default:
		wt.timer.Reset(tick)
		return
	}
	wt.armed = false
	wt.w.conn.SetWriteDeadline(time.Unix(1, 0))
}
