package httprpc

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

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
// Unless WithRoundTripper or WithHTTP2 says otherwise, the transport
// sends its requests with an HTTP/1.1 engine of its own, which does a call's
// I/O in the calling goroutine, keeps idle connections alive
// (WithMaxIdleConns, WithIdleTimeout), bounds dialing and TLS handshakes
// (WithTLSConfig), and can pipeline (WithPipelining). Where the environment
// names a proxy for url (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), requests go
// through it. Redirects are not followed: a redirected POST would be turned
// into a GET. No overall timeout is set, since calls may run long: a call's
// context bounds it. A reply over the limit (WithMaxMessageSize) fails the
// call with an *rpc.Error of code rpc.CodeLimitExceeded.
//
// Every request asks for a gzip reply (Accept-Encoding: gzip), which is
// decoded, the limit bounding the reply decoded too; a reply in a coding not
// asked for fails the call with an error that says so. Requests are sent as
// they are, unless WithCompressThreshold asks for gzip.
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
	own      interface{ CloseIdleConnections() } // the engine made for it, if rt is or wraps it
	header   http.Header
	maxReply int64
	// compressAt is the size from which requests are gzipped, until
	// noGzip says that the server does not read them.
	compressAt int
	noGzip     atomic.Bool
	closed     atomic.Bool
	lastType   atomic.Pointer[[]string] // see mediaType
}

var _ rpc.Transport = (*transport)(nil)

// ownEngineOptions configure the transport's own engine, and are an error
// with another.
var ownEngineOptions = []string{"WithTLSConfig", "WithPipelining", "WithIdleTimeout", "WithMaxIdleConns", "WithHTTP2"}

func newTransport(rawURL string, cfg *config) (*transport, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	t := &transport{u: u, header: cfg.header, maxReply: defaultMaxReply, compressAt: compressNever}
	if cfg.maxMessage > 0 {
		t.maxReply = int64(cfg.maxMessage)
	}
	if cfg.compressAt > 0 {
		t.compressAt = cfg.compressAt
	}
	if cfg.rt != nil {
		for _, name := range ownEngineOptions {
			if cfg.has(name) {
				return nil, fmt.Errorf("httprpc: %s configures the client's own HTTP engine, which WithRoundTripper replaces: configure the one given, or use WithWrapper to wrap the own engine", name)
			}
		}
	}

	rt := cfg.rt
	switch {
	case rt != nil:
	case cfg.http2:
		if cfg.pipeline > 1 {
			return nil, errors.New("httprpc: WithPipelining is an error with WithHTTP2, which multiplexes calls on one connection")
		}
		h2 := newHTTP2Transport(u, cfg)
		t.own, rt = h2, h2
	default:
		own := &httpengine.RoundTripper{
			TLSClientConfig:     cfg.tls,
			Proxy:               http.ProxyFromEnvironment,
			Pipeline:            cfg.pipeline,
			MaxIdleConnsPerHost: cfg.maxIdle, // zero keeps 64
			IdleConnTimeout:     cfg.idleTimeout,
			MaxPipelinedBody:    t.maxReply,
		}
		t.own, rt = own, own
	}
	for _, wrap := range cfg.wrappers {
		if rt = wrap(rt); rt == nil {
			return nil, errors.New("httprpc: WithWrapper: the wrapper returned nil")
		}
	}
	t.rt = rt
	return t, nil
}

// newHTTP2Transport returns the engine of WithHTTP2: net/http's Transport,
// speaking HTTP/2 alone, with the own engine's defaults.
func newHTTP2Transport(u *url.URL, cfg *config) *http.Transport {
	var p http.Protocols
	if u.Scheme == "https" {
		p.SetHTTP2(true) // by ALPN
	} else {
		p.SetUnencryptedHTTP2(true) // with prior knowledge
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            d.DialContext,
		TLSClientConfig:        cfg.tls.Clone(),
		TLSHandshakeTimeout:    10 * time.Second,
		IdleConnTimeout:        cmp.Or(cfg.idleTimeout, 90*time.Second),
		MaxIdleConnsPerHost:    cfg.maxIdle,
		MaxResponseHeaderBytes: httpengine.DefaultMaxHeaderBytes,
		DisableCompression:     true, // httprpc asks for gzip, and decodes it
		Protocols:              &p,
	}
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
	zip := len(msg) >= t.compressAt && !t.noGzip.Load()
	reply, err := t.exchange(ctx, types[0], msg, oneway, zip)
	if zip && errors.Is(err, errGzipRefused) {
		// A server that refuses gzip (415) has not served the call: send
		// it again as it is, and all that follow.
		t.noGzip.Store(true)
		return t.exchange(ctx, types[0], msg, oneway, false)
	}
	return reply, err
}

// errGzipRefused is the error of a gzipped request that the server answered
// with 415 Unsupported Media Type.
var errGzipRefused = errors.New("httprpc: the server does not read gzip requests")

// exchange sends one request, its body gzipped if zip says so.
func (t *transport) exchange(ctx context.Context, contentType string, msg []byte, oneway, zip bool) ([]byte, error) {
	if zip {
		zb := getBuf()
		zipped := appendGzip((*zb)[:0], msg)
		// Deferred first, run last: once the body is given back.
		defer putBuf(zb, zipped)
		msg = zipped
	}
	body := lend(msg)
	defer body.giveBack()
	req, err := t.newRequest(ctx, contentType, body, len(msg))
	if err != nil {
		return nil, err
	}
	if zip {
		req.Header["Content-Encoding"] = gzipField
	}
	carrier, _ := wire.CarrierFrom(ctx)
	if carrier != nil {
		setHeaders(req.Header, carrier.Metadata())
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
		if carrier != nil {
			if md := headerMetadata(resp.Header); md != nil {
				carrier.SetReply(md)
			}
		}
		return t.readReply(resp)
	case resp.StatusCode == http.StatusNoContent:
		return nil, fmt.Errorf("httprpc: the server answered 204 No Content: %w", rpc.ErrNoReply)
	case zip && resp.StatusCode == http.StatusUnsupportedMediaType:
		return nil, errGzipRefused
	}
	if contentCoding(resp.Header["Content-Encoding"]) == codingGzip {
		zipped, _ := io.ReadAll(io.LimitReader(resp.Body, drainLimit))
		return nil, statusError(resp.StatusCode, gunzipHead(zipped, maxStatusBody))
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
	req.Header = make(http.Header, 4+len(t.header))
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
	req.Header["Accept-Encoding"] = gzipField
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
	if ce, ok := resp.Header["Content-Encoding"]; ok {
		switch contentCoding(ce) {
		case identity:
		case codingGzip:
			return t.readGzipReply(resp)
		default:
			// Taken for the codec's, it would fail as a malformed message.
			return nil, fmt.Errorf("httprpc: reply in content-encoding %s, which the client did not ask for", strings.Join(ce, ", "))
		}
	}
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

// readGzipReply reads the body of a 200 response in gzip. The limit bounds
// both the body and the reply decoded from it. The body is read whole first,
// so that its trailer tells the reply's size, which is then allocated once.
func (t *transport) readGzipReply(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > t.maxReply {
		return nil, replyTooLarge(fmt.Sprintf("httprpc: reply too large: %d bytes in gzip, over the limit of %d", resp.ContentLength, t.maxReply))
	}
	zipped, ok := httpengine.TakeBody(resp.Body)
	if !ok {
		buf := getBuf()
		var err error
		zipped, err = httpengine.ReadAll(io.LimitReader(resp.Body, t.maxReply+1), (*buf)[:0], resp.ContentLength)
		defer putBuf(buf, zipped)
		if err != nil {
			return nil, fmt.Errorf("httprpc: reading the reply: %w", err)
		}
	}
	if int64(len(zipped)) > t.maxReply {
		return nil, replyTooLarge(fmt.Sprintf("httprpc: reply too large: over the limit of %d bytes in gzip", t.maxReply))
	}
	// ISIZE, the size of the (last) member's data modulo 2^32, is but a
	// hint: ReadAll grows the reply if it was wrong.
	size := int64(-1)
	if len(zipped) >= 18 {
		if n := int64(binary.LittleEndian.Uint32(zipped[len(zipped)-4:])); n <= t.maxReply {
			size = n
		}
	}
	z, err := inflate(bytes.NewReader(zipped), codingGzip)
	if err != nil {
		return nil, fmt.Errorf("httprpc: reading the reply in gzip: %w", err)
	}
	defer z.release()
	reply, err := httpengine.ReadAll(io.LimitReader(z, t.maxReply+1), nil, size)
	if int64(len(reply)) > t.maxReply {
		return nil, replyTooLarge(fmt.Sprintf("httprpc: reply too large: over the limit of %d bytes once decoded from gzip", t.maxReply))
	}
	if err != nil {
		return nil, fmt.Errorf("httprpc: reading the reply in gzip: %w", err)
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
