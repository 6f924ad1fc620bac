package rpc

import "context"

// Handler serves one decoded request and returns its result.
type Handler func(ctx context.Context, req *Request) (any, error)

// Interceptor runs around every call: it may inspect the request (the method
// is known, the params are still encoded), refuse it, or change the context,
// and calls next to go on. Interceptors see notifications too
// (CallInfo.Notification). A panic in an interceptor is handled as one in a
// handler.
type Interceptor func(ctx context.Context, req *Request, next Handler) (any, error)

// chain wraps h in the interceptors, the first outermost. It is built once,
// when the server is made.
func chain(h Handler, is []Interceptor) Handler {
	for i := len(is) - 1; i >= 0; i-- {
		ic, next := is[i], h
		h = func(ctx context.Context, req *Request) (any, error) {
			return ic(ctx, req, next)
		}
	}
	return h
}
