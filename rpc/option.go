package rpc

import (
	"context"
	"time"
)

// Option configures a Server.
type Option interface {
	applyServer(*serverConfig)
}

type serverConfig struct {
	codecs       []Codec
	interceptors []Interceptor
	maxBatch     int
	callTimeout  time.Duration
	onPanic      func(ctx context.Context, method string, value any, stack []byte)
	onError      func(ctx context.Context, method string, e *Error)
}

// DefaultMaxBatch is the default limit on the calls in one batch.
const DefaultMaxBatch = 1000

func defaultServerConfig() serverConfig {
	return serverConfig{maxBatch: DefaultMaxBatch}
}

type optionFunc func(*serverConfig)

func (f optionFunc) applyServer(c *serverConfig) { f(c) }

// WithCodecs gives the server exactly these codecs instead of a copy of the
// registry (see RegisterCodec).
func WithCodecs(codecs ...Codec) Option {
	codecs = append([]Codec(nil), codecs...)
	return optionFunc(func(c *serverConfig) { c.codecs = codecs })
}

// WithInterceptors adds interceptors around every call, in order: the first
// is the outermost. Options given several times add up.
func WithInterceptors(is ...Interceptor) Option {
	is = append([]Interceptor(nil), is...)
	return optionFunc(func(c *serverConfig) { c.interceptors = append(c.interceptors, is...) })
}

// WithMaxBatch limits the calls in one batch (DefaultMaxBatch by default);
// a larger batch gets one CodeLimitExceeded error. n <= 0 means no limit.
func WithMaxBatch(n int) Option {
	return optionFunc(func(c *serverConfig) { c.maxBatch = n })
}

// WithCallTimeout gives every call a deadline d after it starts, unless its
// context already ends sooner. Zero, the default, means no deadline.
func WithCallTimeout(d time.Duration) Option {
	return optionFunc(func(c *serverConfig) { c.callTimeout = d })
}

// WithPanicHandler sets a function called with the recovered value and stack
// whenever a handler or interceptor panics. The caller still gets a plain
// CodeInternal error that reveals nothing of the panic. Use it to log.
func WithPanicHandler(f func(ctx context.Context, method string, value any, stack []byte)) Option {
	return optionFunc(func(c *serverConfig) { c.onPanic = f })
}

// WithErrorHandler sets a function told of every error reply the server
// sends for a protocol or server condition: a message that cannot be parsed,
// an invalid request, a limit hit, an internal error. Application faults,
// missing methods and invalid params are the caller's business and are not
// reported. method is empty when the message could not be read that far.
// Use it to log; it runs on the serving goroutine, so keep it quick.
func WithErrorHandler(f func(ctx context.Context, method string, e *Error)) Option {
	return optionFunc(func(c *serverConfig) { c.onError = f })
}
