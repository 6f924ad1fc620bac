package httprpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/polyrpc/polyrpc/internal/events"
	"github.com/polyrpc/polyrpc/internal/httpengine"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// defaultMaxBody is the default limit on a request body
// (WithMaxMessageSize).
const defaultMaxBody = 4 << 20

// allowHeader is the Allow header's value, ready for a Header map so that
// setting it costs no allocation. It is never modified.
var allowHeader = []string{"POST, OPTIONS"}

// Handler serves the calls of an rpc.Server over HTTP. Every POST body is one
// message (a call, a notification or a batch) in the codec its Content-Type
// names; the reply is the response body. A Handler ignores the request path,
// so it can be mounted anywhere; rpcd mounts it at both / and /RPC2, the
// paths that XML-RPC and JSON-RPC clients use. It is safe for concurrent use.
//
// Before a codec is chosen the Handler answers in HTTP: 403 for a request
// from a web page of another origin, or for a foreign Host on a loopback
// address (see WithAllowOrigin); 405 for a method other than POST or
// OPTIONS; 415 for a request without a Content-Type (a web page may send an
// untyped body anywhere without a CORS preflight, but none typed as one of
// the codecs' media types), with one that no codec serves, or with a
// Content-Encoding other than gzip, deflate or identity; 400 for a body not
// in its coding; 413 for a body over the limit, as sent or decoded. Once a
// codec is chosen, every failure is an error reply in that codec's own
// shape, with status 200.
//
// A reply of at least 1024 bytes (WithCompressThreshold) goes in gzip to a
// client whose Accept-Encoding prefers it, weights (q) honoured, with
// Vary: Accept-Encoding.
//
// The server's memory budget (rpc.WithMaxMemory) holds every request: its
// body, decoded if it came compressed, counts three times (the message, what decoding makes of it and the
// reply being encoded, as measured for a string echoed) from before it is
// read until its reply is encoded, and the reply once until it is written.
// While the budget is spent, the request waits, unread, for the calls of
// others to end (backpressure on its connection) or for its context to
// end; a body that the whole budget could not hold three times gets 413.
type Handler struct {
	srv     *rpc.Server
	budget  *wire.Budget
	holders sync.Pool // of *wire.Holder, one per request being served
	maxBody int64
	// compressAt is the size from which replies are gzipped, for clients
	// that accept it.
	compressAt int
	log        *slog.Logger
	// byType maps every accepted media type, in lower case, to its codec.
	// It is built once and only read afterwards.
	byType map[string]*served
	// acceptPost lists every accepted media type, comma separated.
	acceptPost []string
	// origins refuses cross-origin requests from browsers but those of
	// the trusted origins, whose hosts are in originHosts.
	origins     *http.CrossOriginProtection
	originHosts []string
}

// served is a codec the handler serves and the Content-Type of its replies.
type served struct {
	codec       rpc.Codec
	contentType []string
}

// NewHandler returns a handler that serves s in each of its codecs that has
// media types (implements wire.MediaTyper): all of a codec's media types are
// accepted, and replies carry the first. Where two codecs claim the same media
// type, the first in s.Codecs() order serves it. The set of codecs is fixed
// when NewHandler returns. It fails for a nil server, a server without a
// codec that has media types, and an invalid option.
func NewHandler(s *rpc.Server, opts ...Option) (*Handler, error) {
	if s == nil {
		return nil, errors.New("httprpc: NewHandler: nil server")
	}
	cfg, err := newConfig(sideHandler, "NewHandler", opts)
	if err != nil {
		return nil, err
	}
	h := &Handler{srv: s, budget: s.Budget(), maxBody: defaultMaxBody, compressAt: defaultCompressAt, log: cfg.logger(),
		byType: map[string]*served{}, origins: http.NewCrossOriginProtection()}
	h.holders.New = func() any { return h.budget.Holder() }
	if cfg.maxMessage > 0 {
		h.maxBody = int64(cfg.maxMessage)
	}
	if cfg.compressAt > 0 {
		h.compressAt = cfg.compressAt
	}
	for _, o := range cfg.origins {
		u, err := parseOrigin(o)
		if err != nil {
			return nil, err
		}
		if err := h.origins.AddTrustedOrigin(u.String()); err != nil {
			return nil, fmt.Errorf("httprpc: WithAllowOrigin: %w", err)
		}
		h.originHosts = append(h.originHosts, u.Hostname())
	}
	var all []string
	for _, c := range s.Codecs() {
		mt, ok := c.(wire.MediaTyper)
		if !ok {
			continue // a stream-only codec: it does not travel over HTTP
		}
		types := mt.MediaTypes()
		if len(types) == 0 {
			continue
		}
		e := &served{codec: c, contentType: []string{types[0]}}
		for _, t := range types {
			// Requests are matched on the bare media type, so a codec's
			// own parameters (a charset, say) must not be part of the key.
			key, ok := mediaType(t)
			if !ok {
				continue
			}
			if _, taken := h.byType[key]; taken {
				continue
			}
			h.byType[key] = e
			all = append(all, key)
		}
	}
	if len(all) == 0 {
		return nil, errors.New("httprpc: NewHandler: the server has no codec with a media type (wire.MediaTyper) to serve over HTTP")
	}
	h.acceptPost = []string{strings.Join(all, ", ")}
	return h, nil
}

// ServeHTTP serves one HTTP request; see Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.origins.Check(r); err != nil {
		h.refuse(w, r, "httprpc: "+err.Error(), http.StatusForbidden)
		return
	}
	if !h.hostAllowed(r) {
		h.refuse(w, r, "httprpc: Host "+strconv.Quote(r.Host)+" is not allowed on a loopback address", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		hdr := w.Header()
		hdr["Allow"] = allowHeader
		hdr["Accept-Post"] = h.acceptPost
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header()["Allow"] = allowHeader
		http.Error(w, "httprpc: method "+r.Method+" not allowed: calls are POSTed", http.StatusMethodNotAllowed)
		return
	}

	// The Content-Type picks the codec before the body is read, so that a
	// request nobody can serve costs no buffering.
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		h.unsupported(w, r, "httprpc: no Content-Type: it must name the codec of the body")
		return
	}
	e := h.lookup(ct)
	if e == nil {
		h.unsupported(w, r, "httprpc: unsupported Content-Type "+strconv.Quote(ct))
		return
	}
	// A body in a coding that cannot be read would be taken for a
	// malformed message: refuse it plainly, saying which codings are read
	// (RFC 9110, section 12.5.3).
	enc := identity
	if ce, ok := r.Header["Content-Encoding"]; ok {
		if enc = contentCoding(ce); enc == codingOther {
			w.Header()["Accept-Encoding"] = acceptCodings
			h.refuse(w, r, "httprpc: unsupported Content-Encoding "+strconv.Quote(strings.Join(ce, ", "))+": request bodies are read in gzip, deflate or identity", http.StatusUnsupportedMediaType)
			return
		}
	}
	if r.ContentLength > h.maxBody {
		h.tooLarge(w, r, identity)
		return
	}

	// The body's bytes are the budget's from before it is read: while the
	// budget is spent, this waits and the connection goes unread.
	ctx := r.Context()
	l := lease{h: h.holders.Get().(*wire.Holder)}
	defer l.end(&h.holders)
	var src io.Reader = http.MaxBytesReader(w, r.Body, h.maxBody)
	var chunked *budgetReader
	size := r.ContentLength
	switch {
	case enc != identity:
		// The decoded message is what is held and what the limit bounds;
		// decoding it takes at most the limit's bytes in and out, however
		// the body was made.
		z, err := inflate(src, enc)
		if err != nil {
			h.badBody(w, r, err, enc)
			return
		}
		defer z.release()
		chunked = &budgetReader{r: http.MaxBytesReader(w, z, h.maxBody), ctx: ctx, h: l.h, limit: h.maxBody + 1, max: h.budget.Max()}
		src, size = chunked, -1
	case size > 0:
		if err := l.h.Acquire(ctx, bodyCost*size); err != nil {
			h.noBudget(w, r, err)
			return
		}
		l.n = bodyCost * size
	case size < 0:
		// Chunked: the budget grows with the body.
		chunked = &budgetReader{r: src, ctx: ctx, h: l.h, limit: h.maxBody + 1, max: h.budget.Max()}
		src = chunked
	}
	in := getBuf()
	body, err := httpengine.ReadAll(src, (*in)[:0], size)
	if chunked != nil {
		l.n = chunked.held
	}
	if err != nil {
		putBuf(in, body)
		if errors.Is(err, wire.ErrOverBudget) || ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			h.noBudget(w, r, err) // a chunked body outgrew the budget, or waited for it in vain
			return
		}
		h.badBody(w, r, err, enc)
		return
	}

	out := getBuf()
	reply := h.srv.ServeMessage(wire.WithCarrier(rpc.WithPeer(ctx, peerOf(r)), &headerCarrier{r.Header, w}), e.codec, body, (*out)[:0])
	defer putBuf(out, reply)
	// The request is served: what the budget holds now is the reply.
	putBuf(in, body)
	l.hold(int64(len(reply)))
	if len(reply) == 0 {
		// Only notifications: there is nothing to say, in any codec.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = e.contentType
	if len(reply) >= h.compressAt {
		hdr["Vary"] = varyField // the reply's coding depends on Accept-Encoding
	}
	if ae := r.Header["Accept-Encoding"]; len(ae) > 0 && h.compressAt != compressNever {
		// In gzip when the client accepts it at least as much as identity,
		// or refuses identity (RFC 9110, section 12.5.3).
		gzipQ, identityQ := acceptedCodings(ae)
		if gzipQ > 0 && (len(reply) >= h.compressAt && gzipQ >= identityQ || identityQ == 0) {
			zb := getBuf()
			zipped := appendGzip((*zb)[:0], reply)
			defer putBuf(zb, zipped)
			// Incompressible bytes grow by gzip's 18-byte frame: send
			// them as they are, unless the client refuses that.
			if len(zipped) < len(reply) || identityQ == 0 {
				l.hold(int64(len(reply) + len(zipped)))
				reply = zipped
				hdr["Content-Encoding"] = gzipField
				hdr["Vary"] = varyField
			}
		}
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(reply))}
	w.WriteHeader(http.StatusOK)
	// A failed write means the client is gone; there is no one to tell.
	_, _ = w.Write(reply)
}

// badBody answers a request whose body could not be read, in coding enc.
func (h *Handler) badBody(w http.ResponseWriter, r *http.Request, err error, enc coding) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		h.tooLarge(w, r, enc)
		return
	}
	// The client went away, broke the framing of the body (the answer
	// most likely reaches no one), or sent a body not in its coding.
	msg := "httprpc: reading the request body: "
	if enc != identity {
		msg = "httprpc: reading the request body in " + enc.String() + ": "
	}
	h.refuse(w, r, msg+err.Error(), http.StatusBadRequest)
}

// lease is what a request holds of the server's memory budget.
type lease struct {
	h *wire.Holder
	n int64 // bytes held
}

// hold replaces what l holds with n bytes, the server holds already.
func (l *lease) hold(n int64) {
	l.h.Force(n)
	l.h.Release(l.n)
	l.n = n
}

// end gives back what l holds, and its holder to pool.
func (l *lease) end(pool *sync.Pool) {
	l.h.Release(l.n)
	l.n = 0
	pool.Put(l.h)
}

// bodyCost is how many times a request's body counts in the memory budget
// until its reply is encoded.
const bodyCost = 3

// budgetReader reads a body of unknown length (chunked), acquiring its
// bytes, bodyCost times over as for a sized body, before it reads them: in
// steps that double as the body grows.
type budgetReader struct {
	r     io.Reader
	ctx   context.Context
	h     *wire.Holder
	held  int64 // bytes h holds for the body
	n     int64 // bytes read
	room  int64 // bytes that may be read before the next step
	limit int64 // the most bytes r gives
	max   int64 // the whole budget
}

// minStep is the first step of a budgetReader, in body bytes.
const minStep = 4 << 10

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.room <= 0 && b.n < b.limit {
		step := min(max(b.n, minStep), b.limit-b.n)
		if bodyCost*(b.n+step) > b.max {
			if step = b.max/bodyCost - b.n; step <= 0 {
				return 0, wire.ErrOverBudget
			}
		}
		// The body so far and the step are acquired anew as one: a
		// holder may hold a large message, but not grow into one.
		b.h.Release(b.held)
		b.held = 0
		if err := b.h.Acquire(b.ctx, bodyCost*(b.n+step)); err != nil {
			return 0, err
		}
		b.held = bodyCost * (b.n + step)
		b.room = step
	}
	if b.room > 0 && int64(len(p)) > b.room {
		p = p[:b.room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.room -= int64(n)
	return n, err
}

// noBudget answers a request that the memory budget could not take: 413 for
// a body larger than the whole budget could hold, 503 for one whose context
// ended while it waited (the answer most likely reaches no one).
func (h *Handler) noBudget(w http.ResponseWriter, r *http.Request, err error) {
	events.LimitHit("http", "max_memory")
	if errors.Is(err, wire.ErrOverBudget) {
		w.Header().Set("Connection", "close")
		h.refuse(w, r, "httprpc: request body larger than the server's memory budget can hold", http.StatusRequestEntityTooLarge)
		return
	}
	h.refuse(w, r, "httprpc: waiting for the server's memory budget: "+err.Error(), http.StatusServiceUnavailable)
}

// hostAllowed defends a server on a loopback address against DNS
// rebinding: a web page whose own host name came to resolve to 127.0.0.1
// may send requests that are same-origin to the browser, but they carry
// that name as their Host. On such a server the Host must be an IP address,
// localhost, or the host of a trusted origin.
//
// Only a browser's requests are held to it: a browser sends Origin with
// every POST (the Fetch standard) and Sec-Fetch-Site with every request, and
// DNS rebinding needs a browser. A request with neither comes from a tool
// (curl, Python, a Go client), often through a reverse proxy that names the
// server by its upstream name (nginx's proxy_pass http://backend sends Host:
// backend); it is served.
func (h *Handler) hostAllowed(r *http.Request) bool {
	if r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == "" {
		return true
	}
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !isLoopback(la) {
		return true
	}
	host := hostOf(r.Host)
	if host == "" || strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.") {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, oh := range h.originHosts {
		if strings.EqualFold(host, oh) {
			return true
		}
	}
	return false
}

// isLoopback reports whether a is an address of the loopback interface.
func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case nil:
		return false
	}
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// hostOf returns the host of a Host field's value, without its port and
// the brackets of an IPv6 address.
func hostOf(hostport string) string {
	if strings.HasPrefix(hostport, "[") {
		if i := strings.IndexByte(hostport, ']'); i > 0 {
			return hostport[1:i]
		}
		return hostport
	}
	if i := strings.IndexByte(hostport, ':'); i >= 0 {
		return hostport[:i]
	}
	return hostport
}

// parseOrigin parses a trusted origin of WithAllowOrigin: scheme://host[:port].
func parseOrigin(o string) (*url.URL, error) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("httprpc: WithAllowOrigin(%q): an origin is scheme://host[:port], as a browser sends it", o)
	}
	// Browsers send origins in lower case.
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u, nil
}

// lookup returns the codec that serves the media type in the Content-Type
// value ct, or nil.
func (h *Handler) lookup(ct string) *served {
	// Most clients send a bare, lower-case media type: skip the parser.
	if e, ok := h.byType[ct]; ok {
		return e
	}
	if mt, ok := mediaType(ct); ok {
		return h.byType[mt]
	}
	return nil
}

// mediaType returns the media type of a Content-Type value, in lower case
// and without parameters.
func mediaType(v string) (string, bool) {
	mt, _, err := mime.ParseMediaType(v)
	// A malformed parameter does not change the media type, and parameters
	// such as charset are advisory for the codecs: tolerate it.
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "", false
	}
	return mt, true
}

func (h *Handler) unsupported(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header()["Accept-Post"] = h.acceptPost
	h.refuse(w, r, msg, http.StatusUnsupportedMediaType)
}

// refuse answers a request that no codec serves with an HTTP status.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, msg string, status int) {
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "httprpc: refused a request",
		slog.Int("status", status), slog.String("error", msg), slog.String("remote", r.RemoteAddr))
	http.Error(w, msg, status)
}

func (h *Handler) tooLarge(w http.ResponseWriter, r *http.Request, enc coding) {
	events.LimitHit("http", "max_message_size")
	// The rest of the body is unread; closing the connection spares the
	// server from reading it just to reach the next request.
	w.Header().Set("Connection", "close")
	msg := "httprpc: request body larger than " + strconv.FormatInt(h.maxBody, 10) + " bytes"
	if enc != identity {
		msg += ", in " + enc.String() + " or decoded"
	}
	h.refuse(w, r, msg, http.StatusRequestEntityTooLarge)
}

// peerOf describes the client of r. A Peer that middleware already put into
// the request's context (an authenticated Identity, say) is kept and
// completed, not replaced.
func peerOf(r *http.Request) *rpc.Peer {
	// The Peer and its address share one allocation: this runs per request.
	pa := &peerAddr{}
	p := &pa.peer
	if prev, ok := rpc.PeerFromContext(r.Context()); ok {
		*p = *prev
	}
	if p.Transport == "" {
		p.Transport = "http"
	}
	if p.Addr == nil {
		p.Addr = pa.remoteAddr(r)
	}
	return p
}

type peerAddr struct {
	peer rpc.Peer
	tcp  net.TCPAddr
	ip   [16]byte
}

// remoteAddr turns r.RemoteAddr into an address. It is the immediate peer:
// headers such as X-Forwarded-For are not trusted here; middleware behind a
// trusted proxy may rewrite r.RemoteAddr before the handler runs.
func (pa *peerAddr) remoteAddr(r *http.Request) rpc.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ip := ap.Addr().Unmap()
		if ip.Is4() {
			b := ip.As4()
			pa.tcp.IP = net.IP(pa.ip[:copy(pa.ip[:], b[:])])
		} else {
			pa.ip = ip.As16()
			pa.tcp.IP = net.IP(pa.ip[:])
			pa.tcp.Zone = ip.Zone()
		}
		pa.tcp.Port = int(ap.Port())
		return &pa.tcp
	}
	if r.RemoteAddr == "" {
		return nil
	}
	// Not host:port, as over a Unix socket: keep the text, and take the
	// network from the listener's side.
	network := ""
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		network = la.Network()
	}
	return textAddr{network: network, addr: r.RemoteAddr}
}

type textAddr struct{ network, addr string }

func (a textAddr) Network() string { return a.network }
func (a textAddr) String() string  { return a.addr }
