package auth_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
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
	"github.com/polyrpc/polyrpc/rpc/wire"
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

// TestHTTPUsedNoncesBounded: the replay cache holds at most WithMaxNonces
// nonces; when full it forgets the one issued first and refuses every
// nonce issued no later, so that a forgotten nonce is never accepted twice,
// and the clients of the refused ones sign again.
func TestHTTPUsedNoncesBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const max = 3
		h := newHandler(t, echo, keySet(t, alice), auth.WithMaxNonces(max))
		srv := inProcess(h)
		var reqs []signed
		for range max + 2 {
			reqs = append(reqs, request(challenge(t, srv)))
			time.Sleep(time.Millisecond) // distinct issue times
		}
		// Nonces 2 to 5 used: 2, issued first, is forgotten.
		for i := 1; i < len(reqs); i++ {
			if resp, body := reqs[i].send(t, srv); resp.StatusCode != 200 {
				t.Fatalf("nonce %d: %d %q", i+1, resp.StatusCode, body)
			}
			if n := h.UsedNonces(); n > max {
				t.Fatalf("%d nonces remembered, limit %d", n, max)
			}
		}
		// Neither the forgotten nonce nor an unused one issued before it is
		// accepted.
		for i := range 2 {
			if resp, body := reqs[i].send(t, srv); resp.StatusCode != 401 {
				t.Errorf("nonce %d, issued no later than a forgotten one: %d %q, want 401", i+1, resp.StatusCode, body)
			}
		}
		// A client recovers with the fresh nonce of the 401.
		c, cnt := signedClient(t, srv, alice)
		for range 10 {
			if code, body := post(t, c, srv.URL, "text/plain", "x"); code != 200 {
				t.Fatalf("signing client: %d %q", code, body)
			}
			time.Sleep(time.Millisecond)
		}
		if n := h.UsedNonces(); n != max || cnt.refused.Load() != 1 {
			t.Errorf("%d nonces remembered, %d 401s; want %d and 1", n, cnt.refused.Load(), max)
		}
		// Expired nonces are forgotten: memory comes back.
		time.Sleep(time.Minute)
		reqs[0] = request(challenge(t, srv))
		if resp, _ := reqs[0].send(t, srv); resp.StatusCode != 200 || h.UsedNonces() != 1 {
			t.Errorf("after the window: %d, %d nonces remembered; want 200 and 1", resp.StatusCode, h.UsedNonces())
		}
	})
}

// TestHTTPSlowClientDuringFlood (issue 13, finding 6): a flood of unsigned
// requests costs the server no state, so a client that takes a second
// between its 401 and its signed request still gets in, by hand or through
// SignHTTP over a transport that takes a second to bring a 401 back.
func TestHTTPSlowClientDuringFlood(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, echo, keySet(t, alice))
		srv := inProcess(h)
		// 12000 unsigned requests a second: more nonces every second than
		// the 10000 the handler used to keep.
		stop := make(chan struct{})
		var flooded atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 120 {
					challenge(t, srv)
				}
				flooded.Add(120)
				time.Sleep(10 * time.Millisecond)
			}
		})
		defer func() { close(stop); wg.Wait() }()

		s := request(challenge(t, srv))
		time.Sleep(time.Second)
		if resp, body := s.send(t, srv); resp.StatusCode != 200 {
			t.Errorf("signed 1 s after the 401, %d unsigned requests later: %d %q", flooded.Load(), resp.StatusCode, body)
		}

		slow := &http.Client{Transport: alice.SignHTTP(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := srv.Client().Transport.RoundTrip(r)
			if err == nil && resp.StatusCode == http.StatusUnauthorized {
				time.Sleep(time.Second) // the 401 takes a second to come back
			}
			return resp, err
		}))}
		if code, body := post(t, slow, srv.URL, "text/plain", "x"); code != 200 {
			t.Errorf("a call whose 401 takes 1 s: %d %q", code, body)
		}
		if flooded.Load() < 2*12000 {
			t.Errorf("only %d unsigned requests in the flood", flooded.Load())
		}
		// All the state the flood left: none. Only signed requests spend a
		// nonce the handler remembers.
		if n := h.UsedNonces(); n != 2 {
			t.Errorf("%d nonces remembered after %d unsigned requests and 2 signed ones", n, flooded.Load())
		}
	})
}

// roundRobin is a balancer in front of replicas, each called in process.
func roundRobin(replicas ...http.Handler) endpoint {
	var next atomic.Int64
	return endpoint{"http://balancer", &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		w := httptest.NewRecorder()
		replicas[(next.Add(1)-1)%int64(len(replicas))].ServeHTTP(w, r)
		return w.Result(), nil
	})}}
}

// TestHTTPReplicasRoundRobin (issue 16, item 1): replicas holding the same
// keys accept each other's nonces, so behind a round-robin balancer every
// signed call succeeds, and a 401 comes only where a client has no nonce at
// hand yet: its first call, and each of its goroutines that starts a call
// while the others hold the nonces. So too at each step of a rolling
// rotation of the first key, which issues the nonces: replicas of two
// adjacent steps are mixed.
func TestHTTPReplicasRoundRobin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sets   [][]auth.Key
		client auth.Key
	}{
		{"same keys", [][]auth.Key{{alice, bob}, {alice, bob}, {alice, bob}}, bob},
		{"one key", [][]auth.Key{{alice}, {alice}, {alice}}, alice},
		{"rotation 1: new key added second", [][]auth.Key{{oldKey}, {oldKey, newKey}, {oldKey}}, oldKey},
		{"rotation 2: new key made first", [][]auth.Key{{oldKey, newKey}, {newKey, oldKey}, {oldKey, newKey}}, newKey},
		{"rotation 3: old key dropped", [][]auth.Key{{newKey, oldKey}, {newKey}, {newKey}}, newKey},
		{"a client key added, not first", [][]auth.Key{{alice}, {alice, bob}, {alice, bob}}, alice},
	}
	const workers = 8
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var replicas []http.Handler
			for _, keys := range tt.sets {
				replicas = append(replicas, newHandler(t, echo, keySet(t, keys...)))
			}
			lb := roundRobin(replicas...)
			c, cnt := signedClient(t, lb, tt.client)
			for i := range 30 {
				body := fmt.Sprint(i)
				if code, got := post(t, c, lb.URL+"/RPC2", "text/plain", body); code != 200 || got != tt.client.ID+" POST /RPC2 "+body {
					t.Errorf("call %d: %d %q", i, code, got)
				}
			}
			if refused := cnt.refused.Load(); refused != 1 {
				t.Errorf("%d 401s for 30 calls one after the other, want 1", refused)
			}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range 5 {
						if code, got := post(t, c, lb.URL+"/RPC2", "text/plain", "x"); code != 200 {
							t.Errorf("worker %d, call %d: %d %q", w, i, code, got)
						}
					}
				})
			}
			wg.Wait()
			if refused := cnt.refused.Load(); refused > 1+workers {
				t.Errorf("%d 401s in all, want at most %d", refused, 1+workers)
			}
		})
	}
}

// TestHTTPCrossReplicaReplay documents the replay window between replicas:
// each remembers the nonces used on it only, so a signed request recorded
// on the way can be replayed once on each other replica, within the nonce's
// window, and never after it.
func TestHTTPCrossReplicaReplay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		keys := keySet(t, alice)
		a := inProcess(newHandler(t, echo, keys))
		b := inProcess(newHandler(t, echo, keys))
		c := inProcess(newHandler(t, echo, keys))
		s := request(challenge(t, a))
		for _, step := range []struct {
			name string
			at   endpoint
			want int
		}{
			{"used on B, with A's nonce", b, 200},
			{"replayed on B", b, 401},
			{"replayed on A", a, 200},
			{"replayed on A again", a, 401},
		} {
			if resp, body := s.send(t, step.at); resp.StatusCode != step.want {
				t.Errorf("%s: %d %q, want %d", step.name, resp.StatusCode, body, step.want)
			}
		}
		time.Sleep(time.Minute) // the default window
		if resp, body := s.send(t, c); resp.StatusCode != 401 {
			t.Errorf("replayed on C after the window: %d %q, want 401", resp.StatusCode, body)
		}
	})
}

// refusal is what a client learns from a response: everything but the
// fresh nonce and the date.
func refusal(resp *http.Response, body string) string {
	h := resp.Header.Clone()
	h.Del("Date")
	h.Set("Www-Authenticate", nonceRE.ReplaceAllString(h.Get("Www-Authenticate"), `nonce="N"`))
	var b strings.Builder
	h.Write(&b)
	return fmt.Sprintf("%d\n%s\n%s", resp.StatusCode, b.String(), body)
}

// TestHTTPNoOracle (issue 13, finding 7): until the MAC is checked, the
// answer tells nothing of the server's keys or nonces. A body over the
// limit gets 413 whatever the credentials; every credential failure gets the
// same 401: status, headers (but the fresh nonce) and body.
func TestHTTPNoOracle(t *testing.T) {
	t.Parallel()
	const limit = 1 << 10
	h := newHandler(t, echo, keySet(t, alice), auth.WithMaxMessageSize(limit))
	srv := newHTTPServer(t, h)
	other := newHTTPServer(t, newHandler(t, echo, keySet(t, bob)))
	stale := request(challenge(t, srv))
	if resp, _ := stale.send(t, srv); resp.StatusCode != 200 {
		t.Fatal("first use refused")
	}

	// Over the limit, declared or chunked: 413 for a known key ID and an
	// unknown one, a good nonce and a bad one, and no credentials at all.
	heads := map[string]func(nonce string) string{
		"known key, fresh nonce": func(n string) string {
			return fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="%s"`, n, strings.Repeat("00", 32))
		},
		"unknown key, fresh nonce": func(n string) string {
			return fmt.Sprintf(`PolyRPC-HMAC keyid="mallory", nonce="%s", mac="%s"`, n, strings.Repeat("00", 32))
		},
		"known key, forged nonce": func(string) string {
			return fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="%s"`, strings.Repeat("A", 48), strings.Repeat("00", 32))
		},
	}
	for name, head := range heads {
		for _, chunked := range []bool{false, true} {
			raw := "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nAuthorization: " + head(challenge(t, srv)) + "\r\n"
			if chunked {
				raw += "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 2*limit, strings.Repeat("x", 2*limit))
			} else {
				raw += "Content-Length: 99999999\r\n\r\n" // and the body never comes
			}
			if code := rawStatus(t, srv.URL, raw); code != 413 {
				t.Errorf("%s, chunked %v: %d, want 413", name, chunked, code)
			}
		}
	}

	// Every failure of credentials: one answer.
	forged := []byte(challenge(t, srv))
	if forged[len(forged)-1] == 'A' { // a tag one bit off
		forged[len(forged)-1] = 'B'
	} else {
		forged[len(forged)-1] = 'A'
	}
	cases := map[string]func(*signed){
		"unknown key ID":    func(s *signed) { s.key = auth.Key{ID: "mallory", Secret: alice.Secret} },
		"wrong key":         func(s *signed) { s.key = auth.Key{ID: "alice", Secret: []byte("a guess")} },
		"forged nonce":      func(s *signed) { s.nonce = string(forged) },
		"another's nonce":   func(s *signed) { s.nonce = challenge(t, other) },
		"nonce used before": func(s *signed) { s.nonce = stale.nonce },
		"malformed nonce":   func(s *signed) { s.nonce = "short" },
		"body altered":      func(s *signed) { s.sendBody = ptr("<methodCall>x</methodCall>") },
		"algorithm md5": func(s *signed) {
			s.header = fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="%s", algorithm="md5"`, s.nonce, macOf(alice, s.nonce, s.method, s.target, s.ctype, s.body))
		},
		"mac not hex": func(s *signed) { s.header = fmt.Sprintf(`PolyRPC-HMAC keyid="alice", nonce="%s", mac="zz"`, s.nonce) },
	}
	answers := map[string][]string{}
	for name, modify := range cases {
		s := request(challenge(t, srv))
		modify(&s)
		resp, body := s.send(t, srv)
		a := refusal(resp, body)
		answers[a] = append(answers[a], name)
	}
	if len(answers) != 1 {
		for a, names := range answers {
			t.Errorf("%q answered:\n%s", names, a)
		}
	}
	for a := range answers {
		if !strings.HasPrefix(a, "401\n") {
			t.Errorf("refusals answered %s", a)
		}
	}
}

// rawStatus sends raw on a new connection to url's server and returns the
// status of the response.
func rawStatus(t *testing.T, url, raw string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go conn.Write([]byte(raw)) // the server may answer before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
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
	// Without credentials, a body declared over the limit gets 413, as any
	// other; one sent chunked is not read at all, and gets 401.
	resp, err := srv.Client().Post(srv.URL, "text/plain", bytes.NewReader(make([]byte, 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("unsigned large body: %d, want 413", resp.StatusCode)
	}
	resp, err = srv.Client().Post(srv.URL, "text/plain", io.MultiReader(bytes.NewReader(make([]byte, 1<<20))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unsigned large chunked body: %d, want 401", resp.StatusCode)
	}
}

// TestHTTPMemoryBudget: the bodies an HTTPHandler reads to verify them
// count in the memory budget it is given, until the request is served; a
// request waits while the budget is spent.
func TestHTTPMemoryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := wire.NewBudget(48 << 10)
		entered, release := make(chan struct{}, 2), make(chan struct{})
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
		})
		srv := inProcess(newHandler(t, next, keySet(t, alice), auth.WithMemoryBudget(b)))
		body := strings.Repeat("x", 30<<10)
		done := make(chan int, 2)
		for range 2 {
			go func() {
				c, _ := signedClient(t, srv, alice)
				code, _ := post(t, c, srv.URL+"/", "application/json", body)
				done <- code
			}()
		}
		<-entered
		synctest.Wait()
		if got := b.Used(); got != 30<<10 {
			t.Errorf("budget used %d with one body held and one waiting, want %d", got, 30<<10)
		}
		select {
		case <-entered:
			t.Fatal("a second 30 KiB body read beyond a 48 KiB budget")
		default:
		}
		release <- struct{}{}
		<-entered
		release <- struct{}{}
		for range 2 {
			if code := <-done; code != http.StatusOK {
				t.Errorf("status %d", code)
			}
		}
		if got := b.Used(); got != 0 {
			t.Errorf("budget used %d after the requests, want 0", got)
		}
	})
}
