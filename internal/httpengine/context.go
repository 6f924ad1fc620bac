package httpengine

import (
	"context"
	"sync"
	"time"
)

// reqContext is the context of a request served over HTTP/1: the
// connection's context (which ends when the server closes and when the
// client goes away), ended as well when the handler returns, as net/http
// ends a request's. It lives in the request's response, and costs no
// allocation of its own as long as nobody waits on it: a handler that never
// calls Done, or derives no cancelable context from it, leaves it a flag.
// The first Done makes the context.WithCancel of the connection's context
// that it is from then on.
type reqContext struct {
	conn context.Context // the connection's context

	mu     sync.Mutex
	live   context.Context // made by the first Done; nil until then
	cancel context.CancelFunc
	ended  bool // the handler returned
}

// materialize returns the cancelable context, made on the first call.
func (c *reqContext) materialize() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		c.live, c.cancel = context.WithCancel(c.conn)
		if c.ended {
			c.cancel()
		}
	}
	return c.live
}

// end ends the context: its handler returned.
func (c *reqContext) end() {
	c.mu.Lock()
	c.ended = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *reqContext) Deadline() (time.Time, bool) { return c.conn.Deadline() }

func (c *reqContext) Done() <-chan struct{} { return c.materialize().Done() }

func (c *reqContext) Err() error {
	c.mu.Lock()
	live, ended := c.live, c.ended
	c.mu.Unlock()
	switch {
	case live != nil:
		return live.Err()
	case ended:
		return context.Canceled
	}
	return c.conn.Err()
}

// Value looks key up in the connection's context; the request adds no
// values of its own. Package context finds the cancelable context a
// context derives from by a key of type *int (its cancelCtxKey): that one
// is answered by the cancelable context, made for it, so that contexts
// derived from this one (WithCancel, WithTimeout, AfterFunc) hang on it
// directly, without a goroutine each, and context.Cause agrees with Err.
func (c *reqContext) Value(key any) any {
	if _, ok := key.(*int); ok {
		return c.materialize().Value(key)
	}
	return c.conn.Value(key)
}

func (c *reqContext) String() string { return "httpengine.requestContext" }
