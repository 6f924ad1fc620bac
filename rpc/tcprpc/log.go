package tcprpc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/polyrpc/polyrpc/internal/events"
	"github.com/polyrpc/polyrpc/internal/netlimit"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// A flood of failing connections (a scan, a client with the wrong key
// retrying as fast as it can) must not fill the log: 146k failed
// handshakes in 15 s once wrote 146k lines. So a connection that ends with
// an error is logged at once only if its source address had no failure of
// the same kind in the last 10 s; the others are counted, and each count
// logged once per 10 s with the last error as an example
// (netlimit.FailLog).

// failure is an error that ended a connection, in the phase it ended in.
type failure struct {
	phase string // "TLS handshake", "handshake", "waiting for a message", ...
	err   error
}

func (f *failure) Error() string { return "tcprpc: " + f.phase + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// failed returns the failure of err in phase.
func failed(phase string, err error) error { return &failure{phase, err} }

// foreign is a frame refused because the peer speaks another protocol.
type foreign struct {
	proto string
	err   error
}

func (f *foreign) Error() string { return "the client speaks " + f.proto + ": " + f.err.Error() }
func (f *foreign) Unwrap() error { return f.err }

// kind is the kind of failure err is, for counting alike failures together:
// its phase, and what went wrong in a few words.
func kind(err error) string {
	phase := "other"
	var f *failure
	if errors.As(err, &f) {
		phase = f.phase
	}
	var fp *foreign
	switch {
	case errors.As(err, &fp):
		return phase + ": " + fp.proto
	case errors.Is(err, frame.ErrTooLarge):
		return phase + ": too large"
	case errors.Is(err, frame.ErrBadHeader):
		return phase + ": malformed"
	case errors.Is(err, errUnknownCodec):
		return phase + ": unknown codec"
	case isTimeout(err):
		return phase + ": timeout"
	case isClosed(err):
		return phase + ": closed"
	}
	return phase
}

// connLog logs the connections that end with an error.
type connLog struct{ *netlimit.FailLog }

func newConnLog(l *slog.Logger) *connLog {
	return &connLog{netlimit.NewFailLog(l, "tcprpc: connection ended", "tcprpc: connections ended alike", "kind", false)}
}

// limitHit reports a limit of the server's hit to internal/events.
func limitHit(limit string) { events.LimitHit("tcp", limit) }

// ended logs, or counts, the connection from remote that err ended.
func (l *connLog) ended(remote net.Addr, err error) {
	if errors.Is(err, frame.ErrTooLarge) {
		limitHit("max_message_size")
	}
	l.Record(remote, kind(err), err)
}

// close logs every count not logged yet: at Shutdown or Close, after which
// the server reports no more failures.
func (l *connLog) close() { l.Close() }

// ipSource is the source address of an IP connection, as the limits per
// source count it (netlimit.Source), or "" for other addresses.
func ipSource(addr net.Addr) string {
	if p := netlimit.Source(addr); p.IsValid() {
		if p.Addr().Is4() {
			return p.Addr().String()
		}
		return p.String()
	}
	return ""
}

// errUnknownCodec is the error of a frame in no codec the server knows.
var errUnknownCodec = errors.New("a frame in no known codec")

func unknownCodec(first byte) error { return fmt.Errorf("%w (first byte %#x)", errUnknownCodec, first) }
