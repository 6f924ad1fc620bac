package httpengine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The tests of RoundTripper are in package httpengine, to look at its idle
// connections and to use wire.go's reading helpers in raw test servers.

// rtIdleCount returns how many connections wait idle.
func (t *RoundTripper) rtIdleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, list := range t.idle {
		n += len(list)
	}
	return n
}

// rtIdleConns returns the idle connections, which stay in the pool.
func (t *RoundTripper) rtIdleConns() []*rtConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	var pcs []*rtConn
	for _, list := range t.idle {
		pcs = append(pcs, list...)
	}
	return pcs
}

// rtWaitPeerClosed waits until the client sees that the server closed each
// idle connection, so that a test does not race the FIN.
func rtWaitPeerClosed(t *testing.T, rt *RoundTripper) {
	t.Helper()
	for _, pc := range rt.rtIdleConns() {
		for {
			pending, err := pc.peek.Look()
			if err != nil || pending {
				break
			}
			if pc.peek == nil {
				t.Skip("netpeek cannot look on this system")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// rtTestServer is an httptest server that counts its connections.
type rtTestServer struct {
	*httptest.Server
	conns atomic.Int32
}

func rtNewServer(t testing.TB, h http.HandlerFunc, useTLS bool) *rtTestServer {
	t.Helper()
	s := &rtTestServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// rtFor returns a RoundTripper for s, closed at the test's end.
func rtFor(t testing.TB, s *httptest.Server) *RoundTripper {
	rt := &RoundTripper{}
	if s != nil && s.TLS != nil {
		roots := x509.NewCertPool()
		roots.AddCert(s.Certificate())
		rt.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	t.Cleanup(rt.CloseIdleConnections)
	return rt
}

// rtEcho answers with the request's body and tells what it saw of the
// request in X- fields.
func rtEcho(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("X-Method", r.Method)
	h.Set("X-Content-Length", strconv.FormatInt(r.ContentLength, 10))
	h.Set("X-Transfer-Encoding", strings.Join(r.TransferEncoding, ","))
	h.Set("X-Host", r.Host)
	h.Set("X-User-Agent", r.UserAgent())
	h.Set("X-Close", strconv.FormatBool(r.Close))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// rtDo sends a request and reads its whole response.
func rtDo(t *testing.T, rt http.RoundTripper, method, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return rtSend(t, rt, req)
}

func rtSend(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func rtPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26 + i/26%7)
	}
	return b
}

func TestRoundTripperMethodsAndSizes(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			s := rtNewServer(t, rtEcho, useTLS)
			rt := rtFor(t, s.Server)
			for _, size := range []int{0, 11, 1 << 20} {
				body := rtPattern(size)
				resp, got := rtDo(t, rt, "POST", s.URL+"/echo?x=1", body)
				if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.Proto != "HTTP/1.1" || resp.ProtoMinor != 1 {
					t.Fatalf("status %q %d %s", resp.Status, resp.StatusCode, resp.Proto)
				}
				if !bytes.Equal(got, body) {
					t.Fatalf("POST of %d bytes: got %d bytes back", size, len(got))
				}
				if resp.ContentLength != int64(size) {
					t.Errorf("ContentLength %d, want %d", resp.ContentLength, size)
				}
				if cl := resp.Header.Get("X-Content-Length"); cl != strconv.Itoa(size) {
					t.Errorf("server saw Content-Length %s, want %d", cl, size)
				}
				if useTLS != (resp.TLS != nil) {
					t.Errorf("TLS state %v", resp.TLS)
				}
				if resp.TLS != nil && resp.TLS.NegotiatedProtocol != "http/1.1" {
					t.Errorf("negotiated %q", resp.TLS.NegotiatedProtocol)
				}
			}
			resp, got := rtDo(t, rt, "GET", s.URL+"/", nil)
			if len(got) != 0 || resp.Header.Get("X-Method") != "GET" || resp.Header.Get("X-Content-Length") != "0" {
				t.Fatalf("GET: %q, %v", got, resp.Header)
			}
			if ua := resp.Header.Get("X-User-Agent"); ua != "polyrpc" {
				t.Errorf("User-Agent %q", ua)
			}
			if resp.Body != http.NoBody || resp.Request == nil {
				t.Errorf("empty body %T, request %v", resp.Body, resp.Request)
			}
			// Through an http.Client too.
			c := &http.Client{Transport: rt}
			r, err := c.Post(s.URL, "text/plain", strings.NewReader("via client"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if string(b) != "via client" {
				t.Fatalf("client: %q", b)
			}
			if n := s.conns.Load(); n != 1 {
				t.Errorf("%d connections for sequential requests, want 1", n)
			}
		})
	}
}

func TestRoundTripperChunkedResponse(t *testing.T) {
	s := rtNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello, "))
		w.(http.Flusher).Flush()
		w.Write(bytes.Repeat([]byte("world"), 3000))
	}, false)
	rt := rtFor(t, s.Server)
	want := "hello, " + strings.Repeat("world", 3000)
	for range 3 {
		resp, got := rtDo(t, rt, "GET", s.URL, nil)
		if string(got) != want {
			t.Fatalf("got %d bytes", len(got))
		}
		if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("ContentLength %d, TransferEncoding %q", resp.ContentLength, resp.TransferEncoding)
		}
		if _, ok := resp.Header["Transfer-Encoding"]; ok || resp.Close {
			t.Errorf("Header %v, Close %v", resp.Header, resp.Close)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestRoundTripperNoBodyResponses(t *testing.T) {
	s := rtNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "42")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/empty":
			w.Header().Set("Content-Length", "0")
		}
	}, false)
	rt := rtFor(t, s.Server)
	tests := []struct {
		method, path string
		code         int
		length       int64
	}{
		{"HEAD", "/head", 200, 42},
		{"GET", "/204", 204, 0},
		{"POST", "/304", 304, 0},
		{"GET", "/empty", 200, 0},
		{"HEAD", "/head", 200, 42},
	}
	for _, tt := range tests {
		resp, err := rt.RoundTrip(rtNewRequest(t, tt.method, s.URL+tt.path))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.code || resp.ContentLength != tt.length || resp.Body != http.NoBody {
			t.Errorf("%s %s: %d, length %d, body %T", tt.method, tt.path, resp.StatusCode, resp.ContentLength, resp.Body)
		}
		resp.Body.Close()
		if n := rt.rtIdleCount(); n != 1 {
			t.Errorf("%s %s: %d idle connections once RoundTrip returned, want 1", tt.method, tt.path, n)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestRoundTripperConnectionClose(t *testing.T) {
	s := rtNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		rtEcho(w, r)
	}, false)
	rt := rtFor(t, s.Server)

	resp, _ := rtDo(t, rt, "GET", s.URL+"/close", nil)
	if !resp.Close || rt.rtIdleCount() != 0 {
		t.Fatalf("Close %v, %d idle", resp.Close, rt.rtIdleCount())
	}
	rtDo(t, rt, "GET", s.URL+"/", nil)
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections after Connection: close, want 2", n)
	}

	// The client's own Connection: close.
	req, _ := http.NewRequest("POST", s.URL+"/", strings.NewReader("bye"))
	req.Close = true
	resp, body := rtSend(t, rt, req)
	if string(body) != "bye" || resp.Header.Get("X-Close") != "true" {
		t.Fatalf("%q, server saw Close %s", body, resp.Header.Get("X-Close"))
	}
	req, _ = http.NewRequest("GET", s.URL+"/", nil)
	req.Header.Set("Connection", "close")
	resp, _ = rtSend(t, rt, req)
	if resp.Header.Get("X-Close") != "true" {
		t.Fatal("Connection: close in the Header not sent")
	}
	if n := rt.rtIdleCount(); n != 0 {
		t.Fatalf("%d idle connections after requests with Connection: close", n)
	}
}

// rtRaw is a raw TCP server whose connections a test serves by hand.
type rtRaw struct {
	ln       net.Listener
	addr     string
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func rtListen(t testing.TB, serve func(c net.Conn, br *bufio.Reader)) *rtRaw {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rtRaw{ln: ln, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					c.Close()
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
				}()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// rtRawRequest is a request as a raw server read it.
type rtRawRequest struct {
	line string // the request line
	head string // the field lines
	h    http.Header
	body []byte
}

// rtReadRequest reads a request with wire.go's helpers.
func rtReadRequest(br *bufio.Reader) (*rtRawRequest, error) {
	head, _, err := readHead(br, nil, 1<<20, true)
	if err != nil {
		return nil, err
	}
	r := &rtRawRequest{}
	r.line, r.head = cutLine(head)
	if r.h, err = parseFields(r.head); err != nil {
		return nil, err
	}
	f, err := bodyFraming(r.h)
	if err != nil {
		return nil, err
	}
	var body bodyReader
	body.reset(br, f, false, 1<<20)
	r.body, err = io.ReadAll(&body)
	return r, err
}

const rtOK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// rtServeOK answers every request with rtOK.
func rtServeOK(c net.Conn, br *bufio.Reader) {
	for {
		if _, err := rtReadRequest(br); err != nil {
			return
		}
		if _, err := io.WriteString(c, rtOK); err != nil {
			return
		}
	}
}

func TestRoundTripperUntilEOF(t *testing.T) {
	responses := map[string]string{
		"/10":    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
		"/close": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
		"/none":  "HTTP/1.1 200 OK\r\n\r\nuntil the end",
	}
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		r, err := rtReadRequest(br)
		if err != nil {
			return
		}
		_, path, _ := strings.Cut(r.line, " ")
		path, _, _ = strings.Cut(path, " ")
		io.WriteString(c, responses[path])
	})
	rt := rtFor(t, nil)
	for path := range responses {
		resp, body := rtDo(t, rt, "GET", "http://"+s.addr+path, nil)
		if string(body) != "until the end" || resp.ContentLength != -1 || !resp.Close {
			t.Errorf("%s: %q, ContentLength %d, Close %v", path, body, resp.ContentLength, resp.Close)
		}
		if rt.rtIdleCount() != 0 {
			t.Errorf("%s: connection kept", path)
		}
	}
	if n := s.accepted.Load(); n != int32(len(responses)) {
		t.Errorf("%d connections, want %d", n, len(responses))
	}
}

func TestRoundTripperHTTP10KeepAlive(t *testing.T) {
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.0 200\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	rt := rtFor(t, nil)
	for range 3 {
		resp, body := rtDo(t, rt, "GET", "http://"+s.addr, nil)
		if string(body) != "ok" || resp.Status != "200" || resp.Proto != "HTTP/1.0" || resp.Close {
			t.Fatalf("%q, %q %s, Close %v", body, resp.Status, resp.Proto, resp.Close)
		}
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestRoundTripperChunkedRequest(t *testing.T) {
	s := rtNewServer(t, rtEcho, false)
	rt := rtFor(t, s.Server)
	want := rtPattern(100 << 10)
	for _, length := range []int64{-1, 0} {
		req, _ := http.NewRequest("PUT", s.URL, nil)
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(want[:5]), bytes.NewReader(want[5:])))
		req.ContentLength = length
		resp, got := rtSend(t, rt, req)
		if !bytes.Equal(got, want) {
			t.Fatalf("ContentLength %d: %d bytes echoed, want %d", length, len(got), len(want))
		}
		if te := resp.Header.Get("X-Transfer-Encoding"); te != "chunked" {
			t.Errorf("ContentLength %d: server saw Transfer-Encoding %q", length, te)
		}
	}
	// An empty body of unknown length.
	req, _ := http.NewRequest("POST", s.URL, nil)
	req.Body = io.NopCloser(strings.NewReader(""))
	req.ContentLength = -1
	if _, got := rtSend(t, rt, req); len(got) != 0 {
		t.Fatalf("%q", got)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestRoundTripperRequestHead(t *testing.T) {
	heads := make(chan *rtRawRequest, 1)
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			heads <- r
			io.WriteString(c, rtOK)
		}
	})
	rt := rtFor(t, nil)
	base := "http://" + s.addr

	send := func(req *http.Request) *rtRawRequest {
		t.Helper()
		rtSend(t, rt, req)
		return <-heads
	}

	req, _ := http.NewRequest("POST", base+"/a%20b/c?q=1&r=%2F", nil)
	req.Host = "virtual.example:8080"
	req.Header.Set("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	req.Header.Set("Content-Length", "99")
	req.Header.Set("Transfer-Encoding", "gzip")
	req.Header.Set("Host", "ignored.example")
	req.Header["content-length"] = []string{"98"}
	r := send(req)
	if r.line != "POST /a%20b/c?q=1&r=%2F HTTP/1.1" {
		t.Errorf("request line %q", r.line)
	}
	if r.h.Get("Host") != "virtual.example:8080" || len(r.h["Host"]) != 1 {
		t.Errorf("Host %q", r.h["Host"])
	}
	if got := r.h["X-Multi"]; len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("X-Multi %q", got)
	}
	if got := r.h["Content-Length"]; len(got) != 1 || got[0] != "0" {
		t.Errorf("an empty POST has Content-Length %q, want 0", got)
	}
	if _, ok := r.h["Transfer-Encoding"]; ok || r.h.Get("User-Agent") != "polyrpc" {
		t.Errorf("head %q", r.head)
	}

	r = send(&http.Request{Method: "", URL: &url.URL{Scheme: "http", Host: s.addr}, Header: http.Header{"User-Agent": {"mine"}}})
	if r.line != "GET / HTTP/1.1" || r.h.Get("User-Agent") != "mine" {
		t.Errorf("request line %q, User-Agent %q", r.line, r.h.Get("User-Agent"))
	}
	if _, ok := r.h["Content-Length"]; ok {
		t.Errorf("a GET without body has Content-Length %q", r.h["Content-Length"])
	}

	r = send(&http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: s.addr, Path: "x", ForceQuery: true}, Header: http.Header{"User-Agent": {""}}})
	if r.line != "GET /x? HTTP/1.1" {
		t.Errorf("request line %q", r.line)
	}
	if _, ok := r.h["User-Agent"]; ok {
		t.Errorf("an empty User-Agent was sent: %q", r.h["User-Agent"])
	}

	req, _ = http.NewRequest("GET", "http://user:pa%3Ass@"+s.addr+"/", nil)
	r = send(req)
	if user, pw, ok := (&http.Request{Header: r.h}).BasicAuth(); !ok || user != "user" || pw != "pa:ss" {
		t.Errorf("Authorization %q", r.h.Get("Authorization"))
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// rtClosingBody is a request body that records its closing.
type rtClosingBody struct {
	io.Reader
	closed atomic.Int32
}

func (b *rtClosingBody) Close() error {
	b.closed.Add(1)
	return nil
}

func TestRoundTripperRefusedRequests(t *testing.T) {
	var dials atomic.Int32
	rt := &RoundTripper{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("no dialing here")
	}}
	tests := []struct {
		name string
		edit func(*http.Request)
	}{
		{"CRLF in value", func(r *http.Request) { r.Header.Set("X-A", "a\r\nX-Injected: 1") }},
		{"LF in value", func(r *http.Request) { r.Header["X-A"] = []string{"a\nb"} }},
		{"NUL in value", func(r *http.Request) { r.Header["X-A"] = []string{"a\x00b"} }},
		{"space in name", func(r *http.Request) { r.Header["X A"] = []string{"a"} }},
		{"colon in name", func(r *http.Request) { r.Header["X:A"] = []string{"a"} }},
		{"CRLF in name", func(r *http.Request) { r.Header["X\r\nA"] = []string{"a"} }},
		{"CRLF in Host", func(r *http.Request) { r.Host = "a\r\nX-Injected: 1" }},
		{"space in Host", func(r *http.Request) { r.Host = "a b" }},
		{"CRLF in query", func(r *http.Request) { r.URL.RawQuery = "a\r\nX-Injected: 1" }},
		{"space in opaque", func(r *http.Request) { r.URL.Opaque = "//h/a b" }},
		{"bad method", func(r *http.Request) { r.Method = "GET /x HTTP/1.1\r\n" }},
		{"scheme", func(r *http.Request) { r.URL.Scheme = "ftp" }},
		{"no host", func(r *http.Request) { r.URL.Host = "" }},
		{"length without body", func(r *http.Request) { r.Body = nil; r.ContentLength = 3 }},
		{"done context", func(r *http.Request) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			*r = *r.WithContext(ctx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &rtClosingBody{Reader: strings.NewReader("body")}
			req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", nil)
			req.Body, req.ContentLength = body, 4
			tt.edit(req)
			resp, err := rt.RoundTrip(req)
			if err == nil || resp != nil {
				t.Fatalf("got %v, %v; want an error", resp, err)
			}
			if !strings.HasPrefix(err.Error(), "httprpc: ") {
				t.Errorf("error %q", err)
			}
			if req.Body != nil && body.closed.Load() != 1 {
				t.Errorf("body closed %d times", body.closed.Load())
			}
			t.Log(err)
		})
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials for refused requests", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:1/", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
}

func TestRoundTripperBodyLengthMismatch(t *testing.T) {
	s := rtNewServer(t, rtEcho, false)
	rt := rtFor(t, s.Server)
	for _, n := range []int64{3, 5} {
		body := &rtClosingBody{Reader: strings.NewReader("four")}
		req, _ := http.NewRequest("POST", s.URL, nil)
		req.Body, req.ContentLength = body, n
		_, err := rt.RoundTrip(req)
		if err == nil || !errors.Is(err, errBodyLength) {
			t.Errorf("ContentLength %d for 4 bytes: %v", n, err)
		}
		if body.closed.Load() != 1 || rt.rtIdleCount() != 0 {
			t.Errorf("body closed %d times, %d idle", body.closed.Load(), rt.rtIdleCount())
		}
	}
	failing := &rtClosingBody{Reader: io.MultiReader(strings.NewReader("ab"), iotestErrReader{})}
	req, _ := http.NewRequest("POST", s.URL, nil)
	req.Body, req.ContentLength = failing, 10
	if _, err := rt.RoundTrip(req); !errors.Is(err, errRTTest) {
		t.Errorf("failing body: %v", err)
	}
	if _, body := rtDo(t, rt, "POST", s.URL, []byte("fine")); string(body) != "fine" {
		t.Fatalf("%q", body)
	}
}

var errRTTest = errors.New("test error")

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errRTTest }

func TestRoundTripperHostileResponses(t *testing.T) {
	hostile := map[string]struct {
		response   string
		close      bool // the server closes after the response
		readFails  bool // RoundTrip succeeds and reading the body fails
		maxHead    int
		wantInText string
	}{
		"huge head":        {response: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", wantInText: "too large"},
		"small limit":      {response: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 300) + "\r\n\r\n", maxHead: 256, wantInText: "too large"},
		"endless head":     {response: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 150<<10), wantInText: "too large"},
		"bad code":         {response: "HTTP/1.1 2x0 OK\r\n\r\n", wantInText: "status line"},
		"short code":       {response: "HTTP/1.1 20 OK\r\n\r\n", wantInText: "status line"},
		"code 099":         {response: "HTTP/1.1 099 Hm\r\n\r\n", wantInText: "status line"},
		"HTTP/2":           {response: "HTTP/2.0 200 OK\r\n\r\n", wantInText: "status line"},
		"no space":         {response: "HTTP/1.1 200OK\r\n\r\n", wantInText: "status line"},
		"lines of garbage": {response: "foo bar\r\n\r\n", wantInText: "status line"},
		"binary garbage":   {response: "\x00\x01\xff garbage", close: true, wantInText: "unexpected EOF"},
		"empty":            {response: "", close: true, wantInText: "EOF"},
		"both lengths":     {response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", wantInText: "both"},
		"two lengths":      {response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", wantInText: "Content-Length"},
		"bad length":       {response: "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello", wantInText: "Content-Length"},
		"gzip coding":      {response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", wantInText: "Transfer-Encoding"},
		"bad field":        {response: "HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n", wantInText: "header name"},
		"folded length":    {response: "HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\n\r\nok", wantInText: "folded"},
		"folded coding":    {response: "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", wantInText: "folded"},
		"spaced length":    {response: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", wantInText: "before the colon"},
		"spaced coding":    {response: "HTTP/1.1 200 OK\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", wantInText: "before the colon"},
		"leading space":    {response: "HTTP/1.1 200 OK\r\n X-A: b\r\nContent-Length: 2\r\n\r\nok", wantInText: "white space"},
		"101":              {response: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", wantInText: "101"},
		"endless 100s":     {response: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 50<<10), wantInText: "too large"},
		"100s and a head":  {response: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 20) + "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 300) + "\r\n\r\n", maxHead: 700, wantInText: "too large"},
		"short body":       {response: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close: true, readFails: true, wantInText: "unexpected EOF"},
		"bad chunk":        {response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", readFails: true, wantInText: "chunk"},
		"truncated chunk":  {response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", close: true, readFails: true, wantInText: "EOF"},
	}
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			name, _ := url.PathUnescape(strings.TrimPrefix(strings.Fields(r.line)[1], "/"))
			h, ok := hostile[name]
			if !ok {
				io.WriteString(c, rtOK)
				continue
			}
			io.WriteString(c, h.response)
			if h.close {
				return
			}
			// Wait for the client to give up on the connection.
			io.Copy(io.Discard, br)
			return
		}
	})
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			rt := rtFor(t, nil)
			rt.MaxResponseHeaderBytes = h.maxHead
			base := "http://" + s.addr + "/"
			rtDo(t, rt, "GET", base+"ok", nil) // a connection to reuse
			before := s.accepted.Load()
			resp, err := rt.RoundTrip(rtNewRequest(t, "POST", base+url.PathEscape(name)))
			if h.readFails {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			} else if resp != nil {
				t.Fatalf("got a response: %v", resp)
			}
			if err == nil || !strings.Contains(err.Error(), h.wantInText) || !strings.HasPrefix(err.Error(), "httprpc: ") {
				t.Fatalf("error %v, want one with %q", err, h.wantInText)
			}
			t.Log(err)
			if n := rt.rtIdleCount(); n != 0 {
				t.Fatalf("%d idle connections after the error", n)
			}
			if _, body := rtDo(t, rt, "GET", base+"ok", nil); string(body) != "ok" {
				t.Fatalf("next request: %q", body)
			}
			if n := s.accepted.Load(); n != before+1 {
				t.Errorf("%d new connections after the error, want 1", n-before)
			}
		})
	}
}

func rtNewRequest(t testing.TB, method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRoundTripperInterimResponses(t *testing.T) {
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone")
		}
	})
	rt := rtFor(t, nil)
	for range 2 {
		resp, body := rtDo(t, rt, "POST", "http://"+s.addr, []byte("x"))
		if resp.StatusCode != 201 || resp.Status != "201 Created" || string(body) != "done" || resp.Header.Get("Link") != "" {
			t.Fatalf("%s %q %v", resp.Status, body, resp.Header)
		}
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestRoundTripperIdleClosedByServer(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			s := rtNewServer(t, rtEcho, useTLS)
			rt := rtFor(t, s.Server)
			for i, method := range []string{"GET", "POST", "POST"} {
				rtDo(t, rt, method, s.URL, []byte("before"))
				s.CloseClientConnections()
				rtWaitPeerClosed(t, rt)
				if _, body := rtDo(t, rt, method, s.URL, []byte("after")); string(body) != "after" {
					t.Fatalf("%q", body)
				}
				if n := s.conns.Load(); n != int32(i+2) {
					t.Fatalf("%d connections, want %d", n, i+2)
				}
			}
		})
	}
}

func TestRoundTripperRetry(t *testing.T) {
	// The server answers the first request of a connection and closes the
	// connection when the second has come, without answering, as a
	// server does that closes an idle connection just when a request is on
	// its way.
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := rtReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, rtOK)
		rtReadRequest(br)
	})
	tests := []struct {
		name      string
		method    string
		key       bool // an Idempotency-Key
		noGetBody bool
		retried   bool
	}{
		{"GET", "GET", false, false, true},
		{"HEAD", "HEAD", false, false, true},
		{"POST", "POST", false, false, false},
		{"POST with key", "POST", true, false, true},
		{"POST with key without GetBody", "POST", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := rtFor(t, nil)
			url := "http://" + s.addr
			rtDo(t, rt, "GET", url, nil)
			before := s.accepted.Load()
			req, _ := http.NewRequest(tt.method, url, strings.NewReader("payload"))
			if tt.key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			if tt.noGetBody {
				req.GetBody = nil
			}
			resp, err := rt.RoundTrip(req)
			if !tt.retried {
				if err == nil {
					resp.Body.Close()
					t.Fatal("sent again")
				}
				if !strings.Contains(err.Error(), "EOF") {
					t.Errorf("error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.method != "HEAD" && string(body) != "ok" {
				t.Fatalf("%q", body)
			}
			if n := s.accepted.Load() - before; n != 1 {
				t.Errorf("%d new connections, want 1", n)
			}
		})
	}
}

// rtFailingConn fails its writes once told to, writing nothing, or after
// its first write when failLater is set.
type rtFailingConn struct {
	net.Conn
	fail      atomic.Bool
	failLater bool
}

func (c *rtFailingConn) Write(p []byte) (int, error) {
	if c.fail.Load() {
		return 0, errors.New("injected write failure")
	}
	if c.failLater {
		c.fail.Store(true)
	}
	return c.Conn.Write(p)
}

func TestRoundTripperWriteFailure(t *testing.T) {
	// A write fails in the middle of a request on a connection that still
	// works, and the server waits for the rest: the round trip fails, and
	// does not wait for an answer that cannot come.
	s := rtNewServer(t, rtEcho, false)
	rt := rtFor(t, s.Server)
	rt.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &rtFailingConn{Conn: c, failLater: true}, nil
	}
	req, _ := http.NewRequest("POST", s.URL, bytes.NewReader(rtPattern(64<<10)))
	resp, err := rt.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("got %v, %v; want the write's error", resp, err)
	}
	if n := rt.rtIdleCount(); n != 0 {
		t.Errorf("%d idle connections", n)
	}
}

func TestRoundTripperRetryUnwritten(t *testing.T) {
	s := rtNewServer(t, rtEcho, false)
	for _, getBody := range []bool{true, false} {
		t.Run(fmt.Sprintf("GetBody=%v", getBody), func(t *testing.T) {
			var mu sync.Mutex
			var conns []*rtFailingConn
			rt := rtFor(t, s.Server)
			rt.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				fc := &rtFailingConn{Conn: c}
				mu.Lock()
				conns = append(conns, fc)
				mu.Unlock()
				return fc, nil
			}
			rtDo(t, rt, "POST", s.URL, []byte("first"))
			conns[0].fail.Store(true)
			body := &rtClosingBody{Reader: strings.NewReader("second")}
			req, _ := http.NewRequest("POST", s.URL, body)
			req.ContentLength = 6
			if getBody {
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("second")), nil }
			}
			resp, err := rt.RoundTrip(req)
			if body.closed.Load() != 1 {
				t.Errorf("body closed %d times", body.closed.Load())
			}
			if !getBody {
				if err == nil || !strings.Contains(err.Error(), "injected") {
					t.Fatalf("got %v, %v; want the write's error", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != "second" || len(conns) != 2 {
				t.Fatalf("%q on %d connections", got, len(conns))
			}
		})
	}
}

func TestRoundTripperEarlyResponse(t *testing.T) {
	// The server refuses a request after its head, without reading the
	// body, and closes: writing the body fails, the answer is read all the
	// same.
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readHead(br, nil, 1<<20, true); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
	})
	rt := rtFor(t, nil)
	const size = 64 << 20 // more than the sockets' buffers hold
	req, _ := http.NewRequest("POST", "http://"+s.addr, io.LimitReader(rtZeros{}, size))
	req.ContentLength = size
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(body) != "too large" || err != nil {
		t.Fatalf("%d %q %v", resp.StatusCode, body, err)
	}
}

type rtZeros struct{}

func (rtZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// rtExpiringCtx is a context whose deadline passes when the test says so.
type rtExpiringCtx struct {
	context.Context
	done chan struct{}
}

func (c *rtExpiringCtx) Done() <-chan struct{} { return c.done }

func (c *rtExpiringCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func TestRoundTripperContext(t *testing.T) {
	// The handler of a request with an X-Id tells the test it runs, and
	// waits for the client to go away; /slow-body sends a part of its body
	// first.
	var running sync.Map // X-Id → chan struct{}
	s := rtNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		ch, ok := running.Load(r.Header.Get("X-Id"))
		if !ok {
			return
		}
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("part"))
			w.(http.Flusher).Flush()
		}
		close(ch.(chan struct{}))
		<-r.Context().Done()
	}, false)
	rt := rtFor(t, s.Server)
	newRequest := func(t *testing.T, ctx context.Context, method, path string) (*http.Request, chan struct{}) {
		ch := make(chan struct{})
		running.Store(t.Name(), ch)
		req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader("x"))
		req.Header.Set("X-Id", t.Name())
		return req, ch
	}

	t.Run("stalled server", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		req, running := newRequest(t, ctx, "POST", "/stall")
		go func() {
			<-running
			cancel()
		}()
		resp, err := rt.RoundTrip(req)
		if !errors.Is(err, context.Canceled) || resp != nil {
			t.Fatalf("got %v, %v; want context.Canceled", resp, err)
		}
		t.Log(err)
		if n := rt.rtIdleCount(); n != 0 {
			t.Errorf("%d idle connections", n)
		}
	})

	for _, deadline := range []bool{false, true} {
		t.Run(fmt.Sprintf("slow body deadline=%v", deadline), func(t *testing.T) {
			cctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var ctx context.Context = cctx
			want := context.Canceled
			expiring := &rtExpiringCtx{Context: context.Background(), done: make(chan struct{})}
			if deadline {
				ctx, want = expiring, context.DeadlineExceeded
			}
			req, running := newRequest(t, ctx, "GET", "/slow-body")
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			<-running
			buf := make([]byte, 100)
			n, err := io.ReadFull(resp.Body, buf[:4])
			if err != nil || string(buf[:n]) != "part" {
				t.Fatalf("%q, %v", buf[:n], err)
			}
			cancel()
			close(expiring.done)
			_, err = resp.Body.Read(buf)
			if !errors.Is(err, want) {
				t.Fatalf("Read: %v, want %v", err, want)
			}
			t.Log(err)
			if _, err2 := resp.Body.Read(buf); !errors.Is(err2, want) {
				t.Errorf("second Read: %v", err2)
			}
			resp.Body.Close()
			if n := rt.rtIdleCount(); n != 0 {
				t.Errorf("%d idle connections", n)
			}
		})
	}

	t.Run("real deadline", func(t *testing.T) {
		// Wherever the deadline lands, it ends the request.
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		req, _ := newRequest(t, ctx, "GET", "/slow-body")
		resp, err := rt.RoundTrip(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("dial", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		rt := &RoundTripper{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			cancel()
			<-ctx.Done()
			return nil, errors.New("dial interrupted")
		}}
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
		if _, err := rt.RoundTrip(req); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	})

	t.Run("close during read", func(t *testing.T) {
		req, running := newRequest(t, context.Background(), "GET", "/slow-body")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		<-running
		buf := make([]byte, 100)
		io.ReadFull(resp.Body, buf[:4])
		done := make(chan error)
		go func() {
			_, err := resp.Body.Read(buf)
			done <- err
		}()
		// Close either interrupts the Read or comes before it.
		resp.Body.Close()
		if err := <-done; !errors.Is(err, errReadOnClosedBody) {
			t.Fatalf("Read: %v", err)
		}
		if n := rt.rtIdleCount(); n != 0 {
			t.Errorf("%d idle connections", n)
		}
	})

	// The connections interrupted were not kept: this one works.
	if _, body := rtDo(t, rt, "POST", s.URL+"/fine", []byte("x")); len(body) != 0 {
		t.Fatalf("%q", body)
	}
}

func TestRoundTripperBodyClose(t *testing.T) {
	big := rtPattern(1 << 20)
	s := rtNewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
			return
		}
		if r.URL.Path == "/chunked" {
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
		}
		w.Write([]byte("small"))
	}, false)
	rt := rtFor(t, s.Server)
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := rt.RoundTrip(rtNewRequest(t, "GET", s.URL+path))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// Closed unread: a small body is drained and the connection kept.
	for _, path := range []string{"/small", "/chunked"} {
		resp := get(path)
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if n := rt.rtIdleCount(); n != 1 {
			t.Fatalf("%s: %d idle connections after Close, want 1", path, n)
		}
		buf := make([]byte, 10)
		if _, err := resp.Body.Read(buf); err != errReadOnClosedBody {
			t.Errorf("Read after Close: %v", err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}

	// Read to its end: the connection is back before Close.
	resp := get("/small")
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "small" {
		t.Fatalf("%q, %v", b, err)
	}
	if n := rt.rtIdleCount(); n != 1 {
		t.Fatalf("%d idle connections at EOF, want 1", n)
	}
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after EOF: %d, %v", n, err)
	}
	resp.Body.Close()

	// A big body left unread closes the connection.
	resp = get("/big")
	resp.Body.Close()
	if n := rt.rtIdleCount(); n != 0 {
		t.Fatalf("%d idle connections after closing a big body", n)
	}
	if _, body := rtDo(t, rt, "GET", s.URL+"/big", nil); !bytes.Equal(body, big) {
		t.Fatal("big body differs")
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

func TestRoundTripperConcurrent(t *testing.T) {
	s := rtNewServer(t, rtEcho, false)
	rt := rtFor(t, s.Server)
	const goroutines, calls = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				want := fmt.Sprintf("goroutine %d call %d %s", g, i, strings.Repeat("x", i*37))
				req, _ := http.NewRequest("POST", s.URL, strings.NewReader(want))
				resp, err := rt.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.conns.Load(); n > goroutines {
		t.Errorf("%d connections for %d goroutines", n, goroutines)
	}
	if n := rt.rtIdleCount(); n < 1 || n > goroutines {
		t.Errorf("%d idle connections", n)
	}
}

func TestRoundTripperPoolLimits(t *testing.T) {
	const parallel = 4
	for _, tt := range []struct{ max, want int }{{1, 1}, {-1, 0}, {0, parallel}} {
		t.Run(fmt.Sprint("max=", tt.max), func(t *testing.T) {
			// The handlers wait for each other: the requests are in
			// flight together, each on a connection of its own.
			var arrived atomic.Int32
			all := make(chan struct{})
			s := rtNewServer(t, func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == parallel {
					close(all)
				}
				<-all
			}, false)
			rt := rtFor(t, s.Server)
			rt.MaxIdleConnsPerHost = tt.max
			var wg sync.WaitGroup
			for range parallel {
				wg.Go(func() {
					resp, err := rt.RoundTrip(rtNewRequest(t, "GET", s.URL))
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
				})
			}
			wg.Wait()
			if n := rt.rtIdleCount(); n != tt.want {
				t.Errorf("%d idle connections, want %d", n, tt.want)
			}
		})
	}
}

func TestRoundTripperIdleTimeout(t *testing.T) {
	s := rtNewServer(t, rtEcho, false)

	// Every connection is too old when taken.
	rt := rtFor(t, s.Server)
	rt.IdleConnTimeout = time.Nanosecond
	for range 3 {
		rtDo(t, rt, "GET", s.URL, nil)
	}
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}

	// The sweeper closes idle connections once IdleConnTimeout passed, and
	// not before. In a synctest bubble, over in-memory connections, the
	// waits are exact.
	synctest.Test(t, func(t *testing.T) {
		const idle = 5 * time.Millisecond
		ln := NewPipeListener()
		srv := &Server{Handler: http.HandlerFunc(rtEcho)}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		rt := &RoundTripper{IdleConnTimeout: idle, DialContext: func(context.Context, string, string) (net.Conn, error) {
			return ln.Dial(), nil
		}}
		for i := range 2 { // twice: the sweeper is armed again
			rtDo(t, rt, "GET", "http://pipe/", nil)
			time.Sleep(idle - time.Nanosecond)
			synctest.Wait()
			if n := rt.rtIdleCount(); n != 1 {
				t.Fatalf("round %d: %d idle connections just before IdleConnTimeout, want 1", i, n)
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if n := rt.rtIdleCount(); n != 0 {
				t.Fatalf("round %d: %d idle connections at IdleConnTimeout, want 0", i, n)
			}
		}
		srv.Close()
		<-served
		time.Sleep(time.Second) // the server's watcher sees it closed
	})
}

func TestRoundTripperCloseIdleConnections(t *testing.T) {
	s := rtNewServer(t, rtEcho, false)
	rt := rtFor(t, s.Server)
	rtDo(t, rt, "GET", s.URL, nil)
	req, _ := http.NewRequest("POST", s.URL, strings.NewReader("unread"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	rt.CloseIdleConnections()
	if n := rt.rtIdleCount(); n != 0 {
		t.Fatalf("%d idle connections", n)
	}
	resp.Body.Close() // in use during CloseIdleConnections: closed now
	rtDo(t, rt, "GET", s.URL, nil)
	if n := rt.rtIdleCount(); n != 0 {
		t.Fatalf("%d idle connections after CloseIdleConnections", n)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestRoundTripperAddresses(t *testing.T) {
	plain := rtNewServer(t, rtEcho, false)
	secure := rtNewServer(t, rtEcho, true)
	tests := []struct {
		url, wantAddr, wantHost string
		server                  *rtTestServer
	}{
		{"http://example.com/", "example.com:80", "example.com", plain},
		{"http://example.com:8080/", "example.com:8080", "example.com:8080", plain},
		{"http://[::1]/", "[::1]:80", "[::1]", plain},
		{"http://[fe80::1%25en0]:81/", "[fe80::1%en0]:81", "[fe80::1%en0]:81", plain},
		{"https://example.com/", "example.com:443", "example.com", secure},
	}
	for _, tt := range tests {
		var dialed string
		rt := rtFor(t, tt.server.Server)
		rt.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = addr
			return (&net.Dialer{}).DialContext(ctx, network, tt.server.Listener.Addr().String())
		}
		resp, _ := rtDo(t, rt, "GET", tt.url, nil)
		if dialed != tt.wantAddr || resp.Header.Get("X-Host") != tt.wantHost {
			t.Errorf("%s: dialed %q, Host %q; want %q, %q", tt.url, dialed, resp.Header.Get("X-Host"), tt.wantAddr, tt.wantHost)
		}
	}

	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Log("no IPv6 loopback:", err)
		return
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(rtEcho))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	defer s.Close()
	rt := rtFor(t, nil)
	if _, body := rtDo(t, rt, "POST", s.URL, []byte("v6")); string(body) != "v6" {
		t.Fatalf("%q", body)
	}
}

// rtCannedServer answers every request with the same small response. It
// allocates nothing per request, so that what an allocation test counts is
// the client's.
func rtCannedServer(t testing.TB) string {
	response := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/x-line-rpc\r\nContent-Length: 11\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nok 1 result")
	contentLength := []byte("content-length:")
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			length := int64(-1)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break // the end of the head
				}
				if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
					length = 0
					for _, b := range bytes.TrimSpace(line[len(contentLength):]) {
						length = length*10 + int64(b-'0')
					}
				}
			}
			if length < 0 {
				return // this server reads no chunked bodies
			}
			if _, err := br.Discard(int(length)); err != nil {
				return
			}
			if _, err := c.Write(response); err != nil {
				return
			}
		}
	})
	return "http://" + s.addr + "/RPC2"
}

// rtRewindable is a request body that is read anew after rewind.
type rtRewindable struct {
	b   []byte
	off int
}

func (r *rtRewindable) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *rtRewindable) Close() error { return nil }

// rtCall sends one keep-alive POST of req and reads its reply into buf.
func rtCall(rt http.RoundTripper, req *http.Request, body *rtRewindable, buf []byte) error {
	body.off = 0
	req.Body = body
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	n := 0
	for err == nil {
		var m int
		m, err = resp.Body.Read(buf[n:])
		n += m
	}
	resp.Body.Close()
	if err != io.EOF || string(buf[:n]) != "ok 1 result" {
		return fmt.Errorf("reply %q, %v", buf[:n], err)
	}
	return nil
}

func rtCallRequest(t testing.TB, ctx context.Context, url string) (*http.Request, *rtRewindable) {
	body := &rtRewindable{b: []byte("call 1 add 40 2")}
	req, err := http.NewRequestWithContext(ctx, "POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body.b))
	req.Header.Set("Content-Type", "text/x-line-rpc")
	req.Header.Set("Accept", "text/x-line-rpc")
	return req, body
}

func TestRoundTripperAllocs(t *testing.T) {
	url := rtCannedServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Observed (go1.26, linux/amd64, with and without -race): 6
	// allocations (the Response, its Header's map, group and values, the
	// head's string, the body), and 8 with a context that can end
	// (context.AfterFunc's two). The bounds leave room for noise, not for
	// another allocation: a slack of one let the request's state escape
	// to the heap unnoticed once.
	for _, tt := range []struct {
		name string
		ctx  context.Context
		max  float64
	}{
		{"background", context.Background(), 6.5},
		{"cancelable", ctx, 8.5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := rtFor(t, nil)
			req, body := rtCallRequest(t, tt.ctx, url)
			buf := make([]byte, 64)
			for range 3 {
				if err := rtCall(rt, req, body, buf); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			allocs := testing.AllocsPerRun(200, func() {
				if e := rtCall(rt, req, body, buf); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%.1f allocations per round trip", allocs)
			if allocs > tt.max {
				t.Errorf("%.1f allocations per round trip, want at most %.1f", allocs, tt.max)
			}
		})
	}
}

// BenchmarkRoundTripper compares RoundTripper with net/http's Transport on
// a small keep-alive POST against a server that answers at once.
func BenchmarkRoundTripper(b *testing.B) {
	url := rtCannedServer(b)
	transports := []struct {
		name string
		new  func() http.RoundTripper
	}{
		{"httprpc", func() http.RoundTripper { return &RoundTripper{} }},
		{"net-http", func() http.RoundTripper { return &http.Transport{MaxIdleConnsPerHost: 64} }},
	}
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				rt := tr.new()
				defer rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
				req, body := rtCallRequest(b, context.Background(), url)
				buf := make([]byte, 64)
				b.ReportAllocs()
				for b.Loop() {
					if err := rtCall(rt, req, body, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				rt := tr.new()
				defer rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					req, body := rtCallRequest(b, context.Background(), url)
					buf := make([]byte, 64)
					for pb.Next() {
						if err := rtCall(rt, req, body, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
