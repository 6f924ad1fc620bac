package httprpc

import (
	"errors"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

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
// Before a codec is chosen the Handler answers in HTTP: 405 for a method
// other than POST or OPTIONS, 415 for a Content-Type that no codec serves,
// 413 for a body over the limit. Once a codec is chosen, every failure is an
// error reply in that codec's own shape, with status 200.
type Handler struct {
	srv     *rpc.Server
	maxBody int64
	log     *slog.Logger
	// byType maps every accepted media type, in lower case, to its codec.
	// It is built once and only read afterwards.
	byType map[string]*served
	// sniffers are the served codecs that recognise a message by its first
	// byte, in the server's codec order; they pick the codec of a request
	// that has no Content-Type.
	sniffers []*served
	// acceptPost lists every accepted media type, comma separated.
	acceptPost []string
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
	h := &Handler{srv: s, maxBody: defaultMaxBody, log: cfg.logger(), byType: map[string]*served{}}
	if cfg.maxMessage > 0 {
		h.maxBody = int64(cfg.maxMessage)
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
		claimed := false
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
			claimed = true
		}
		if _, ok := c.(wire.Sniffer); ok && claimed {
			h.sniffers = append(h.sniffers, e)
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

	// An explicit Content-Type picks the codec before the body is read, so
	// that a request nobody can serve costs no buffering.
	var e *served
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if e = h.lookup(ct); e == nil {
			h.unsupported(w, r, "httprpc: unsupported Content-Type "+strconv.Quote(ct))
			return
		}
	}
	// Bodies are read as they are: a compressed one would be taken for a
	// malformed message, so refuse it plainly (RFC 9110, 15.5.16).
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		w.Header()["Accept-Encoding"] = []string{"identity"}
		h.refuse(w, r, "httprpc: unsupported Content-Encoding "+strconv.Quote(ce), http.StatusUnsupportedMediaType)
		return
	}
	if r.ContentLength > h.maxBody {
		h.tooLarge(w, r)
		return
	}

	in := getBuf()
	body, err := httpengine.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody), (*in)[:0], r.ContentLength)
	defer putBuf(in, body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.tooLarge(w, r)
			return
		}
		// The client went away or broke the framing of the body; the
		// answer most likely reaches no one.
		h.refuse(w, r, "httprpc: reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if e == nil {
		if e = h.sniff(body); e == nil {
			h.unsupported(w, r, "httprpc: no Content-Type, and the body is in no known format")
			return
		}
	}

	out := getBuf()
	reply := h.srv.ServeMessage(rpc.WithPeer(r.Context(), peerOf(r)), e.codec, body, (*out)[:0])
	defer putBuf(out, reply)
	if len(reply) == 0 {
		// Only notifications: there is nothing to say, in any codec.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = e.contentType
	hdr["Content-Length"] = []string{strconv.Itoa(len(reply))}
	w.WriteHeader(http.StatusOK)
	// A failed write means the client is gone; there is no one to tell.
	_, _ = w.Write(reply)
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

// sniff returns the codec that recognises the first non-whitespace byte of
// msg, or nil.
func (h *Handler) sniff(msg []byte) *served {
	i := 0
	for i < len(msg) && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\r' || msg[i] == '\n') {
		i++
	}
	if i == len(msg) {
		return nil
	}
	for _, e := range h.sniffers {
		if e.codec.(wire.Sniffer).Sniff(msg[i]) {
			return e
		}
	}
	return nil
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

func (h *Handler) tooLarge(w http.ResponseWriter, r *http.Request) {
	// The rest of the body is unread; closing the connection spares the
	// server from reading it just to reach the next request.
	w.Header().Set("Connection", "close")
	h.refuse(w, r, "httprpc: request body larger than "+strconv.FormatInt(h.maxBody, 10)+" bytes", http.StatusRequestEntityTooLarge)
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
