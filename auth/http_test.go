package auth_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc"
)

// echo answers "<identity> <method> <target> <body>", and checks that the
// body it gets is whole and its length right.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || int64(len(body)) != r.ContentLength {
		http.Error(w, fmt.Sprintf("body: %d bytes of %d, %v", len(body), r.ContentLength, err), http.StatusInternalServerError)
		return
	}
	id := "-"
	if p, ok := rpc.PeerFromContext(r.Context()); ok {
		id = p.Identity
		if p.Transport != "" {
			id += "@" + p.Transport
		}
	}
	fmt.Fprintf(w, "%s %s %s %s", id, r.Method, r.URL.RequestURI(), body)
})

// endpoint is where a test sends its requests: an HTTP server, or a
// handler called in process.
type endpoint struct {
	URL    string
	client *http.Client
}

func (e endpoint) Client() *http.Client { return e.client }

func newHTTPServer(t testing.TB, h http.Handler) endpoint {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return endpoint{srv.URL, srv.Client()}
}

// inProcess calls h in process, with no network: for synctest bubbles.
func inProcess(h http.Handler) endpoint {
	return endpoint{"http://in-process", &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result(), nil
	})}}
}

// counting counts the requests a transport sends and the 401s it gets.
type counting struct {
	base          http.RoundTripper
	sent, refused atomic.Int64
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.sent.Add(1)
	resp, err := c.base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		c.refused.Add(1)
	}
	return resp, err
}

func signedClient(t testing.TB, srv endpoint, key auth.Key) (*http.Client, *counting) {
	t.Helper()
	cnt := &counting{base: srv.Client().Transport}
	return &http.Client{Transport: key.SignHTTP(cnt)}, cnt
}

func post(t testing.TB, c *http.Client, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := c.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSignHTTP(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(t, newHandler(t, echo, keySet(t, alice, bob)))
	c, cnt := signedClient(t, srv, alice)

	steps := []struct {
		name, body, want string
		sent, refused    int64 // in total, after the step
	}{
		{"first call: one 401", `{"n":1}`, `alice POST /RPC2 {"n":1}`, 2, 1},
		{"second call: the nextnonce", `{"n":2}`, `alice POST /RPC2 {"n":2}`, 3, 1},
		{"empty body", ``, `alice POST /RPC2 `, 4, 1},
		{"large body", strings.Repeat("x", 1<<20), "alice POST /RPC2 " + strings.Repeat("x", 1<<20), 5, 1},
	}
	for _, s := range steps {
		code, got := post(t, c, srv.URL+"/RPC2", "application/json", s.body)
		if code != http.StatusOK || got != s.want {
			t.Errorf("%s: %d %.60q, want 200 %.60q", s.name, code, got, s.want)
		}
		if cnt.sent.Load() != s.sent || cnt.refused.Load() != s.refused {
			t.Errorf("%s: %d requests sent, %d refused; want %d and %d", s.name, cnt.sent.Load(), cnt.refused.Load(), s.sent, s.refused)
		}
	}

	resp, err := c.Get(srv.URL + "/status?verbose=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "alice GET /status?verbose=1 "; string(b) != want {
		t.Errorf("GET: %q, want %q", b, want)
	}
}

func TestSignHTTPConcurrent(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(t, newHandler(t, echo, keySet(t, alice)))
	c, cnt := signedClient(t, srv, alice)
	const workers, each = 16, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf("%d/%d", w, i)
				code, got := post(t, c, srv.URL+"/", "text/plain", body)
				if want := "alice POST / " + body; code != http.StatusOK || got != want {
					t.Errorf("%d %q, want 200 %q", code, got, want)
				}
			}
		})
	}
	wg.Wait()
	// A call meets a 401 only when the pool is empty, so only while each
	// worker has not yet brought a nextnonce back: at most once per worker.
	if sent, refused := cnt.sent.Load(), cnt.refused.Load(); sent != workers*each+refused || refused > workers {
		t.Errorf("%d requests sent, %d refused, for %d calls", sent, refused, workers*each)
	}
}

func TestHTTPKeys(t *testing.T) {
	t.Parallel()
	withTransport := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(rpc.WithPeer(r.Context(), &rpc.Peer{Transport: "http"})))
		})
	}
	tests := []struct {
		name     string
		server   []auth.Key
		client   auth.Key
		wrap     func(http.Handler) http.Handler
		code     int
		want     string
		attempts int64
	}{
		{"rotation, old key", []auth.Key{oldKey, newKey}, oldKey, nil, 200, "old POST / x", 2},
		{"rotation, new key", []auth.Key{oldKey, newKey}, newKey, nil, 200, "new POST / x", 2},
		{"unknown key", []auth.Key{oldKey, newKey}, alice, nil, 401, "auth: invalid credentials or nonce\n", 2},
		{"wrong secret", []auth.Key{alice}, auth.Key{ID: "alice", Secret: []byte("guess")}, nil, 401, "auth: invalid credentials or nonce\n", 2},
		{"a Peer set before keeps its fields", []auth.Key{alice}, alice, withTransport, 200, "alice@http POST / x", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h http.Handler = newHandler(t, echo, keySet(t, tt.server...))
			if tt.wrap != nil {
				h = tt.wrap(h)
			}
			srv := newHTTPServer(t, h)
			c, cnt := signedClient(t, srv, tt.client)
			code, got := post(t, c, srv.URL, "text/plain", "x")
			if code != tt.code || got != tt.want || cnt.sent.Load() != tt.attempts {
				t.Errorf("%d %q after %d attempts, want %d %q after %d", code, got, cnt.sent.Load(), tt.code, tt.want, tt.attempts)
			}
		})
	}
}

// The rest signs requests by hand, following the package documentation
// rather than the package's code.

var nonceRE = regexp.MustCompile(`nonce="([^"]+)"`)

// challenge gets a fresh nonce from srv with an unsigned request.
func challenge(t testing.TB, srv endpoint) string {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header.Get("WWW-Authenticate")
	m := nonceRE.FindStringSubmatch(h)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(h, "PolyRPC-HMAC ") || m == nil {
		t.Fatalf("unsigned request: %d, WWW-Authenticate %q", resp.StatusCode, h)
	}
	return m[1]
}

// signed is a request and what is signed of it, which may differ.
type signed struct {
	key                                      auth.Key
	nonce, method, target, ctype, body       string
	sendMethod, sendTarget, sendCT, sendBody *string
	header                                   string // replaces the whole Authorization header
}

func macOf(key auth.Key, nonce, method, target, ctype, body string) string {
	sum := sha256.Sum256([]byte(body))
	s := strings.Join([]string{"PolyRPC-HMAC-SHA256", key.ID, nonce, method, target, ctype, hex.EncodeToString(sum[:])}, "\n")
	m := hmac.New(sha256.New, key.Secret)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func or(p *string, s string) string {
	if p != nil {
		return *p
	}
	return s
}

func ptr(s string) *string { return &s }

func (s signed) send(t testing.TB, srv endpoint) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(or(s.sendMethod, s.method), srv.URL+or(s.sendTarget, s.target), strings.NewReader(or(s.sendBody, s.body)))
	if err != nil {
		t.Fatal(err)
	}
	if ct := or(s.sendCT, s.ctype); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	h := s.header
	if h == "" {
		h = fmt.Sprintf(`PolyRPC-HMAC keyid="%s", nonce="%s", mac="%s"`, s.key.ID, s.nonce, macOf(s.key, s.nonce, s.method, s.target, s.ctype, s.body))
	}
	req.Header.Set("Authorization", h)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func request(nonce string) signed {
	return signed{key: alice, nonce: nonce, method: "POST", target: "/RPC2", ctype: "text/xml", body: "<methodCall/>"}
}

func TestHTTPSchemeByHand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*signed)
		code   int
	}{
		{"as documented", func(*signed) {}, 200},
		{"parameters reordered and in other case", func(s *signed) {
			s.header = fmt.Sprintf(`polyrpc-hmac MAC=%s,NONCE="%s" ,  KeyID=alice, algorithm=SHA256`, macOf(alice, s.nonce, s.method, s.target, s.ctype, s.body), s.nonce)
		}, 200},
		{"no content type", func(s *signed) { s.ctype = "" }, 200},
		{"query in the target", func(s *signed) { s.target = "/RPC2?a=1&b=%20" }, 200},
		{"body altered", func(s *signed) { s.sendBody = ptr("<methodCall>x</methodCall>") }, 401},
		{"body dropped", func(s *signed) { s.sendBody = ptr("") }, 401},
		{"method altered", func(s *signed) { s.sendMethod = ptr("PUT") }, 401},
		{"path altered", func(s *signed) { s.sendTarget = ptr("/admin") }, 401},
		{"query altered", func(s *signed) { s.target = "/RPC2?a=1"; s.sendTarget = ptr("/RPC2?a=2") }, 401},
		{"content type altered", func(s *signed) { s.sendCT = ptr("application/json") }, 401},
		{"key ID swapped", func(s *signed) {
			s.header = fmt.Sprintf(`PolyRPC-HMAC keyid="bob", nonce="%s", mac="%s"`, s.nonce, macOf(alice, s.nonce, s.method, s.target, s.ctype, s.body))
		}, 401},
		{"unknown key ID", func(s *signed) { s.key = auth.Key{ID: "mallory", Secret: alice.Secret} }, 401},
		{"nonce never issued", func(s *signed) { s.nonce = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, 401},
		{"nonce malformed", func(s *signed) { s.nonce = "short" }, 401},
		{"algorithm md5", func(s *signed) {
			s.header = fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="%s", algorithm="md5"`, s.nonce, macOf(alice, s.nonce, s.method, s.target, s.ctype, s.body))
		}, 401},
		{"mac not hex", func(s *signed) { s.header = fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="zz"`, s.nonce) }, 401},
		{"another scheme", func(s *signed) { s.header = "Basic YWxpY2U6c2VjcmV0" }, 401},
	}
	srv := newHTTPServer(t, newHandler(t, echo, keySet(t, alice, bob)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nonce := challenge(t, srv)
			s := request(nonce)
			tt.modify(&s)
			resp, body := s.send(t, srv)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tt.code)
			}
			if tt.code == 200 {
				if !nonceRE.MatchString(resp.Header.Get("Authentication-Info")) {
					t.Errorf("no nextnonce: Authentication-Info %q", resp.Header.Get("Authentication-Info"))
				}
				return
			}
			if !nonceRE.MatchString(resp.Header.Get("WWW-Authenticate")) {
				t.Errorf("401 without a fresh challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
			// A refused request leaves a good nonce usable by its holder.
			if resp, body := request(nonce).send(t, srv); resp.StatusCode != 200 {
				t.Errorf("the nonce of a refused request: %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestHTTPReplay(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(t, newHandler(t, echo, keySet(t, alice)))
	s := request(challenge(t, srv))
	if resp, body := s.send(t, srv); resp.StatusCode != 200 || body != "alice POST /RPC2 <methodCall/>" {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	resp, _ := s.send(t, srv)
	if resp.StatusCode != 401 || !nonceRE.MatchString(resp.Header.Get("WWW-Authenticate")) {
		t.Errorf("replay: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Of the same request sent at once many times, one gets through.
	s = request(challenge(t, srv))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if resp, _ := s.send(t, srv); resp.StatusCode == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 20 concurrent copies got through, want 1", ok.Load())
	}
}

func TestHTTPNonceExpiry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Minute
		srv := inProcess(newHandler(t, echo, keySet(t, alice), auth.WithNonceTTL(ttl)))
		s := request(challenge(t, srv))
		time.Sleep(ttl - time.Nanosecond)
		if resp, body := s.send(t, srv); resp.StatusCode != 200 {
			t.Errorf("nonce about to expire: %d %q", resp.StatusCode, body)
		}
		s = request(challenge(t, srv))
		time.Sleep(ttl)
		if resp, body := s.send(t, srv); resp.StatusCode != 401 {
			t.Errorf("expired nonce: %d %q", resp.StatusCode, body)
		}
		// The client recovers with the fresh challenge.
		c, cnt := signedClient(t, srv, alice)
		if code, _ := post(t, c, srv.URL, "text/plain", "x"); code != 200 || cnt.refused.Load() != 1 {
			t.Errorf("round tripper: %d after %d 401s, want 200 after 1", code, cnt.refused.Load())
		}
		time.Sleep(ttl) // its nextnonce expires
		if code, _ := post(t, c, srv.URL, "text/plain", "x"); code != 200 || cnt.refused.Load() != 2 {
			t.Errorf("round tripper with an expired nextnonce: %d after %d 401s, want 200 after 2", code, cnt.refused.Load())
		}
	})
}

func TestHTTPNonceStoreBounded(t *testing.T) {
	t.Parallel()
	const max = 3
	srv := newHTTPServer(t, newHandler(t, echo, keySet(t, alice), auth.WithMaxNonces(max)))
	var nonces []string
	for range max + 2 {
		nonces = append(nonces, challenge(t, srv))
	}
	// The two oldest are forgotten. Every answer issues a nonce too, which
	// forgets another, so the newest are tried first.
	for _, c := range []struct{ i, want int }{{4, 200}, {3, 200}, {0, 401}, {1, 401}} {
		if resp, body := request(nonces[c.i]).send(t, srv); resp.StatusCode != c.want {
			t.Errorf("nonce %d of %d: %d %q, want %d", c.i+1, len(nonces), resp.StatusCode, body, c.want)
		}
	}
}

func TestHTTPBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 16
	srv := newHTTPServer(t, newHandler(t, echo, keySet(t, alice), auth.WithMaxMessageSize(limit)))
	tests := []struct {
		name    string
		body    string
		chunked bool
		code    int
	}{
		{"at the limit", strings.Repeat("a", limit), false, 200},
		{"over, declared", strings.Repeat("a", limit+1), false, 413},
		{"over, chunked", strings.Repeat("a", limit+1), true, 413},
		{"at the limit, chunked", strings.Repeat("a", limit), true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := request(challenge(t, srv))
			s.body = tt.body
			req, _ := http.NewRequest("POST", srv.URL+s.target, io.MultiReader(strings.NewReader(s.body)))
			if !tt.chunked {
				req.ContentLength = int64(len(s.body))
			}
			req.Header.Set("Content-Type", s.ctype)
			req.Header.Set("Authorization", fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="%s"`, s.nonce, macOf(alice, s.nonce, s.method, s.target, s.ctype, s.body)))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.code)
			}
		})
	}
	// Without credentials, the body is not read at all: 401, not 413.
	resp, err := srv.Client().Post(srv.URL, "text/plain", bytes.NewReader(make([]byte, 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unsigned large body: %d, want 401", resp.StatusCode)
	}
}
