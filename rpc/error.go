package rpc

import (
	"context"
	"errors"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Code is an error code carried on the wire. The reserved codes follow
// JSON-RPC 2.0 and the XML-RPC fault-interop specification; any other value
// is an application code and passes through every codec unchanged.
type Code int

// Reserved codes. Codes from -32768 to -32000 are reserved by JSON-RPC 2.0;
// polyrpc uses the implementation-defined range -32099..-32000 for
// conditions the specifications do not name.
const (
	CodeParseError     Code = -32700 // the message is not well formed
	CodeInvalidRequest Code = -32600 // well formed, but not a valid request
	CodeMethodNotFound Code = -32601 // no such method
	CodeInvalidParams  Code = -32602 // wrong number, names or types of params
	CodeInternal       Code = -32603 // the server failed (a panic, an unencodable result)

	CodeApplication Code = -32500 // a handler's plain error (fault-interop "application error")

	CodeServerError      Code = -32000 // a server-side condition without a more precise code
	CodeDeadlineExceeded Code = -32001 // the call's deadline passed before it finished
	CodeCanceled         Code = -32002 // the call was canceled
	CodeUnauthenticated  Code = -32003 // the caller did not authenticate
	CodeLimitExceeded    Code = -32004 // a server limit (size, batch, depth, load) was hit
)

var codeText = map[Code]string{
	CodeParseError:       "parse error",
	CodeInvalidRequest:   "invalid request",
	CodeMethodNotFound:   "method not found",
	CodeInvalidParams:    "invalid params",
	CodeInternal:         "internal error",
	CodeApplication:      "application error",
	CodeServerError:      "server error",
	CodeDeadlineExceeded: "deadline exceeded",
	CodeCanceled:         "canceled",
	CodeUnauthenticated:  "unauthenticated",
	CodeLimitExceeded:    "limit exceeded",
}

// String returns the code's standard text, or its number for an application code.
func (c Code) String() string {
	if s, ok := codeText[c]; ok {
		return s
	}
	return strconv.Itoa(int(c))
}

// Error is the error of a failed call, on the server and on the client alike.
// Every codec carries Code and Message; Data is optional detail that codecs
// carry where their format has room for it (JSON-RPC error data, the
// msgpack-rpc error map, the protobuf envelope).
//
// A handler returns an *Error to choose the code the caller sees; any other
// error reaches the caller as CodeApplication with the error's text (see
// AsError). A client returns an *Error when the server answered the call
// with one, or refused the caller's credentials (CodeUnauthenticated, on
// every transport); a call that never got an answer fails with the
// context's error or a transport error instead (ErrConnectionLost, a dial
// error, an HTTP status).
type Error struct {
	Code    Code
	Message string
	// Data is any encodable value on the server. On the client it holds the
	// decoded value in natural Go types (nil, bool, int64, float64, string,
	// []byte, time.Time, []any, map[string]any).
	Data any
}

// NewError returns an error with the given code and message.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Error implements error.
func (e *Error) Error() string {
	return "rpc: " + e.Message + " (code " + strconv.Itoa(int(e.Code)) + ")"
}

// Is reports whether target matches e: another *Error with the same code, or
// context.DeadlineExceeded and context.Canceled for the codes that carry
// them, so that errors.Is(err, context.DeadlineExceeded) holds on a client
// whose call ran out of time on the server.
func (e *Error) Is(target error) bool {
	switch target {
	case context.DeadlineExceeded:
		return e.Code == CodeDeadlineExceeded
	case context.Canceled:
		return e.Code == CodeCanceled
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Errors for errors.Is. The *Error values match any *Error with the same
// code.
var (
	ErrParse           = &Error{Code: CodeParseError}
	ErrInvalidRequest  = &Error{Code: CodeInvalidRequest}
	ErrMethodNotFound  = &Error{Code: CodeMethodNotFound}
	ErrInvalidParams   = &Error{Code: CodeInvalidParams}
	ErrInternal        = &Error{Code: CodeInternal}
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated}
	ErrLimitExceeded   = &Error{Code: CodeLimitExceeded}

	// ErrClosed is returned by calls on a closed client.
	ErrClosed = errors.New("rpc: client closed")
	// ErrConnectionLost fails the calls in flight on a stream that broke.
	// New calls dial a new stream.
	ErrConnectionLost = errors.New("rpc: connection lost")
	// ErrNoReply reports a call that its reply did not answer: a batch
	// reply that left it out, or a reply whose id belongs to another call.
	ErrNoReply = errors.New("rpc: no reply for the call")
)

// AsError converts any error to the *Error a server sends: an *Error found
// with errors.As as it is (a *wire.Error too, with its code); context deadlines and cancellations as
// CodeDeadlineExceeded and CodeCanceled; anything else as CodeApplication
// with the error's text. It returns nil for a nil error.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return fromWire(we)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeDeadlineExceeded, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCanceled, Message: err.Error()}
	}
	return &Error{Code: CodeApplication, Message: err.Error()}
}

// invalidParams returns a CodeInvalidParams error with the given text.
func invalidParams(msg string) *Error {
	return &Error{Code: CodeInvalidParams, Message: "invalid params: " + msg}
}

// fromWire is the *Error of a message's error.
func fromWire(e *wire.Error) *Error {
	return &Error{Code: Code(e.Code), Message: e.Message, Data: e.Data}
}

// toWire stores e in w, the form a codec encodes.
func (e *Error) toWire(w *wire.Error) *wire.Error {
	*w = wire.Error{Code: int(e.Code), Message: e.Message, Data: e.Data}
	return w
}
