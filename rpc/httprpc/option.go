package httprpc

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Option configures a Handler (NewHandler), a Server (NewServer) or a
// client (NewClient, NewTransport). Each option says which of them it
// applies to; given to another, the constructor returns an error. Zero values
// mean the default; an invalid value is an error at construction.
type Option interface {
	apply(*config) error
}

// side is a constructor, or a set of them, that options apply to.
type side uint8

const (
	sideHandler   side = 1 << iota // NewHandler
	sideServer                     // NewServer
	sideTransport                  // NewTransport, and NewClient's transport
	sideClient                     // NewClient only: its rpc.Client
)

// sideClients is what the options of a client's transport apply to.
const sideClients = sideTransport | sideClient

// String names the constructors of s.
func (s side) String() string {
	var names []string
	if s&sideHandler != 0 {
		names = append(names, "NewHandler")
	}
	if s&sideServer != 0 {
		names = append(names, "NewServer")
	}
	switch {
	case s&sideClients == sideClients:
		names = append(names, "NewClient", "NewTransport")
	case s&sideClient != 0:
		names = append(names, "NewClient")
	case s&sideTransport != 0:
		names = append(names, "NewTransport")
	}
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// config is what the options set, for one constructor.
type config struct {
	side  side   // the constructor's
	ctor  string // its name, for errors
	given []string

	log        *slog.Logger
	maxMessage int
	compressAt int // WithCompressThreshold's n, zero if not given

	// Handler.
	origins []string // trusted origins, as browsers send them

	// Server.
	readTimeout   time.Duration
	writeTimeout  time.Duration
	idleTimeout   time.Duration // the client's own engine's too
	maxConns      int
	maxConnsPerIP int
	tls           *tls.Config // the client's own engine's too
	engine        string

	// Client.
	rt       http.RoundTripper
	wrappers []func(http.RoundTripper) http.RoundTripper
	pipeline int
	maxIdle  int
	header   http.Header
	http2    bool
}

func newConfig(s side, ctor string, opts []Option) (*config, error) {
	c := &config{side: s, ctor: ctor}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *config) has(name string) bool { return slices.Contains(c.given, name) }

// logger returns the logger given, or one that discards.
func (c *config) logger() *slog.Logger {
	if c.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.log
}

type option struct {
	name  string
	sides side
	set   func(*config) error
}

func (o option) apply(c *config) error {
	if o.sides&c.side == 0 {
		return fmt.Errorf("httprpc: %s is an option of %s, not of %s", o.name, o.sides, c.ctor)
	}
	c.given = append(c.given, o.name)
	return o.set(c)
}

func nonNegative[T int | time.Duration](name string, v T) error {
	if v < 0 {
		return fmt.Errorf("httprpc: %s(%v): negative", name, v)
	}
	return nil
}

// WithLogger gives a Handler, a Server or a client (NewClient) a logger. A
// Handler logs at Warn level every request it refuses before a codec saw it
// (400, 403, 413, 415, 503); a Server logs a handler's panic at Error level, a
// failed accept at Warn, and its connection limits once per burst, with
// counts; a client passes it to rpc.NewClient. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", sideHandler | sideServer | sideClient, func(c *config) error {
		c.log = l
		return nil
	}}
}

// WithMaxMessageSize limits the bytes read of one message: of a request body
// for a Handler (4 MiB by default; a larger body gets 413 Request Entity Too
// Large), of a reply body for a client (64 MiB by default; a larger reply
// fails the call with an *rpc.Error of code rpc.CodeLimitExceeded).
func WithMaxMessageSize(n int) Option {
	return option{"WithMaxMessageSize", sideHandler | sideClients, func(c *config) error {
		c.maxMessage = n
		return nonNegative("WithMaxMessageSize", n)
	}}
}

// WithCompressThreshold sets the size from which a message is gzipped: a
// Handler's reply, when the request's Accept-Encoding allows gzip (1024 bytes
// by default), and a client's request (by default none is: a server that
// ignores Content-Encoding would take it for a malformed message; a client
// whose gzip request gets 415 sends it again as it is, and all after it).
// math.MaxInt, or any n above the largest message, turns it off. A Handler
// always reads request bodies in gzip and deflate, and a client asks for
// and reads gzip replies.
func WithCompressThreshold(n int) Option {
	return option{"WithCompressThreshold", sideHandler | sideClients, func(c *config) error {
		c.compressAt = n
		return nonNegative("WithCompressThreshold", n)
	}}
}

// WithEngine chooses the HTTP engine of a Server: "polyrpc", its own (the
// default), or "net/http", an http.Server with the Server's options applied
// as far as net/http has them (see NewServer), HTTP/2 included.
func WithEngine(name string) Option {
	return option{"WithEngine", sideServer, func(c *config) error {
		switch name {
		case "", enginePolyrpc, engineNetHTTP:
			c.engine = name
			return nil
		}
		return fmt.Errorf("httprpc: WithEngine(%q): the engines are %q and %q", name, enginePolyrpc, engineNetHTTP)
	}}
}

// WithHTTP2 makes a client call over HTTP/2, all calls multiplexed on one
// connection, with net/http's Transport: h2 by ALPN over https, h2c with
// prior knowledge over http. A server that does not speak it fails the call.
// It is an error with WithRoundTripper and WithPipelining.
func WithHTTP2() Option {
	return option{"WithHTTP2", sideClients, func(c *config) error {
		c.http2 = true
		return nil
	}}
}

// WithTLSConfig makes a Server serve TLS with cfg, which must hold a
// certificate, on the listeners given to Serve; ALPN offers h2 and http/1.1
// unless cfg sets NextProtos, and TLS 1.2 only forward-secret AEAD cipher
// suites (ECDHE with AES-GCM or ChaCha20-Poly1305) unless cfg sets
// CipherSuites. For a client it configures the TLS of its own HTTP engine
// (https URLs), or of WithHTTP2's, which WithRoundTripper replaces: it is an
// error with that. By default a Server serves plain HTTP, and a client uses
// the zero tls.Config (the system's roots).
func WithTLSConfig(cfg *tls.Config) Option {
	return option{"WithTLSConfig", sideServer | sideClients, func(c *config) error {
		if cfg != nil && c.side == sideServer && len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
			return fmt.Errorf("httprpc: WithTLSConfig: no certificate to serve")
		}
		c.tls = cfg
		return nil
	}}
}

// WithReadTimeout bounds reading a whole request, from its first byte, on a
// Server: 60 s by default. A request's head must come within 10 s, or within
// d if shorter: from its first byte on a connection that has had a request
// answered with a status below 400, else from the connection's accept (TLS
// handshake included) or its last response, so that a silent, trickling or
// unauthenticated client holds a connection no longer than that.
func WithReadTimeout(d time.Duration) Option {
	return option{"WithReadTimeout", sideServer, func(c *config) error {
		c.readTimeout = d
		return nonNegative("WithReadTimeout", d)
	}}
}

// WithWriteTimeout bounds each write of a response on a Server (30 s by
// default): a write of up to 64 KiB that the client does not take within d
// fails, and the connection is closed, freeing what the response held. The
// handler's run time is not bounded: bound calls with rpc.WithCallTimeout.
func WithWriteTimeout(d time.Duration) Option {
	return option{"WithWriteTimeout", sideServer, func(c *config) error {
		c.writeTimeout = d
		return nonNegative("WithWriteTimeout", d)
	}}
}

// WithIdleTimeout is how long a kept-alive connection may stay idle: on a
// Server, waiting for its next request once one was answered with a status
// below 400 (120 s by default); in a client's own HTTP engine or WithHTTP2's,
// waiting for the next call (90 s by default), an error with
// WithRoundTripper.
func WithIdleTimeout(d time.Duration) Option {
	return option{"WithIdleTimeout", sideServer | sideClients, func(c *config) error {
		c.idleTimeout = d
		return nonNegative("WithIdleTimeout", d)
	}}
}

// WithMaxConns limits the connections a Server serves at once, on all its
// listeners: at the limit it stops accepting (new connections wait in the
// listen backlog) until one ends, and says so in the log. By default there
// is no limit.
func WithMaxConns(n int) Option {
	return option{"WithMaxConns", sideServer, func(c *config) error {
		c.maxConns = n
		return nonNegative("WithMaxConns", n)
	}}
}

// WithMaxConnsPerIP limits the connections a Server serves at once from one
// source address, an IPv4 address or an IPv6 /64 (256 by default): one more
// is closed as soon as it is accepted, and the refusals are logged in sum.
// Behind a reverse proxy every client has the proxy's address: raise it.
func WithMaxConnsPerIP(n int) Option {
	return option{"WithMaxConnsPerIP", sideServer, func(c *config) error {
		c.maxConnsPerIP = n
		return nonNegative("WithMaxConnsPerIP", n)
	}}
}

// WithAllowOrigin lets web pages of the given origins ("https://app.example",
// scheme://host[:port] as a browser sends it in Origin) call a Handler. By
// default a Handler answers 403 to a cross-origin request from a browser
// (one whose Sec-Fetch-Site or Origin says so, see
// http.CrossOriginProtection), and, on a loopback address, to a request for
// a Host that is a DNS name other than localhost (DNS rebinding): the host
// of an allowed origin is allowed too. Clients that are no browser (curl,
// Python, Go) are not concerned. Options given several times add up.
func WithAllowOrigin(origins ...string) Option {
	return option{"WithAllowOrigin", sideHandler, func(c *config) error {
		for _, o := range origins {
			if _, err := parseOrigin(o); err != nil {
				return err
			}
		}
		c.origins = append(c.origins, origins...)
		return nil
	}}
}

// WithMaxIdleConns is how many idle connections a client's own HTTP engine
// keeps for later calls (64 by default); a connection given back when that
// many wait is closed. Raise it for more calls at once than that. It is an
// error with WithRoundTripper.
func WithMaxIdleConns(n int) Option {
	return option{"WithMaxIdleConns", sideClients, func(c *config) error {
		c.maxIdle = n
		return nonNegative("WithMaxIdleConns", n)
	}}
}

// WithPipelining makes a client's own HTTP engine pipeline up to depth calls
// on each of its connections (by default, and with depth 1, it does not):
// under many concurrent calls, far fewer system calls per call, at the
// price of head-of-line blocking, a slow call holding up the calls behind it
// on its connection. Pipelined replies are read whole before they are
// handed over. It is an error with WithRoundTripper.
func WithPipelining(depth int) Option {
	return option{"WithPipelining", sideClients, func(c *config) error {
		c.pipeline = depth
		return nonNegative("WithPipelining", depth)
	}}
}

// WithHeader adds a header to every request of a client. Options given
// several times add up; a key given twice sends both values. A "Host" header
// sets the request's Host. Content-Type and Accept are the codec's,
// Content-Encoding and Accept-Encoding the compression's (see
// WithCompressThreshold), and the framing fields (Content-Length,
// Transfer-Encoding, Connection) the HTTP engine's: setting them is an error.
func WithHeader(key, value string) Option {
	return option{"WithHeader", sideClients, func(c *config) error {
		if !validFieldName(key) || !validFieldValue(value) {
			return fmt.Errorf("httprpc: WithHeader(%q, %q): not a valid header field", key, value)
		}
		switch k := http.CanonicalHeaderKey(key); k {
		case "Content-Type", "Accept", "Content-Length", "Transfer-Encoding", "Connection", "Content-Encoding", "Accept-Encoding":
			return fmt.Errorf("httprpc: WithHeader: %s is set by httprpc", k)
		}
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Add(key, value)
		return nil
	}}
}

// validFieldName reports whether s is an HTTP field name (a token).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= ' ' || ch >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, ch) >= 0 {
			return false
		}
	}
	return true
}

// validFieldValue reports whether s can be an HTTP field's value: no
// control characters but tabs.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < ' ' && ch != '\t' || ch == 0x7f {
			return false
		}
	}
	return true
}

// WithRoundTripper makes a client send its requests with rt instead of its
// own HTTP engine: net/http's Transport, say. rt then belongs to the caller:
// closing the client leaves its connections alone. The options that
// configure the own engine (WithTLSConfig, WithPipelining, WithIdleTimeout,
// WithMaxIdleConns) are an error with it: configure rt instead. To add to
// the own engine, signing requests say, use WithWrapper.
func WithRoundTripper(rt http.RoundTripper) Option {
	return option{"WithRoundTripper", sideClients, func(c *config) error {
		if rt == nil {
			return fmt.Errorf("httprpc: WithRoundTripper(nil)")
		}
		c.rt = rt
		return nil
	}}
}

// WithWrapper wraps the HTTP engine of a client: its own, as WithTLSConfig
// and WithPipelining configure it, or the one given with WithRoundTripper.
// wrap is called once, by the constructor, and what it
// returns sends every request, to sign it (auth.Key.SignHTTP), add to it or
// observe it. Options given several times add up: the first wraps the
// engine, the next wraps that.
func WithWrapper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return option{"WithWrapper", sideClients, func(c *config) error {
		if wrap == nil {
			return fmt.Errorf("httprpc: WithWrapper(nil)")
		}
		c.wrappers = append(c.wrappers, wrap)
		return nil
	}}
}
