package wire

import (
	"context"
	"errors"
)

// Stream is a connection that carries whole messages both ways, such as the
// TCP transport's framed connections. A client multiplexes its calls over
// one Stream (see rpc.NewStreamClient).
type Stream interface {
	// WriteMessage sends one message. It is called from many goroutines at
	// once and must not keep msg after it returns. ctx is the context of the
	// call that sends msg: a stream that writes other calls' messages along
	// with it (coalescing) may leave that work to another goroutine once ctx
	// ends. A write must not fail because ctx ended while msg was partly
	// written, which would break every call on the stream; it fails when
	// the peer stops taking bytes for longer than the stream's write
	// timeout.
	WriteMessage(ctx context.Context, msg []byte) error
	// ReadMessage reads the next message, appending it to dst, which it may
	// grow. It is called from one goroutine at a time.
	ReadMessage(dst []byte) ([]byte, error)
	// Close closes the stream, making ReadMessage return. Close is idempotent.
	Close() error
}

// Dialer opens a Stream, within ctx's deadline.
type Dialer func(ctx context.Context) (Stream, error)

// LeadStream is a Stream whose reading can be left to the calls waiting on
// it: the call that finds nobody reading reads, delivering the replies of
// other calls as they come, until its own arrives; then it hands the
// reading to another waiting call, if any. A caller that waits for each
// reply before sending its next call then reads its reply itself, which
// saves a hand-off between goroutines on every call. A client over a plain
// Stream reads it with a goroutine of its own.
type LeadStream interface {
	Stream
	// InterruptRead makes the ReadMessage under way, or else the next one,
	// return ErrReadInterrupted soon, without losing its place: the next
	// ReadMessage goes on with the message where it stopped. It is called
	// from any goroutine, when the context of the call reading ends.
	InterruptRead()
	// CheckIdle reports, without blocking, an error if the stream is known
	// to be unusable, such as closed by the peer while nobody read it. It is
	// called before a call is sent on a stream that nobody reads, never
	// during a ReadMessage.
	CheckIdle() error
}

// ErrReadInterrupted is returned by a LeadStream's ReadMessage after
// InterruptRead.
var ErrReadInterrupted = errors.New("wire: read interrupted")

// BusyHinter is a Stream that coalesces writes and wants to know whether to
// hold a write back a moment for the calls about to be written. A client
// calls SetBusy once, before its first call, with a function that reports
// whether calls other than the one writing are waiting on the stream.
type BusyHinter interface {
	SetBusy(busy func() bool)
}
