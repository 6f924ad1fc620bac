package httpengine

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/netpeek"
)

// Defaults of a RoundTripper's zero fields.
const (
	rtDefaultHandshakeTimeout = 10 * time.Second
	rtDefaultIdleTimeout      = 90 * time.Second
	rtDefaultMaxIdlePerHost   = 64
)

// rtBufSize is the size of a connection's read and write buffers.
const rtBufSize = 4 << 10

// rtMaxScratch bounds the buffer for response heads that a connection
// keeps.
const rtMaxScratch = 16 << 10

// rtDefaultMaxHeaderBytes is MaxResponseHeaderBytes's default: above the
// limits of browsers (Chromium's 256 KiB) and curl (300 KiB), so that a
// response that they read is read here too, and a tenth of net/http's 10
// MB, which bounds what a hostile server makes a connection hold.
const rtDefaultMaxHeaderBytes = 1 << 20

// rtMoment bounds the wait for what should have arrived already: the rest
// of a response body that Close reads to keep the connection (a body still
// on its way is cheaper to drop with its connection), and an early answer
// to a request whose writing failed.
const rtMoment = 50 * time.Millisecond

// longAgo is a deadline in the past: setting it interrupts blocked I/O.
var longAgo = time.Unix(1, 0)

var rtDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

var errReadOnClosedBody = errors.New("httprpc: read on closed response body")

// RoundTripper is an http.RoundTripper for HTTP/1.1 that spends little on a
// request: the calling goroutine takes an idle kept-alive connection (or
// dials one), writes the request, reads the response's head and returns.
// The response body reads straight from the connection, and reading it to
// its end, or closing it, gives the connection back for the next request.
// net/http's Transport instead hands every request to goroutines of its
// connection, a hand-off that costs more than a small RPC call itself.
//
// The zero RoundTripper is ready to use, and a RoundTripper is safe for
// concurrent use; its fields must not change once it has been used.
//
// What it does not do: HTTP/2 (over TLS it offers only http/1.1 by ALPN),
// proxies (the rpc Transport uses net/http's Transport when a proxy applies),
// compression (it sends no Accept-Encoding and decodes nothing), request
// trailers (it sends none), Expect: 100-continue (the body goes out at once;
// interim 1xx responses are skipped) and protocol upgrades (a 101 Switching
// Protocols response is an error). A Request's Cancel channel and its
// TransferEncoding are ignored: its context bounds it, and a body of unknown
// length goes chunked.
//
// A request, body included, is written in full before its response is
// read. That suits RPC, whose servers read the whole call before they
// answer; but a server that answers as it reads a large body (a streaming
// echo, say) can stall, both sides waiting for the other to read, until the
// request's context ends. net/http's Transport reads and writes at once.
//
// Requests are checked before anything is sent: a method, header name or
// header value, Host or request target that would break the request's syntax
// (a CR or LF, say) fails the round trip. Responses are read as RFC 9112
// asks of a user agent, and as net/http's Transport reads them: a folded
// field value is unfolded, white space before a field's colon is dropped,
// and interim responses are skipped, as many as come within the limit on
// the head (MaxResponseHeaderBytes). The framing is read strictly, as what
// two readers could read differently would let a response pass for
// another: a body with both Content-Length and Transfer-Encoding, with
// Content-Lengths that differ, with a transfer coding other than chunked, or
// with either field folded or spaced before its colon, a malformed status
// line, field or chunk, or a head over the limit, each fail the round trip,
// and the connection is closed.
//
// The request's context bounds all of it, body included: dialing, the TLS
// handshake, writing, waiting for the response and reading its body. When
// the context ends, blocked I/O is interrupted, the round trip or the body's
// Read fails with an error wrapping the context's, and the connection is
// closed.
//
// A request that fails on a kept-alive connection because the server had
// just closed it is sent again, once, on a new connection, when that is
// safe: when nothing of it was written, or when no byte of a response came
// and the request is idempotent (GET, HEAD, OPTIONS or TRACE, or it has an
// Idempotency-Key or X-Idempotency-Key header). A body is then made anew
// with the Request's GetBody; without GetBody, a request with a body is not
// sent again. These are net/http's rules.
type RoundTripper struct {
	// TLSClientConfig configures https connections; nil means the zero
	// tls.Config. It is cloned, and the clone's NextProtos offer http/1.1
	// alone; an empty ServerName is the host's name.
	TLSClientConfig *tls.Config

	// DialContext dials the TCP connections; nil means a net.Dialer with a
	// timeout of 30 s and TCP keep-alives every 30 s.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// TLSHandshakeTimeout bounds a TLS handshake; zero means 10 s, and a
	// negative value no limit but the request's context.
	TLSHandshakeTimeout time.Duration

	// MaxIdleConnsPerHost is how many idle connections are kept for each
	// scheme and URL host; a connection given back when that many wait is
	// closed. Zero means 64; a negative value keeps none, so that every
	// request dials.
	MaxIdleConnsPerHost int

	// IdleConnTimeout is how long a connection may stay idle: one idle
	// longer is closed, by a timer or when a request finds it, instead of
	// being used again. Zero means 90 s; a negative value, no limit.
	IdleConnTimeout time.Duration

	// MaxResponseHeaderBytes limits a response's head, status line and
	// fields, and the interim (1xx) responses before it, all together:
	// a server may send any number of interim responses (102 Processing
	// every second, say), while the request's context lasts, but not an
	// endless head. Zero or a negative value means 1 MiB.
	MaxResponseHeaderBytes int

	// Proxy, if set, returns the proxy for a request, as net/http's
	// Transport.Proxy does (http.ProxyFromEnvironment, say); nil, or a nil
	// URL, means none. A request that goes through a proxy is sent by a
	// net/http Transport made with the fields above, since proxies speak
	// more than this RoundTripper does (CONNECT, their own
	// authentication).
	Proxy func(*http.Request) (*url.URL, error)

	// Pipeline, above 1, makes the RoundTripper pipeline requests (RFC
	// 9112 section 9.3.2): all requests to a host share up to
	// PipelineConns connections, a new one dialed while the others are
	// busy, and once there are that many, each carries up to Pipeline
	// requests at once, answered in order. Requests ready together go out
	// in one write, and their responses come in together: under load, far
	// fewer system calls per request. The price is head-of-line blocking:
	// a slow response holds up those behind it on its connection. To
	// bound it, a connection whose oldest request has waited PipelineStall
	// for its response takes no more until it answers, and another
	// connection (beyond PipelineConns if need be) takes its place. A
	// request whose context ends stops waiting at once, and its response
	// is dropped when it comes, without closing the connection. Once a
	// response's head announces that the server closes its connection
	// (Connection: close), nothing more is sent on it; the requests
	// pipelined behind that response, which the server does not serve
	// (RFC 9112 section 9.6), are sent again on other connections, as
	// often as it takes while their contexts last, if their bodies can be
	// made anew (GetBody): a proxy that closes connections after so many
	// requests (nginx's keepalive_requests) fails no call. A request
	// whose connection failed under it otherwise fails, since the server
	// may have served it, unless it is idempotent and the server closed
	// the connection without a byte of its response: then it goes again
	// once. Response bodies are read whole before RoundTrip returns, up to
	// MaxPipelinedBody. Zero or 1: no pipelining.
	Pipeline int
	// PipelineConns is how many connections per host pipelined requests
	// share; zero means twice GOMAXPROCS.
	PipelineConns int
	// PipelineStall is how long the oldest request on a connection may
	// wait for its response before no more are pipelined behind it; zero
	// means DefaultPipelineStall, a negative value no limit.
	PipelineStall time.Duration
	// MaxPipelinedBody limits the body of a pipelined response; zero means
	// DefaultMaxPipelinedBody. A longer one fails its request and closes
	// the connection.
	MaxPipelinedBody int64

	proxyOnce sync.Once
	proxied   *http.Transport // sends the requests that go through a proxy

	tlsOnce sync.Once
	tlsBase *tls.Config // TLSClientConfig's clone with NextProtos set

	mu       sync.Mutex
	pipes    map[rtKey]*pipeSet  // pipelining connections
	idle     map[rtKey][]*rtConn // idle connections, most recently used last
	noIdle   bool                // CloseIdleConnections was called
	sweeper  *time.Timer         // closes connections idle too long
	sweeping bool                // sweeper is armed
}

var _ http.RoundTripper = (*RoundTripper)(nil)

// rtKey tells which requests a connection can carry: those with its scheme
// and the URL host it was dialed for.
type rtKey struct {
	tls  bool
	host string // the URL's host, port included if it had one
}

func (t *RoundTripper) maxIdle() int {
	switch n := t.MaxIdleConnsPerHost; {
	case n == 0:
		return rtDefaultMaxIdlePerHost
	case n < 0:
		return 0
	default:
		return n
	}
}

func (t *RoundTripper) idleTimeout() time.Duration {
	if t.IdleConnTimeout == 0 {
		return rtDefaultIdleTimeout
	}
	return t.IdleConnTimeout
}

func (t *RoundTripper) maxHead() int {
	if t.MaxResponseHeaderBytes <= 0 {
		return rtDefaultMaxHeaderBytes
	}
	return t.MaxResponseHeaderBytes
}

// RoundTrip sends req and returns its response, whose body the caller must
// read to its end or close: then, if both sides keep the connection alive,
// it carries the next request. RoundTrip closes req.Body, also when it
// fails. Only http and https URLs are served; a request that Proxy sends
// through a proxy goes through net/http's Transport. A
// body of unknown length (ContentLength -1, or 0 with a Body other than
// http.NoBody, as for net/http) is sent chunked; a POST, PUT or PATCH
// without a body says Content-Length: 0.
//
// A response with no body (to HEAD, 204, 304, or of length zero) has
// http.NoBody, and its connection is free again when RoundTrip returns. A
// chunked response has TransferEncoding ["chunked"], without that field in
// its Header, and ContentLength -1, as has a body that runs until the
// server closes the connection. An error that Read returns, other than
// io.EOF, closes the connection; Read after Close fails.
func (t *RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Proxy != nil && req != nil && req.URL != nil {
		proxy, err := t.Proxy(req)
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, fmt.Errorf("httprpc: choosing a proxy: %w", err)
		}
		if proxy != nil {
			return t.viaProxy().RoundTrip(req)
		}
	}
	var r rtRequest
	if err := r.init(req); err != nil {
		if req != nil && req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if t.Pipeline > 1 {
		return t.pipelined(r) // a copy: r itself stays on this stack
	}
	for attempt := 0; ; attempt++ {
		pc, err := t.conn(&r, attempt > 0)
		if err != nil {
			r.closeBody()
			return nil, err
		}
		resp, retry, err := t.exchange(pc, &r)
		if err == nil || !retry || attempt > 0 {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil || body == nil {
				return nil, err
			}
			if body != http.NoBody {
				r.body = body
			}
		}
	}
}

// CloseIdleConnections closes the idle connections, and makes the
// RoundTripper keep none from then on: a connection in use is closed when
// its response is done. RoundTrip goes on working, dialing for every
// request. This is what an rpc Transport that closes wants, and it differs
// from net/http, which goes on keeping connections.
func (t *RoundTripper) CloseIdleConnections() {
	if t.Proxy != nil { // proxied exists only if Proxy is set
		t.viaProxy().CloseIdleConnections()
	}
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.noIdle = true
	if t.sweeper != nil {
		t.sweeper.Stop()
	}
	t.sweeping = false
	t.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.close()
		}
	}
	t.closeIdlePipes()
}

// viaProxy returns the net/http Transport that sends the requests going
// through a proxy, made the first time one does.
func (t *RoundTripper) viaProxy() *http.Transport {
	t.proxyOnce.Do(func() {
		dial := t.DialContext
		if dial == nil {
			dial = rtDialer.DialContext
		}
		handshake := t.TLSHandshakeTimeout
		if handshake == 0 {
			handshake = rtDefaultHandshakeTimeout
		}
		t.proxied = &http.Transport{
			Proxy:                  t.Proxy,
			DialContext:            dial,
			TLSClientConfig:        t.TLSClientConfig,
			TLSHandshakeTimeout:    max(handshake, 0),
			MaxIdleConnsPerHost:    t.maxIdle(),
			IdleConnTimeout:        max(t.idleTimeout(), 0),
			MaxResponseHeaderBytes: int64(t.maxHead()),
			ExpectContinueTimeout:  time.Second,
		}
	})
	return t.proxied
}

// rtRequest is what RoundTrip works out about a request before sending it.
type rtRequest struct {
	req        *http.Request
	ctx        context.Context
	key        rtKey
	method     string
	host       string // the Host field
	path       string // the request target, without the query
	slash      bool   // a "/" goes before path
	query      string // the query, sent after a "?" when hasQuery
	hasQuery   bool
	auth       string // an Authorization field made from the URL's user
	body       io.ReadCloser
	length     int64 // the body's length; -1 when unknown, sent chunked
	sendLength bool  // a Content-Length field is sent
	close      bool  // the request asks to close the connection
	hasAgent   bool  // the Header has a User-Agent
	idempotent bool
}

func (r *rtRequest) init(req *http.Request) error {
	if req == nil {
		return errors.New("httprpc: nil Request")
	}
	u := req.URL
	if u == nil {
		return errors.New("httprpc: request without a URL")
	}
	r.req = req
	switch u.Scheme {
	case "http":
	case "https":
		r.key.tls = true
	default:
		return fmt.Errorf("httprpc: unsupported URL scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("httprpc: URL %s has no host", quote(u.Redacted()))
	}
	r.key.host = u.Host
	r.method = req.Method
	if r.method == "" {
		r.method = http.MethodGet
	}
	if !validToken(r.method) {
		return fmt.Errorf("httprpc: invalid method %s", quote(r.method))
	}
	r.host = req.Host
	if r.host == "" {
		r.host = u.Host
	}
	if !validTarget(r.host) {
		return fmt.Errorf("httprpc: invalid Host %s", quote(r.host))
	}
	if u.Opaque != "" {
		r.path = u.RequestURI() // with its query
	} else {
		r.path = u.EscapedPath()
		r.slash = r.path == "" || (r.path[0] != '/' && r.path != "*")
		r.query, r.hasQuery = u.RawQuery, u.ForceQuery || u.RawQuery != ""
	}
	if !validTarget(r.path) || !validTarget(r.query) {
		return fmt.Errorf("httprpc: invalid request target in URL %s", quote(u.Redacted()))
	}

	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		r.idempotent = true
	}
	hasAuth := false
	for k, vs := range req.Header {
		if !validToken(k) {
			return fmt.Errorf("httprpc: invalid header name %s", quote(k))
		}
		for _, v := range vs {
			if !validValue(v) {
				return fmt.Errorf("httprpc: invalid value of header %s", k)
			}
		}
		switch {
		case rtOwnField(k):
			if strings.EqualFold(k, "Connection") && hasToken(vs, "close") {
				r.close = true
			}
		case strings.EqualFold(k, "User-Agent"):
			r.hasAgent = true
		case strings.EqualFold(k, "Authorization"):
			hasAuth = true
		case strings.EqualFold(k, "Idempotency-Key"), strings.EqualFold(k, "X-Idempotency-Key"):
			r.idempotent = true
		}
	}
	r.close = r.close || req.Close
	if u.User != nil && !hasAuth {
		pw, _ := u.User.Password()
		r.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
	}

	r.ctx = req.Context()
	if err := r.ctx.Err(); err != nil {
		return r.fail("request to", err)
	}

	switch r.length = req.ContentLength; {
	case req.Body == nil || req.Body == http.NoBody:
		if r.length > 0 {
			return fmt.Errorf("httprpc: Request.ContentLength %d with no Body", r.length)
		}
		r.length = 0
	case r.length == 0:
		r.length = -1 // as for net/http, a Body of length 0 is of unknown length
		r.body = req.Body
	default:
		r.body = req.Body
	}
	r.sendLength = r.length > 0 || r.length == 0 &&
		(r.method == http.MethodPost || r.method == http.MethodPut || r.method == http.MethodPatch)
	return nil
}

// replayable reports whether the request can go out again: its body, if it
// has one, can be made anew.
func (r *rtRequest) replayable() bool {
	b := r.req.Body
	return b == nil || b == http.NoBody || r.req.GetBody != nil
}

func (r *rtRequest) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// fail wraps err, from doing what to the request's host.
func (r *rtRequest) fail(what string, err error) error {
	if pe, ok := err.(*protocolError); ok {
		return fmt.Errorf("httprpc: malformed response from %s: %w", r.key.host, pe)
	}
	return fmt.Errorf("httprpc: %s %s: %w", what, r.key.host, err)
}

// rtOwnField reports whether the RoundTripper sets field k itself, and a
// request's Header must not.
func rtOwnField(k string) bool {
	switch len(k) {
	case 4:
		return strings.EqualFold(k, "Host")
	case 10:
		return strings.EqualFold(k, "Connection")
	case 14:
		return strings.EqualFold(k, "Content-Length")
	case 17:
		return strings.EqualFold(k, "Transfer-Encoding")
	}
	return false
}

// conn returns a connection for r: an idle one unless fresh is set, else a
// new one.
func (t *RoundTripper) conn(r *rtRequest, fresh bool) (*rtConn, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, r.fail("request to", err)
	}
	if !fresh {
		if pc := t.take(r.key); pc != nil {
			return pc, nil
		}
	}
	return t.dial(r)
}

// take returns the most recently used idle connection for key that is still
// good, closing those found stale on the way, or nil.
func (t *RoundTripper) take(key rtKey) *rtConn {
	timeout := t.idleTimeout()
	for {
		t.mu.Lock()
		list := t.idle[key]
		n := len(list)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		pc := list[n-1]
		list[n-1] = nil
		t.idle[key] = list[:n-1]
		t.mu.Unlock()
		if pc.usable(timeout) {
			return pc
		}
		pc.close()
	}
}

// put makes pc idle, or closes it when no more connections may wait.
func (t *RoundTripper) put(pc *rtConn) {
	limit, timeout := t.maxIdle(), t.idleTimeout()
	now := time.Now()
	t.mu.Lock()
	if t.noIdle || len(t.idle[pc.key]) >= limit {
		t.mu.Unlock()
		pc.close()
		return
	}
	if t.idle == nil {
		t.idle = make(map[rtKey][]*rtConn)
	}
	pc.idleAt = now
	pc.reused = true
	t.idle[pc.key] = append(t.idle[pc.key], pc)
	if timeout > 0 && !t.sweeping {
		t.sweeping = true
		if t.sweeper == nil {
			t.sweeper = time.AfterFunc(timeout, t.sweep)
		} else {
			t.sweeper.Reset(timeout)
		}
	}
	t.mu.Unlock()
}

// sweep closes the connections idle for longer than IdleConnTimeout, and
// sets the sweeper for the next to go stale.
func (t *RoundTripper) sweep() {
	timeout := t.idleTimeout()
	var stale []*rtConn
	t.mu.Lock()
	now := time.Now()
	var next time.Duration
	for k, list := range t.idle {
		i := 0
		for i < len(list) && now.Sub(list[i].idleAt) >= timeout {
			i++
		}
		stale = append(stale, list[:i]...)
		n := copy(list, list[i:])
		clear(list[n:])
		if n == 0 {
			delete(t.idle, k)
			continue
		}
		t.idle[k] = list[:n]
		if wait := timeout - now.Sub(list[0].idleAt); next == 0 || wait < next {
			next = wait
		}
	}
	t.sweeping = next > 0
	if t.sweeping {
		t.sweeper.Reset(next)
	}
	t.mu.Unlock()
	for _, pc := range stale {
		pc.close()
	}
}

// dial opens a connection for r, and does the TLS handshake of https.
func (t *RoundTripper) dial(r *rtRequest) (*rtConn, error) {
	u := r.req.URL
	hostname, addr := u.Hostname(), u.Host
	if u.Port() == "" {
		port := "80"
		if r.key.tls {
			port = "443"
		}
		addr = net.JoinHostPort(hostname, port)
	}
	dial := t.DialContext
	if dial == nil {
		dial = rtDialer.DialContext
	}
	nc, err := dial(r.ctx, "tcp", addr)
	if err == nil && nc == nil {
		err = errors.New("DialContext returned no connection and no error")
	}
	if err != nil {
		if cerr := r.ctx.Err(); cerr != nil {
			err = cerr
		}
		return nil, r.fail("dialing", err)
	}
	var state *tls.ConnectionState
	if r.key.tls {
		tc := tls.Client(nc, t.tlsConfig(hostname))
		ctx := r.ctx
		if timeout := t.TLSHandshakeTimeout; timeout >= 0 {
			if timeout == 0 {
				timeout = rtDefaultHandshakeTimeout
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			if cerr := r.ctx.Err(); cerr != nil {
				err = cerr
			}
			return nil, r.fail("TLS handshake with", err)
		}
		cs := tc.ConnectionState()
		state = &cs
		nc = tc
	}
	return newRTConn(t, r.key, nc, state), nil
}

// tlsConfig returns the TLS configuration for a connection to hostname.
func (t *RoundTripper) tlsConfig(hostname string) *tls.Config {
	t.tlsOnce.Do(func() {
		if t.TLSClientConfig != nil {
			t.tlsBase = t.TLSClientConfig.Clone()
		} else {
			t.tlsBase = &tls.Config{}
		}
		t.tlsBase.NextProtos = []string{"http/1.1"}
	})
	if t.tlsBase.ServerName != "" {
		return t.tlsBase
	}
	c := t.tlsBase.Clone()
	c.ServerName = hostname
	return c
}

// exchange sends r on pc and reads the response's head. It reports whether
// a failed request may be sent again on another connection. It closes r's
// body, and pc unless it returns a response whose body still needs it.
func (t *RoundTripper) exchange(pc *rtConn, r *rtRequest) (*http.Response, bool, error) {
	if r.ctx.Done() != nil {
		pc.stop = context.AfterFunc(r.ctx, pc.interrupt)
	}
	written := pc.cw.n
	pc.cw.err = nil
	err := pc.writeRequest(r)
	r.closeBody()
	if err != nil {
		switch {
		case r.ctx.Err() != nil:
			pc.release(false)
			return nil, false, r.fail("request to", r.ctx.Err())
		case pc.src.err != nil:
			pc.release(false)
			return nil, false, r.fail("reading the request body for", pc.src.err)
		case pc.cw.err == nil: // the body's length is wrong, say
			pc.release(false)
			return nil, false, r.fail("writing the request to", err)
		case pc.reused && pc.cw.n == written:
			pc.release(false)
			return nil, r.replayable(), r.fail("writing the request to", err)
		}
		// The connection failed. The server may have answered before it
		// closed it, though, and its answer waits to be read: a 413
		// Request Entity Too Large before the whole body, say. If it is
		// not there at once, there is none.
		if pc.nc.SetReadDeadline(time.Now().Add(rtMoment)) == nil {
			if resp, _, rerr := pc.readResponse(r, false); rerr == nil {
				if resp.Body != http.NoBody {
					// The body reads without the deadline, unless the
					// context ended while it was set.
					pc.nc.SetReadDeadline(time.Time{})
					if r.ctx.Err() != nil {
						pc.interrupt()
					}
				}
				return resp, false, nil
			}
		}
		pc.release(false)
		return nil, false, r.fail("writing the request to", err)
	}
	resp, nothing, err := pc.readResponse(r, !r.close)
	if err != nil {
		pc.release(false)
		if cerr := r.ctx.Err(); cerr != nil {
			return nil, false, r.fail("request to", cerr)
		}
		retry := pc.reused && nothing && r.idempotent && r.replayable()
		return nil, retry, r.fail("reading the response from", err)
	}
	return resp, false, nil
}

// rtConn is a connection of a RoundTripper. One goroutine at a time owns
// it: the one whose request it carries, or whose response body it reads.
type rtConn struct {
	t      *RoundTripper
	key    rtKey
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	cw     rtCountingWriter
	peek   *netpeek.Peeker
	tls    *tls.ConnectionState
	idleAt time.Time
	reused bool       // it was idle once: a failure may be the server's closing it
	hr     headReader // reads response heads; its buffer is kept between them
	body   bodyReader
	src    rtSource
	num    [24]byte // formats numbers
	chunk  []byte   // a chunked request body's buffer, made when first needed

	interrupt func()      // sets a past deadline, made once
	stop      func() bool // stops the context's watch of the request under way
	deadline  bool        // a read deadline was set to drain a body
}

func newRTConn(t *RoundTripper, key rtKey, nc net.Conn, state *tls.ConnectionState) *rtConn {
	pc := &rtConn{t: t, key: key, nc: nc, tls: state, peek: netpeek.New(nc)}
	pc.cw.nc = nc
	pc.br = bufio.NewReaderSize(nc, rtBufSize)
	pc.bw = bufio.NewWriterSize(&pc.cw, rtBufSize)
	pc.interrupt = func() { nc.SetDeadline(longAgo) }
	return pc
}

// usable reports whether the idle pc can carry a request: it has not been
// idle too long, and its server neither closed it nor sent anything
// unasked. Over TLS, bytes waiting may be the server's close_notify: the
// connection is dropped all the same.
func (pc *rtConn) usable(timeout time.Duration) bool {
	if timeout > 0 && time.Since(pc.idleAt) >= timeout {
		return false
	}
	if pc.br.Buffered() > 0 {
		return false
	}
	pending, err := pc.peek.Look()
	return err == nil && !pending
}

func (pc *rtConn) close() { pc.nc.Close() }

// release ends pc's request: it stops the context's watch, and gives pc
// back to the pool if keep is set and the context did not interrupt it, or
// closes it.
func (pc *rtConn) release(keep bool) {
	if pc.stop != nil {
		if !pc.stop() {
			keep = false // the deadline is set, or being set
		}
		pc.stop = nil
	}
	if keep && pc.deadline {
		pc.deadline = false
		keep = pc.nc.SetReadDeadline(time.Time{}) == nil
	}
	if !keep {
		pc.close()
		return
	}
	pc.t.put(pc)
}

// rtCountingWriter counts the bytes written to the connection, which tells
// whether a failed request may be sent again.
type rtCountingWriter struct {
	nc  net.Conn
	n   int64
	err error // the last write's error
}

func (w *rtCountingWriter) Write(p []byte) (int, error) {
	n, err := w.nc.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// rtSource reads the n bytes of a request body of known length, and keeps
// the error of the body's own reader apart from those of the connection.
type rtSource struct {
	r   io.Reader
	n   int64
	err error
}

func (s *rtSource) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	n, err := s.r.Read(p)
	s.n -= int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

var errBodyLength = errors.New("request body length differs from its ContentLength")

// writeRequest writes r's head and body, and flushes them.
func (pc *rtConn) writeRequest(r *rtRequest) error {
	if err := pc.writeMessage(r); err != nil {
		return err
	}
	return pc.bw.Flush()
}

// writeMessage writes r's head and body into the connection's writer,
// which sends what fills its buffer.
func (pc *rtConn) writeMessage(r *rtRequest) error {
	bw := pc.bw
	pc.src = rtSource{}
	bw.WriteString(r.method)
	bw.WriteByte(' ')
	if r.slash {
		bw.WriteByte('/')
	}
	bw.WriteString(r.path)
	if r.hasQuery {
		bw.WriteByte('?')
		bw.WriteString(r.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.host)
	bw.WriteString("\r\n")
	for k, vs := range r.req.Header {
		if rtOwnField(k) {
			continue
		}
		for _, v := range vs {
			if v == "" && k == "User-Agent" {
				continue // as for net/http, an empty User-Agent sends none
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if !r.hasAgent {
		bw.WriteString("User-Agent: polyrpc\r\n")
	}
	if r.auth != "" {
		bw.WriteString("Authorization: ")
		bw.WriteString(r.auth)
		bw.WriteString("\r\n")
	}
	if r.sendLength {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(pc.num[:0], r.length, 10))
		bw.WriteString("\r\n")
	} else if r.length < 0 {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if r.close {
		bw.WriteString("Connection: close\r\n")
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if r.body != nil {
		var err error
		if r.length >= 0 {
			err = pc.writeBody(r)
		} else {
			err = pc.writeChunked(r.body)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeBody copies a body of known length, which must be exactly that long.
func (pc *rtConn) writeBody(r *rtRequest) error {
	pc.src = rtSource{r: r.body, n: r.length}
	_, err := pc.bw.ReadFrom(&pc.src)
	pc.src.r = nil
	if err != nil {
		return err
	}
	if pc.src.n > 0 {
		return fmt.Errorf("%w: %d bytes instead of %d", errBodyLength, r.length-pc.src.n, r.length)
	}
	if n, _ := r.body.Read(pc.num[:1]); n > 0 {
		return fmt.Errorf("%w: more than %d bytes", errBodyLength, r.length)
	}
	return nil
}

// writeChunked copies a body of unknown length in chunked transfer coding.
func (pc *rtConn) writeChunked(body io.Reader) error {
	if pc.chunk == nil {
		pc.chunk = make([]byte, rtBufSize)
	}
	bw := pc.bw
	for empty := 0; ; {
		n, err := body.Read(pc.chunk)
		if n > 0 {
			empty = 0
			bw.Write(strconv.AppendUint(pc.num[:0], uint64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(pc.chunk[:n])
			if _, werr := bw.WriteString("\r\n"); werr != nil {
				return werr
			}
		} else if err == nil {
			if empty++; empty == 100 {
				err = io.ErrNoProgress
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			pc.src.err = err
			return err
		}
	}
	_, err := bw.WriteString("0\r\n\r\n")
	return err
}

// readResponse reads the response to r, skipping interim ones, and gives it
// its body. keep tells whether the connection may carry another request, as
// far as the request goes. nothing reports, with an error, that no byte of
// a response came.
func (pc *rtConn) readResponse(r *rtRequest, keep bool) (resp *http.Response, nothing bool, err error) {
	resp, f, keep, nothing, err := pc.responseHead(r, keep)
	if err != nil {
		return nil, nothing, err
	}
	pc.body.reset(pc.br, f, true, pc.t.maxHead())
	if pc.body.done {
		resp.Body = http.NoBody
		pc.release(keep)
		return resp, false, nil
	}
	resp.Body = &rtBody{pc: pc, keep: keep, ctx: r.ctx, host: r.key.host}
	return resp, false, nil
}

// responseHead reads the head of the response to r, skipping interim ones,
// and works out how its body is framed. keep tells whether the connection
// may carry another request, as far as the request goes, and comes back
// telling it as far as the response goes too.
func (pc *rtConn) responseHead(r *rtRequest, keep bool) (resp *http.Response, f framing, _ bool, nothing bool, err error) {
	limit := pc.t.maxHead() // for the interim responses and the final one
	var head, line string
	var code, minor int
	for interim := false; ; interim = true {
		head, err = pc.hr.read(pc.br, limit, false)
		if err != nil {
			return nil, f, false, !interim && len(pc.hr.b) == 0, err
		}
		if cap(pc.hr.b) > rtMaxScratch {
			pc.hr.b = nil // a rare big head: do not keep its buffer
		}
		limit -= len(head) + len("\r\n")
		line, head = cutLine(head)
		var ok bool
		if minor, code, ok = rtParseStatus(line); !ok {
			return nil, f, false, false, malformed("malformed status line " + quote(line))
		}
		if code >= 200 {
			break
		}
		if code == http.StatusSwitchingProtocols {
			return nil, f, false, false, errors.New("unexpected 101 Switching Protocols")
		}
	}
	h, err := rtParseFields(head)
	if err != nil {
		return nil, f, false, false, err
	}
	resp = &http.Response{
		Status:        line[9:],
		StatusCode:    code,
		Proto:         line[:8],
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        h,
		ContentLength: -1,
		Request:       r.req,
		TLS:           pc.tls,
	}
	conn := h["Connection"]
	resp.Close = hasToken(conn, "close") || minor == 0 && !hasToken(conn, "keep-alive")
	keep = keep && !resp.Close

	switch {
	case r.method == http.MethodHead:
		if cl := h["Content-Length"]; len(cl) > 0 {
			if n, ok := parseLength(cl[0]); ok {
				resp.ContentLength = n
			}
		}
		f.length = 0
	case code == http.StatusNoContent || code == http.StatusNotModified:
		resp.ContentLength = 0
		f.length = 0
	default:
		if f, err = bodyFraming(h); err != nil {
			return nil, f, false, false, err
		}
		resp.ContentLength = f.length
		if f.chunked {
			resp.TransferEncoding = []string{"chunked"}
			delete(h, "Transfer-Encoding")
		} else if f.length < 0 {
			resp.Close = true // the body ends with the connection
			keep = false
		}
	}
	return resp, f, keep, false, nil
}

// rtParseStatus parses a status line, "HTTP/1.x 200 OK", whose reason may
// be missing.
func rtParseStatus(line string) (minor, code int, ok bool) {
	if len(line) < 12 || line[:7] != "HTTP/1." || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return 0, 0, false
	}
	if c := line[7]; c >= '0' && c <= '9' {
		minor = int(c - '0')
	} else {
		return 0, 0, false
	}
	for i := 9; i < 12; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		code = code*10 + int(c-'0')
	}
	return minor, code, code >= 100
}

// rtParseFields parses a response's field lines as parseFields does a
// request's, with the tolerance that RFC 9112 asks of a user agent, and
// net/http's Transport has:
//
//   - A field value folded onto several lines (obs-fold, section 5.2) is
//     unfolded: each fold, with the white space around it, becomes one SP.
//   - White space between a field name and its colon is dropped, as
//     section 5.1 has a proxy do before it forwards a response (a server
//     must reject it in a request): the field reads as it would behind a
//     proxy. net/http's Transport keeps the field under its name with the
//     space, where Header.Get cannot find it.
//
// Neither is allowed in the fields that frame the body, Content-Length and
// Transfer-Encoding: a reader that skips such a line, as some do, would see
// another framing, and with it other messages. A first field line that
// begins with white space is refused, as by net/http (section 2.2 allows
// either that or ignoring the line).
func rtParseFields(s string) (http.Header, error) {
	n := strings.Count(s, "\n")
	h := make(http.Header, n)
	if n == 0 {
		return h, nil
	}
	vals := make([]string, n)
	used := 0
	for s != "" {
		var line string
		line, s = cutLine(s)
		if line == "" {
			return nil, malformed("empty line inside the header")
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, malformed("white space before the first header line")
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, malformed("header line without a name and a colon")
		}
		key := line[:colon]
		spaced := false
		if k := strings.TrimRight(key, " \t"); len(k) < len(key) {
			key, spaced = k, true
		}
		if !validToken(key) {
			return nil, malformed("invalid header name " + quote(key))
		}
		value := trimOWS(line[colon+1:])
		folded := s != "" && (s[0] == ' ' || s[0] == '\t')
		if folded {
			value, s = unfold(value, s)
		}
		if !validValue(value) {
			return nil, malformed("invalid value of header " + key)
		}
		key = textproto.CanonicalMIMEHeaderKey(key)
		if (spaced || folded) && (key == "Content-Length" || key == "Transfer-Encoding") {
			what := "white space before the colon"
			if folded {
				what = "folded line"
			}
			return nil, malformed(key + " with a " + what)
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
			continue
		}
		vals[used] = value
		h[key] = vals[used : used+1 : used+1]
		used++
	}
	return h, nil
}

// unfold joins value, the start of a field value, with the continuation
// lines that begin rest, each after one SP, and returns the value and what
// follows it.
func unfold(value, rest string) (string, string) {
	var b strings.Builder
	b.WriteString(value)
	for rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		var line string
		line, rest = cutLine(rest)
		if line = trimOWS(line); line != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(line)
		}
	}
	return b.String(), rest
}

// rtBody is a response body that reads from its connection, until it lets
// the connection go at the body's end, on an error, or on Close.
type rtBody struct {
	ctx  context.Context
	host string
	keep bool // the connection may carry another request after the body

	mu      sync.Mutex
	pc      *rtConn // nil once the connection was let go
	reading bool    // a Read is under way without the mutex
	closed  bool
	err     error // what Read returns once pc is nil
}

func (b *rtBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	pc := b.pc
	switch {
	case b.closed:
		b.mu.Unlock()
		return 0, errReadOnClosedBody
	case pc == nil:
		err := b.err
		b.mu.Unlock()
		return 0, err
	case b.reading:
		b.mu.Unlock()
		return 0, errors.New("httprpc: concurrent Reads of a response body")
	}
	b.reading = true
	b.mu.Unlock()

	n, err := pc.body.Read(p)

	b.mu.Lock()
	b.reading = false
	if b.closed {
		// Close came during the Read, interrupted it, and left the
		// connection to be closed here.
		b.pc = nil
		b.mu.Unlock()
		pc.release(false)
		return n, errReadOnClosedBody
	}
	if err == nil {
		b.mu.Unlock()
		return n, nil
	}
	b.pc = nil
	keep := b.keep && err == io.EOF
	if err != io.EOF {
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		}
		err = fmt.Errorf("httprpc: reading the response body from %s: %w", b.host, err)
	}
	b.err = err
	b.mu.Unlock()
	pc.release(keep)
	return n, err
}

// Close lets the connection go. Unless the body was read to its end, it
// reads what remains of it first, if that is at most 64 KiB and comes
// within a moment, so that the connection can be kept; otherwise the
// connection is closed. Close during a Read interrupts it. Close is
// idempotent.
func (b *rtBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	pc := b.pc
	if pc == nil {
		b.mu.Unlock()
		return nil
	}
	if b.reading {
		pc.interrupt() // the Read lets the connection go
		b.mu.Unlock()
		return nil
	}
	b.pc = nil
	b.mu.Unlock()
	pc.release(b.keep && pc.drain())
	return nil
}

// drain reads the rest of the body, if small and quick to come, and reports
// whether it reached the body's end.
func (pc *rtConn) drain() bool {
	if pc.body.done {
		return true
	}
	if pc.body.err != nil || pc.body.toEOF || pc.body.chunks == nil && pc.body.n > drainLimit {
		return false
	}
	if pc.body.chunks != nil || pc.body.n > int64(pc.br.Buffered()) {
		pc.deadline = true
		if pc.nc.SetReadDeadline(time.Now().Add(rtMoment)) != nil {
			return false
		}
	}
	return pc.body.discard(drainLimit)
}
