package auth

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
)

// maxHeldNonces bounds the nextnonces a signing RoundTripper keeps: about the
// number of its requests in flight at once. Beyond it the oldest is dropped.
const maxHeldNonces = 32

// maxDrain is how much of a 401 response's body is read, so that its
// connection can be reused, before the request is sent again.
const maxDrain = 4 << 10

// SignHTTP returns a RoundTripper that signs requests with k under the
// PolyRPC-HMAC scheme (see the package documentation), for an HTTPHandler,
// and sends them with base, or with http.DefaultTransport when base is nil.
// It has the shape of a wrapper of RoundTrippers (httprpc.WithWrapper).
//
// It signs each request with a nextnonce from an earlier response; with none
// at hand, or when the server refuses the one it used, it sends the request
// again, once, signed with the nonce of the server's 401 challenge. That is
// safe even for requests that are not idempotent: a request refused with
// 401 never reached the server's handler. It reads each request body into
// memory, to sign it and to send it again. It does not modify a request,
// and closes its body. It is safe for concurrent use. If k is invalid (see
// Key), every request fails with the reason.
func (k Key) SignHTTP(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &httpSigner{base: base, key: k.clone(), err: k.check()}
}

// httpSigner is the RoundTripper of Key.SignHTTP.
type httpSigner struct {
	base http.RoundTripper
	key  Key
	err  error // of an invalid key

	mu     sync.Mutex
	nonces []string // newest last
}

// RoundTrip sends req signed.
func (t *httpSigner) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, t.err
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	nonce, _ := t.take()
	resp, err := t.send(req, body, nonce)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	params, ok := findAuth(resp.Header.Values(headerAuthenticate), Scheme)
	if !ok || params["nonce"] == "" {
		return resp, nil // not a challenge of ours: the caller sees the 401
	}
	io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
	return t.send(req, body, params["nonce"])
}

// send sends a copy of req with body, signed with nonce unless it is empty,
// and keeps the response's nextnonce.
func (t *httpSigner) send(req *http.Request, body []byte, nonce string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
		r.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if nonce != "" {
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		mac := httpMAC(t.key.Secret, t.key.ID, nonce, method, r.URL.RequestURI(), r.Header.Get("Content-Type"), body)
		r.Header.Set(headerAuthorize, Scheme+` keyid="`+t.key.ID+`", nonce="`+quoteEscape(nonce)+`", mac="`+hex.EncodeToString(mac)+`"`)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if params, ok := findAuth(resp.Header.Values(headerInfo), ""); ok && params["nextnonce"] != "" {
		t.keep(params["nextnonce"])
	}
	return resp, nil
}

func (t *httpSigner) take() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.nonces) == 0 {
		return "", false
	}
	n := t.nonces[len(t.nonces)-1]
	t.nonces = t.nonces[:len(t.nonces)-1]
	return n, true
}

func (t *httpSigner) keep(nonce string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.nonces) == maxHeldNonces {
		t.nonces = append(t.nonces[:0], t.nonces[1:]...)
	}
	t.nonces = append(t.nonces, nonce)
}

// quoteEscape escapes a server's nonce for a quoted-string; ours never need
// it, but a nonce is the server's to choose.
func quoteEscape(s string) string {
	if !bytes.ContainsAny([]byte(s), `"\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
