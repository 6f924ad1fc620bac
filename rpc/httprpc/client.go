package httprpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/polyrpc/polyrpc/rpc"
)

// DefaultMaxReplySize is the default limit on a reply body (see
// WithMaxReplySize).
const DefaultMaxReplySize = 64 << 20

// Transport is an rpc.Transport that POSTs each message to one URL and
// returns the response body as the reply. Create it with NewTransport; it is
// safe for concurrent use.
type Transport struct {
	url    string
	u      *url.URL // url parsed; shared by every request, never modified
	urlErr error
	// Requests go through client if it is set, else straight to rt.
	client   *http.Client
	rt       http.RoundTripper
	own      bool // rt was made here, so Close may close its connections
	header   http.Header
	maxReply int64
	closed   atomic.Bool
	lastType atomic.Pointer[[]string] // see mediaType
}

var _ rpc.Transport = (*Transport)(nil)

// NewTransport returns a transport that POSTs messages to url. Unless
// WithHTTPClient or WithRoundTripper says otherwise, it sends them with a
// RoundTripper of its own, which keeps up to 64 idle connections per host
// alive and bounds dialing and TLS handshakes (see WithTLSConfig); where the
// environment names a proxy for url (HTTPS_PROXY, HTTP_PROXY, NO_PROXY),
// requests go through it (see RoundTripper.Proxy). Redirects are not
// followed: a redirected POST would be turned into a GET. No overall timeout
// is set, since calls may run long: a call's context bounds it. A malformed
// url fails every call.
func NewTransport(url string, opts ...ClientOption) *Transport {
	cfg := transportConfig{maxReply: DefaultMaxReplySize}
	for _, o := range opts {
		o.applyTransport(&cfg)
	}
	t := &Transport{url: url, client: cfg.client, rt: cfg.rt, header: cfg.header, maxReply: cfg.maxReply}
	t.u, t.urlErr = parseURL(url)
	if t.client != nil || t.rt != nil || t.urlErr != nil {
		return t
	}
	t.own = true
	t.rt = &RoundTripper{
		TLSClientConfig: cfg.tls, // the zero MaxIdleConnsPerHost keeps 64
		Proxy:           http.ProxyFromEnvironment,
		Pipeline:        cfg.pipeline,
	}
	return t
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

// NewClient returns an rpc.Client that calls the server at url in codec c,
// over NewTransport(url, opts...).
func NewClient(url string, c rpc.Codec, opts ...ClientOption) *rpc.Client {
	return rpc.NewClient(NewTransport(url, opts...), c)
}

// RoundTrip implements rpc.Transport. c must have media types
// (rpc.MediaTyper): the first is the request's Content-Type and Accept. A
// reply comes with status 200; 204 No Content is the answer to a oneway
// message, and to any other an error wrapping rpc.ErrNoReply; any other
// status is a *StatusError.
func (t *Transport) RoundTrip(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	if t.closed.Load() {
		return nil, ErrClosed
	}
	if t.urlErr != nil {
		return nil, t.urlErr
	}
	mt, ok := c.(rpc.MediaTyper)
	var types []string
	if ok {
		types = mt.MediaTypes()
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("httprpc: codec %s has no media type", c.Name())
	}
	body := lend(msg)
	defer body.giveBack()
	req, err := t.newRequest(ctx, types[0], body, len(msg))
	if err != nil {
		return nil, err
	}
	var resp *http.Response
	if t.client != nil {
		resp, err = t.client.Do(req)
	} else {
		resp, err = t.rt.RoundTrip(req)
	}
	if err != nil {
		if t.client != nil {
			err = fmt.Errorf("httprpc: %w", err) // net/http's errors do not say who
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
	return nil, newStatusError(resp.StatusCode, head)
}

// newRequest builds the HTTP request of one call. It is the one place where
// requests are made, so that whatever must see every request (headers now,
// request signing for authentication later) goes here.
func (t *Transport) newRequest(ctx context.Context, contentType string, body *lentBody, n int) (*http.Request, error) {
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
// type last used: a Transport nearly always speaks one codec. The slice is
// shared by requests, which RoundTrippers must not modify.
func (t *Transport) mediaType(mt string) []string {
	if v := t.lastType.Load(); v != nil && (*v)[0] == mt {
		return *v
	}
	v := []string{mt}
	t.lastType.Store(&v)
	return v
}

// readReply reads the body of a 200 response, which then belongs to the
// caller: it is never pooled.
func (t *Transport) readReply(resp *http.Response) ([]byte, error) {
	if pb, ok := resp.Body.(*pipeBody); ok {
		// Read whole already, and the caller's to keep.
		reply := pb.take()
		if int64(len(reply)) > t.maxReply {
			return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrReplyTooLarge, len(reply), t.maxReply)
		}
		return reply, nil
	}
	if resp.ContentLength > t.maxReply {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrReplyTooLarge, resp.ContentLength, t.maxReply)
	}
	reply, err := readAll(io.LimitReader(resp.Body, t.maxReply+1), nil, resp.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("httprpc: reading the reply: %w", err)
	}
	if int64(len(reply)) > t.maxReply {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrReplyTooLarge, t.maxReply)
	}
	return reply, nil
}

// Close makes later calls fail with ErrClosed and closes the connections
// of the transport's own HTTP client (not those of one given with
// WithHTTPClient or WithRoundTripper): idle ones at once, those of calls in
// flight once they finish. Close is idempotent.
func (t *Transport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	if t.own {
		t.rt.(*RoundTripper).CloseIdleConnections()
	}
	return nil
}
