package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// ErrAuthentication is the error of every failed handshake, whatever the
// cause: a wrong key, a digest refused, a protocol error, an oversized frame,
// a peer gone or too slow. errors.Is finds it; the message says which, and the
// underlying error (os.ErrDeadlineExceeded, frame.ErrTooLarge, io.EOF, a
// context error) is wrapped too.
var ErrAuthentication = errors.New("auth: authentication failed")

func authError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrAuthentication}, args...)...)
}

// ioError describes the failure of a handshake read or write during step.
func ioError(ctx context.Context, step string, err error) error {
	if cerr := context.Cause(ctx); cerr != nil {
		return fmt.Errorf("%w: %s: %w", ErrAuthentication, step, cerr)
	}
	var why string
	switch {
	case errors.Is(err, frame.ErrTooLarge):
		why = fmt.Sprintf("handshake message over %d bytes", maxMessage)
	case errors.Is(err, frame.ErrBadHeader):
		why = "protocol error: malformed frame header"
	case errors.Is(err, os.ErrDeadlineExceeded):
		why = "handshake timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		why = "connection closed by the peer"
	default:
		why = "connection error"
	}
	return fmt.Errorf("%w: %s: %s: %w", ErrAuthentication, step, why, err)
}

// quote shows the start of a peer's message in an error, no more.
func quote(b []byte) string {
	const show = 32
	if len(b) > show {
		return fmt.Sprintf("%q... (%d bytes)", b[:show], len(b))
	}
	return fmt.Sprintf("%q", b)
}
