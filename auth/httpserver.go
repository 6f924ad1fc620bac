package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/events"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// HTTPHandler is middleware that lets through only the requests signed with
// one of its keys under the PolyRPC-HMAC scheme (see the package
// documentation), and puts the ID of the key into the request's context as
// rpc.Peer.Identity. It is safe for concurrent use. It keeps no state per
// nonce it issues, only the nonces of the requests it let through, so that
// replicas holding the same keys accept each other's nonces.
//
// A request without valid credentials gets 401 Unauthorized with a fresh
// challenge and never reaches the next handler; neither does a body over the
// limit, which gets 413. A request let through gets its next nonce in the
// Authentication-Info response header, and its body, which the handler read
// to verify it, as an equivalent in-memory body.
type HTTPHandler struct {
	next    http.Handler
	keys    *KeySet
	nonces  *nonces
	maxBody int64
	budget  *wire.Budget // nil: bodies uncounted
	fails   *failureLog
	// decoy stands in for the secret of an unknown key ID, so that a
	// request naming one costs the same work as one naming a known key.
	decoy []byte
}

// NewHTTPHandler returns an HTTPHandler that serves the requests signed with
// any key of keys with next. It fails for a nil next or KeySet and for an
// invalid option, or one of NewServer and NewClient.
func NewHTTPHandler(next http.Handler, keys *KeySet, opts ...Option) (*HTTPHandler, error) {
	if next == nil || keys == nil {
		return nil, errors.New("auth: NewHTTPHandler: nil handler or KeySet")
	}
	cfg, err := newConfig(httpHandler, opts)
	if err != nil {
		return nil, err
	}
	decoy := make([]byte, 32)
	rand.Read(decoy)
	return &HTTPHandler{
		next:    next,
		keys:    keys,
		nonces:  newNonces(keys, cfg.nonceTTL, cfg.maxNonces, cfg.log),
		maxBody: int64(cfg.maxBody),
		budget:  cfg.budget,
		fails:   newFailureLog(cfg.log, "http"),
		decoy:   decoy,
	}, nil
}

// credentials are the parameters of an Authorization header of our scheme.
type credentials struct {
	keyID     string
	nonceText string
	nonce     nonce
	mac       []byte
}

// noCredentials is the problem of a request without credentials of our
// scheme: the first request of every client, which gets a nonce.
const noCredentials = "authentication required"

// invalid is the answer to every request whose credentials fail, whatever
// the reason: telling them apart would tell a client without a key which
// key IDs and nonces are good.
const invalid = "invalid credentials or nonce"

func parseCredentials(params map[string]string) (credentials, string) {
	c := credentials{keyID: params["keyid"], nonceText: params["nonce"]}
	if alg, ok := params["algorithm"]; ok && !strings.EqualFold(alg, "sha256") {
		return c, "unsupported algorithm"
	}
	n, nonceOK := parseNonce(c.nonceText)
	mac, err := hex.DecodeString(params["mac"])
	if c.keyID == "" || !nonceOK || err != nil || len(mac) == 0 {
		return c, "malformed " + Scheme + " credentials"
	}
	c.nonce, c.mac = n, mac
	return c, ""
}

// ServeHTTP lets r through to the next handler if it is signed with a key of
// the set, and answers it with 401 or 413 otherwise.
//
// What it answers depends on nothing the client cannot know before the
// MAC is checked: a body declared over the limit gets 413, whatever the
// credentials; a request without credentials gets 401 unread; one with
// credentials has its body read (over the limit, 413) before anything of
// them is checked, and any failure then gets the same 401.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.maxBody {
		h.tooLarge(w)
		return
	}
	params, ok := findAuth(r.Header.Values(headerAuthorize), Scheme)
	if !ok {
		h.challenge(w, noCredentials)
		return
	}
	if h.budget != nil {
		n := r.ContentLength
		if n < 0 {
			n = h.maxBody
		}
		holder := h.budget.Holder()
		if err := holder.Acquire(r.Context(), n); err != nil {
			http.Error(w, "auth: server busy", http.StatusServiceUnavailable)
			return
		}
		defer holder.Release(n)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	in := r.Body
	if in == nil { // only in a request made in process
		in = http.NoBody
	}
	body, err := readBody(http.MaxBytesReader(w, in, h.maxBody), (*buf)[:0], r.ContentLength)
	*buf = body
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.tooLarge(w)
			return
		}
		http.Error(w, "auth: reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	key, why := h.verify(r, params, body)
	if why != "" {
		if why != expired {
			h.fails.record(remoteAddr(r), params["keyid"], why)
			events.AuthFailed("http")
		}
		h.challenge(w, invalid)
		return
	}
	w.Header().Set(headerInfo, `nextnonce="`+h.nonces.issue().String()+`"`)

	ctx := r.Context()
	p := &rpc.Peer{}
	if prev, ok := rpc.PeerFromContext(ctx); ok {
		*p = *prev
	}
	p.Identity = key.ID
	r = r.WithContext(rpc.WithPeer(ctx, p))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = nil
	h.next.ServeHTTP(w, r)
}

// expired is the failure of a nonce past its window, or issued before one
// the replay cache forgot: no one's fault, so not logged; the client signs
// again with the fresh nonce of the 401.
const expired = "expired nonce"

// verify checks the credentials params of r, whose body is body, and
// returns the key that signed it, or why not. Up to the MAC, it does the
// same work whatever fails, and spends the nonce only once all is good, so
// that nobody but a key holder can spend the nonces of others.
func (h *HTTPHandler) verify(r *http.Request, params map[string]string, body []byte) (Key, string) {
	now := time.Now()
	cred, problem := parseCredentials(params)
	key, known := h.keys.lookup(cred.keyID)
	secret := key.Secret
	if !known {
		secret = h.decoy
	}
	want := httpMAC(secret, cred.keyID, cred.nonceText, r.Method, requestTarget(r), r.Header.Get("Content-Type"), body)
	macOK := hmac.Equal(want, cred.mac)
	genuine, fresh := h.nonces.check(cred.nonce, now)
	switch {
	case problem != "":
		return Key{}, problem
	case !known:
		return Key{}, "unknown key ID"
	case !genuine:
		return Key{}, "a nonce no server holding these keys issued"
	case !macOK:
		return Key{}, "wrong MAC: a wrong key, or a request altered on the way"
	case !fresh:
		return Key{}, expired
	}
	switch h.nonces.used.use(cred.nonce, now) {
	case replay:
		return Key{}, "nonce used before: a replayed request"
	case tooOld:
		return Key{}, expired
	}
	return key, ""
}

// remoteAddr is the client's address: the Peer's, which a transport may
// have taken from a trusted proxy, or the connection's.
func remoteAddr(r *http.Request) string {
	if p, ok := rpc.PeerFromContext(r.Context()); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return r.RemoteAddr
}

// challenge answers 401 with a fresh nonce.
func (h *HTTPHandler) challenge(w http.ResponseWriter, problem string) {
	hdr := w.Header()
	hdr.Set(headerAuthenticate, Scheme+` nonce="`+h.nonces.issue().String()+`", algorithm="sha256"`)
	hdr.Set("Cache-Control", "no-store")
	http.Error(w, "auth: "+problem, http.StatusUnauthorized)
}

func (h *HTTPHandler) tooLarge(w http.ResponseWriter) {
	http.Error(w, "auth: request body larger than "+strconv.FormatInt(h.maxBody, 10)+" bytes", http.StatusRequestEntityTooLarge)
}

// requestTarget is the request target as the client sent it, in
// origin-form: the path and the query.
func requestTarget(r *http.Request) string {
	t := r.RequestURI
	if strings.HasPrefix(t, "/") {
		return t
	}
	if u, err := url.ParseRequestURI(t); err == nil && u.IsAbs() {
		return u.RequestURI() // absolute-form, as sent to a proxy
	}
	return r.URL.RequestURI() // RequestURI unset: a request made in process
}

// readBody reads r to its end, appending to dst; hint is the declared
// length, or -1. Memory grows with the bytes that arrive, not with the
// declared length, beyond the first readChunk.
func readBody(r io.Reader, dst []byte, hint int64) ([]byte, error) {
	if hint > 0 {
		// One byte more, to meet the end without growing.
		dst = slices.Grow(dst, int(min(hint, readChunk))+1)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

const readChunk = 64 << 10

// bodies recycles request body buffers; ones grown past maxPooled are left
// to the collector.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooled = 64 << 10

func getBuffer() *[]byte { return bodies.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		bodies.Put(b)
	}
}
