package httprpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/polyrpc/polyrpc/internal/httpengine"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// defaultMaxReply is the default limit on a reply body (WithMaxMessageSize).
const defaultMaxReply = 64 << 20

// NewClient returns an rpc.Client that calls the server at url in codec c,
// which must have media types (codec/json, say), over NewTransport(url,
// opts...). It fails for a malformed url, a codec without media types and an
// invalid option.
func NewClient(url string, c rpc.Codec, opts ...Option) (*rpc.Client, error) {
	cfg, err := newConfig(sideClients, "NewClient", opts)
	if err != nil {
		return nil, err
	}
	if c != nil && len(mediaTypes(c)) == 0 {
		return nil, fmt.Errorf("httprpc: NewClient: codec %s has no media type", c.Name())
	}
	t, err := newTransport(url, cfg)
	if err != nil {
		return nil, err
	}
	var ropts []rpc.Option
	if cfg.log != nil {
		ropts = append(ropts, rpc.WithLogger(cfg.log))
	}
	cl, err := rpc.NewClient(t, c, ropts...)
	if err != nil {
		t.Close()
		return nil, err
	}
	return cl, nil
}

// NewTransport returns the rpc.Transport of NewClient, for rpc.NewClient
// with client options of its own (interceptors, say). It POSTs each message
// to url and returns the response body as the reply: a reply comes with
// status 200, and 204 No Content answers a message of notifications only.
// 401 Unauthorized fails the call with an *rpc.Error of code
// rpc.CodeUnauthenticated (errors.Is(err, rpc.ErrUnauthenticated)), and any
// other status with a *StatusError.
//
// Unless WithRoundTripper says otherwise, the transport
// sends its requests with an HTTP/1.1 engine of its own, which does a call's
// I/O in the calling goroutine, keeps idle connections alive
// (WithMaxIdleConns, WithIdleTimeout), bounds dialing and TLS handshakes
// (WithTLSConfig), and can pipeline (WithPipelining). Where the environment
// names a proxy for url (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), requests go
// through it. Redirects are not followed: a redirected POST would be turned
// into a GET. No overall timeout is set, since calls may run long: a call's
// context bounds it. A reply over the limit (WithMaxMessageSize) fails the
// call with an *rpc.Error of code rpc.CodeLimitExceeded.
func NewTransport(url string, opts ...Option) (rpc.Transport, error) {
	cfg, err := newConfig(sideTransport, "NewTransport", opts)
	if err != nil {
		return nil, err
	}
	return newTransport(url, cfg)
}

// transport is the rpc.Transport of NewTransport. It is safe for concurrent
// use.
type transport struct {
	u        *url.URL // shared by every request, never modified
	rt       http.RoundTripper
	own      *httpengine.RoundTripper // the own engine, if rt is or wraps it
	header   http.Header
	maxReply int64
	closed   atomic.Bool
	lastType atomic.Pointer[[]string] // see mediaType
}

var _ rpc.Transport = (*transport)(nil)

// ownEngineOptions configure the transport's own engine, and are an error
// with another.
var ownEngineOptions = []string{"WithTLSConfig", "WithPipelining", "WithIdleTimeout", "WithMaxIdleConns"}

func newTransport(rawURL string, cfg *config) (*transport, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	t := &transport{u: u, header: cfg.header, maxReply: defaultMaxReply}
	if cfg.maxMessage > 0 {
		t.maxReply = int64(cfg.maxMessage)
	}
	if cfg.rt != nil {
		for _, name := range ownEngineOptions {
			if cfg.has(name) {
				return nil, fmt.Errorf("httprpc: %s configures the client's own HTTP engine, which WithRoundTripper replaces: configure the one given, or use WithWrapper to wrap the own engine", name)
			}
		}
	}

	rt := cfg.rt
	if rt == nil {
		t.own = &httpengine.RoundTripper{
			TLSClientConfig:     cfg.tls,
			Proxy:               http.ProxyFromEnvironment,
			Pipeline:            cfg.pipeline,
			MaxIdleConnsPerHost: cfg.maxIdle, // zero keeps 64
			IdleConnTimeout:     cfg.idleTimeout,
			MaxPipelinedBody:    t.maxReply,
		}
		rt = t.own
	}
	for _, wrap := range cfg.wrappers {
		if rt = wrap(rt); rt == nil {
			return nil, errors.New("httprpc: WithWrapper: the wrapper returned nil")
		}
	}
	t.rt = rt
	return t, nil
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("httprpc: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("httprpc: url %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("httprpc: url %q has no host", s)
	}
	return u, nil
}

// Exchange implements rpc.Transport; see NewTransport.
func (t *transport) Exchange(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	if t.closed.Load() {
		return nil, rpc.ErrClosed
	}
	types := mediaTypes(c)
	if len(types) == 0 {
		return nil, fmt.Errorf("httprpc: codec %s has no media type", c.Name())
	}
	body := lend(msg)
	defer body.giveBack()
	req, err := t.newRequest(ctx, types[0], body, len(msg))
	if err != nil {
		return nil, err
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		if errors.Is(err, httpengine.ErrBodyTooLarge) {
			return nil, replyTooLarge("httprpc: reply too large: " + err.Error())
		}
		return nil, err
	}
	defer closeBody(resp.Body)
	switch {
	case oneway && resp.StatusCode/100 == 2:
		return nil, nil
	case resp.StatusCode == http.StatusOK:
		return t.readReply(resp)
	case resp.StatusCode == http.StatusNoContent:
		return nil, fmt.Errorf("httprpc: the server answered 204 No Content: %w", rpc.ErrNoReply)
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	return nil, statusError(resp.StatusCode, head)
}

// mediaTypes returns the media types of c, if it has any.
func mediaTypes(c rpc.Codec) []string {
	if mt, ok := c.(wire.MediaTyper); ok {
		return mt.MediaTypes()
	}
	return nil
}

// reqProto is the request every request is copied from by WithContext: the
// one way to set a request's context without a second copy.
var reqProto = new(http.Request)

// newRequest builds the HTTP request of one call. It is the one place where
// requests are made, so that whatever must see every request goes here.
func (t *transport) newRequest(ctx context.Context, contentType string, body *lentBody, n int) (*http.Request, error) {
	if ctx == nil {
		return nil, errors.New("httprpc: nil Context")
	}
	req := reqProto.WithContext(ctx)
	req.Method = http.MethodPost
	req.URL = t.u
	req.Host = t.u.Host
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	req.Header = make(http.Header, 2+len(t.header))
	// The body is no *bytes.Reader, so net/http cannot size it or replay
	// it on its own.
	req.Body = &body.first
	req.ContentLength = int64(n)
	req.GetBody = body.reader
	if n == 0 {
		req.Body = http.NoBody // else net/http takes the length for unknown
	}
	for k, vs := range t.header {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = append(req.Header[k], vs...)
	}
	ct := t.mediaType(contentType)
	req.Header["Content-Type"] = ct
	req.Header["Accept"] = ct
	return req, nil
}

// mediaType returns the field value []string{mt}, made once for the media
// type last used: a transport nearly always speaks one codec. The slice is
// shared by requests, which RoundTrippers must not modify.
func (t *transport) mediaType(mt string) []string {
	if v := t.lastType.Load(); v != nil && (*v)[0] == mt {
		return *v
	}
	v := []string{mt}
	t.lastType.Store(&v)
	return v
}

// readReply reads the body of a 200 response, which then belongs to the
// caller: it is never pooled.
func (t *transport) readReply(resp *http.Response) ([]byte, error) {
	if reply, ok := httpengine.TakeBody(resp.Body); ok {
		// Read whole already, and the caller's to keep.
		if int64(len(reply)) > t.maxReply {
			return nil, replyTooLarge(fmt.Sprintf("httprpc: reply too large: %d bytes, over the limit of %d", len(reply), t.maxReply))
		}
		return reply, nil
	}
	if resp.ContentLength > t.maxReply {
		return nil, replyTooLarge(fmt.Sprintf("httprpc: reply too large: %d bytes, over the limit of %d", resp.ContentLength, t.maxReply))
	}
	reply, err := httpengine.ReadAll(io.LimitReader(resp.Body, t.maxReply+1), nil, resp.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("httprpc: reading the reply: %w", err)
	}
	if int64(len(reply)) > t.maxReply {
		return nil, replyTooLarge(fmt.Sprintf("httprpc: reply too large: over the limit of %d bytes", t.maxReply))
	}
	return reply, nil
}

// replyTooLarge is the error of a call whose reply is over the client's
// limit: the same *rpc.Error as on every transport, which
// errors.Is(err, rpc.ErrLimitExceeded) tells.
func replyTooLarge(msg string) error {
	return &rpc.Error{Code: rpc.CodeLimitExceeded, Message: msg}
}

// Close makes later calls fail with rpc.ErrClosed and closes the
// connections of the transport's own HTTP engine (not those of one given
// with WithRoundTripper): idle ones at once, those of calls in flight once
// they finish. Close is idempotent.
func (t *transport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	if t.own != nil {
		t.own.CloseIdleConnections()
	}
	return nil
}
