package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// ErrAuthentication matches every authentication failure, on every
// transport: errors.Is(err, ErrAuthentication) holds for a failed handshake
// of this package, whatever the cause (a wrong key, a digest refused, a
// protocol error, an oversized frame, a peer gone or too slow), and for any
// call a server refused for the caller's credentials. It is
// rpc.ErrUnauthenticated: each such error is, or wraps, an *rpc.Error with
// rpc.CodeUnauthenticated, whose message says why. A failed handshake wraps
// the underlying error too (os.ErrDeadlineExceeded, frame.ErrTooLarge,
// io.EOF, a context error).
var ErrAuthentication = rpc.ErrUnauthenticated

// authFailure is the error of a failed handshake: an *rpc.Error with
// CodeUnauthenticated, and the error that caused it, if any.
type authFailure struct {
	rpc   rpc.Error
	cause error
}

func (f *authFailure) Error() string { return f.rpc.Message }

func (f *authFailure) Unwrap() []error {
	if f.cause == nil {
		return []error{&f.rpc}
	}
	return []error{&f.rpc, f.cause}
}

const failPrefix = "auth: authentication failed: "

// fail returns a handshake failure saying why, and wrapping cause unless it
// is nil.
func fail(cause error, why string) error {
	msg := failPrefix + why
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &authFailure{rpc: rpc.Error{Code: rpc.CodeUnauthenticated, Message: msg}, cause: cause}
}

func authError(format string, args ...any) error {
	return fail(nil, fmt.Sprintf(format, args...))
}

// ioError describes the failure of a handshake read or write during step.
func ioError(ctx context.Context, step string, err error) error {
	if cerr := context.Cause(ctx); cerr != nil {
		return fail(cerr, step)
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
	return fail(err, step+": "+why)
}

// quote shows the start of a peer's message in an error, no more.
func quote(b []byte) string {
	const show = 32
	if len(b) > show {
		return fmt.Sprintf("%q... (%d bytes)", b[:show], len(b))
	}
	return fmt.Sprintf("%q", b)
}
