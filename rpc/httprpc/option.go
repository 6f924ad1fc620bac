package httprpc

import (
	"crypto/tls"
	"net/http"
)

// Option configures a Handler.
type Option interface {
	applyHandler(*handlerConfig)
}

type handlerConfig struct {
	maxBody int64
	onError func(r *http.Request, status int, msg string)
}

type handlerOption func(*handlerConfig)

func (f handlerOption) applyHandler(c *handlerConfig) { f(c) }

// WithMaxBodySize limits a request body to n bytes (DefaultMaxBodySize by
// default); a larger body gets 413 Request Entity Too Large. n <= 0 restores
// the default, because a handler without a limit can be made to buffer any
// amount of memory.
func WithMaxBodySize(n int64) Option {
	return handlerOption(func(c *handlerConfig) {
		if n <= 0 {
			n = DefaultMaxBodySize
		}
		c.maxBody = n
	})
}

// WithErrorHandler sets a function told of every request refused before a
// codec saw it (413, 415, 400), with the status and the message sent. Use it
// to log; it must not write to the response.
func WithErrorHandler(f func(r *http.Request, status int, msg string)) Option {
	return handlerOption(func(c *handlerConfig) { c.onError = f })
}

// ClientOption configures a Transport.
type ClientOption interface {
	applyTransport(*transportConfig)
}

type transportConfig struct {
	client   *http.Client
	rt       http.RoundTripper
	tls      *tls.Config
	pipeline int
	header   http.Header
	maxReply int64
}

type transportOption func(*transportConfig)

func (f transportOption) applyTransport(c *transportConfig) { f(c) }

// WithHTTPClient makes the Transport send its requests with c instead of a
// client of its own. c then belongs to the caller: Transport.Close leaves its
// connections alone, and its redirect policy and timeouts apply as they are.
func WithHTTPClient(c *http.Client) ClientOption {
	return transportOption(func(cfg *transportConfig) { cfg.client = c })
}

// WithRoundTripper makes the Transport send its requests with rt.RoundTrip
// directly, with no http.Client around it (so no redirects, cookies or
// client timeouts). Use it to wrap the package's RoundTripper, as
// auth.NewHTTPRoundTripper does to sign requests. rt then belongs to the
// caller: Transport.Close leaves its connections alone. WithHTTPClient, if
// also given, wins.
func WithRoundTripper(rt http.RoundTripper) ClientOption {
	return transportOption(func(cfg *transportConfig) { cfg.rt = rt })
}

// WithTLSConfig configures the TLS connections of the Transport's own client
// (https URLs); it has no effect with WithHTTPClient or WithRoundTripper,
// whose TLS is their own.
func WithTLSConfig(c *tls.Config) ClientOption {
	return transportOption(func(cfg *transportConfig) { cfg.tls = c })
}

// WithPipelining makes the Transport's own client pipeline up to depth calls
// on each of its connections to the server (RoundTripper.Pipeline): under
// many concurrent calls, far fewer system calls per call, at the price of
// head-of-line blocking: a slow call holds up the calls behind it on its
// connection. It has no effect with WithHTTPClient or WithRoundTripper.
func WithPipelining(depth int) ClientOption {
	return transportOption(func(cfg *transportConfig) { cfg.pipeline = depth })
}

// WithHeader adds a header to every request. Options given several times add
// up; a key given twice sends both values. A "Host" header sets the request's
// Host. Content-Type and Accept are the codec's and cannot be overridden.
func WithHeader(key, value string) ClientOption {
	return transportOption(func(cfg *transportConfig) {
		if cfg.header == nil {
			cfg.header = http.Header{}
		}
		cfg.header.Add(key, value)
	})
}

// WithMaxReplySize limits a reply body to n bytes (DefaultMaxReplySize by
// default); a larger reply fails the call with ErrReplyTooLarge. n <= 0
// restores the default.
func WithMaxReplySize(n int64) ClientOption {
	return transportOption(func(cfg *transportConfig) {
		if n <= 0 {
			n = DefaultMaxReplySize
		}
		cfg.maxReply = n
	})
}
