package rpc

import "context"

// Handler serves a call. On a server the innermost Handler decodes the
// params and runs the registered method; on a client it sends the call and
// decodes the reply.
type Handler func(ctx context.Context, call *Call) (any, error)

// Interceptor runs around every call: on a server around the handler, on a
// client around the exchange with the server. It may inspect the call,
// refuse it, change the context, and time and observe the outcome; it calls
// next to go on. Interceptors see notifications too (Call.Notification).
//
// The result that next returns is, on a server, the handler's result; on a
// client, the pointer given to Client.Call, filled in (nil for a
// notification). A panic in an interceptor on a server is handled as one in
// a handler.
type Interceptor func(ctx context.Context, call *Call, next Handler) (any, error)

// chain wraps h in the interceptors, the first outermost. It is built once,
// when the server or client is made.
func chain(h Handler, is []Interceptor) Handler {
	for i := len(is) - 1; i >= 0; i-- {
		ic, next := is[i], h
		h = func(ctx context.Context, call *Call) (any, error) {
			return ic(ctx, call, next)
		}
	}
	return h
}
