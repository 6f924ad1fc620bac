package httpengine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// These tests talk to the Server over raw TCP connections with literal
// bytes, and read its answers with net/http's own parser, as a hostile or
// careless client would.

// hostileHangGuard bounds every raw connection: a test that waits longer failed.
const hostileHangGuard = 10 * time.Second

// startHostile serves h on a loopback port with a Server that set adjusted,
// and returns the server and its address. The server is closed when the
// test ends.
func startHostile(t *testing.T, h http.Handler, set func(*httpengine.Server)) (*httpengine.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httpengine.Server{Handler: h}
	if set != nil {
		set(srv)
	}
	done := hostileServe(t, srv, ln)
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return srv, ln.Addr().String()
}

// hostileServe runs srv.Serve(ln) and returns a channel that gets Serve's error.
// A Serve that ends with anything but http.ErrServerClosed fails the test.
func hostileServe(t *testing.T, srv *httpengine.Server, ln net.Listener) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
		done <- err
	}()
	return done
}

// hostileDial connects to addr; the connection is closed when the test ends.
func hostileDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(hostileHangGuard))
	return c, bufio.NewReader(c)
}

func hostileSend(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
}

// hostileRead reads one response to a request with the given method, and its
// whole body.
func hostileRead(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return resp, string(b)
}

// hostileIsClosed reports whether err is how a read sees a connection the peer
// closed: EOF, or a reset when the server closed with request bytes still
// unread (as it may when it refuses a request it did not read to its end).
func hostileIsClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// hostileExpectClosed checks that the server closed the connection and sent
// nothing more.
func hostileExpectClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if _, err := br.ReadByte(); err == nil {
		br.UnreadByte()
		more, _ := br.Peek(br.Buffered())
		t.Fatalf("after the last response the server sent %q, want the connection closed", more)
	} else if !hostileIsClosed(err) {
		t.Fatalf("reading after the last response: %v, want the connection closed", err)
	}
}

// hostileExpectOpen checks that the connection still serves a request.
func hostileExpectOpen(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	hostileSend(t, c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := hostileRead(t, br, "GET"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the next request on the connection got %s, want 200", resp.Status)
	}
}

// hostileGetOK checks that the server answers a good request on a new connection.
func hostileGetOK(t *testing.T, addr string) {
	t.Helper()
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := hostileRead(t, br, "GET"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a good request got %s, want 200", resp.Status)
	}
}

// hostileEcho answers every request with 200 and its path, after reading
// its body, which it returns too.
var hostileEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	io.WriteString(w, r.URL.Path+" "+string(b))
})

// hostileLog is a log's output that tests read while the server writes.
type hostileLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *hostileLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *hostileLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHostileMalformedRequests(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, func(s *httpengine.Server) { s.MaxHeaderBytes = 4096 })
	const host = "Host: x\r\n"
	bigHead := "GET / HTTP/1.1\r\n" + host + strings.Repeat("X-Filler: "+strings.Repeat("a", 90)+"\r\n", 100) + "\r\n"
	longLine := "GET / HTTP/1.1\r\n" + host + "X-Long: " + strings.Repeat("b", 5000) + "\r\n\r\n"
	for _, tc := range []struct {
		name    string
		req     string
		status  int
		message string // a part of the text the answer must say
	}{
		{"request line without version", "GET /\r\n" + host + "\r\n", 400, "request line"},
		{"request line with method only", "GET\r\n" + host + "\r\n", 400, "request line"},
		{"request line with double space", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
		{"request line with trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400, "HTTP version"},
		{"control character in target", "GET /a\x01b HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
		{"DEL in target", "GET /a\x7fb HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
		{"tab in target", "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
		{"invalid method", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400, "request line"},
		{"lower-case version", "GET / http/1.1\r\n" + host + "\r\n", 400, "HTTP version"},
		{"version with two digits", "GET / HTTP/1.10\r\n" + host + "\r\n", 400, "HTTP version"},
		{"bare CR in request line", "GET / HTTP/1.1\rX\r\n" + host + "\r\n", 400, "HTTP version"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505, "HTTP version"},
		{"HTTP/3.1", "GET / HTTP/3.1\r\n" + host + "\r\n", 505, "HTTP version"},
		// The whole preface begins HTTP/2 (TestServerHTTP2); one that
		// goes wrong after its request line is an HTTP/1 request.
		{"HTTP/2 preface gone wrong", "PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n", 505, "HTTP version"},
		{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400, "Host"},
		{"two Host fields", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400, "Host"},
		{"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host"},
		{"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "Host"},
		{"head over MaxHeaderBytes", bigHead, 431, "too large"},
		{"line longer than the read buffer", longLine, 431, "too large"},
		{"obs-fold continuation line", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\n c\r\n\r\n", 400, "folded"},
		{"obs-fold with a tab", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\n\tc\r\n\r\n", 400, "folded"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "header name"},
		{"tab before colon", "GET / HTTP/1.1\r\n" + host + "X-A\t: b\r\n\r\n", 400, "header name"},
		{"field without colon", "GET / HTTP/1.1\r\n" + host + "X-A b\r\n\r\n", 400, "colon"},
		{"field with empty name", "GET / HTTP/1.1\r\n" + host + ": b\r\n\r\n", 400, "colon"},
		{"invalid header name character", "GET / HTTP/1.1\r\n" + host + "X(A): b\r\n\r\n", 400, "header name"},
		{"non-ASCII header name", "GET / HTTP/1.1\r\n" + host + "X-\xe9: b\r\n\r\n", 400, "header name"},
		{"NUL in header value", "GET / HTTP/1.1\r\n" + host + "X-A: b\x00c\r\n\r\n", 400, "invalid value"},
		{"bare CR in header value", "GET / HTTP/1.1\r\n" + host + "X-A: b\rc\r\n\r\n", 400, "invalid value"},
		{"CR ending a header value", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\r\n\r\n", 400, "invalid value"},
		{"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer-Encoding"},
		{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 501, "Transfer-Encoding"},
		{"Transfer-Encoding gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "Transfer-Encoding"},
		{"two Transfer-Encoding chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "Transfer-Encoding"},
		{"two different Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "Content-Length"},
		{"Content-Length list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\n", 400, "Content-Length"},
		{"Content-Length abc", "POST / HTTP/1.1\r\n" + host + "Content-Length: abc\r\n\r\n", 400, "Content-Length"},
		{"Content-Length -1", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400, "Content-Length"},
		{"Content-Length +5", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", 400, "Content-Length"},
		{"Content-Length 0x5", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\n", 400, "Content-Length"},
		{"Content-Length empty", "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", 400, "Content-Length"},
		{"Content-Length of 30 digits", "POST / HTTP/1.1\r\n" + host + "Content-Length: " + strings.Repeat("9", 30) + "\r\n\r\n", 400, "Content-Length"},
		{"Expect something", "GET / HTTP/1.1\r\n" + host + "Expect: something\r\n\r\n", 417, "Expect"},
		{"two Expect 100-continue", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n", 417, "Expect"},
		{"OPTIONS-only target", "GET * HTTP/1.1\r\n" + host + "\r\n", 400, "OPTIONS"},
		{"unparsable target", "GET %zz HTTP/1.1\r\n" + host + "\r\n", 400, "target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := hostileDial(t, addr)
			hostileSend(t, c, tc.req)
			resp, body := hostileRead(t, br, "GET")
			if resp.StatusCode != tc.status {
				t.Errorf("status %s, want %d; body %q", resp.Status, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
			if !strings.Contains(body, tc.message) {
				t.Errorf("body %q does not say %q", body, tc.message)
			}
			if !resp.Close {
				t.Errorf("the answer does not say Connection: close")
			}
			hostileExpectClosed(t, br)
			hostileGetOK(t, addr)
		})
	}
}

// TestHostileHeaderLimit checks the bound on a head: one of exactly
// MaxHeaderBytes, the empty line that ends it included, is served; one
// byte more is refused.
func TestHostileHeaderLimit(t *testing.T) {
	t.Parallel()
	const max = 4096
	_, addr := startHostile(t, hostileEcho, func(s *httpengine.Server) { s.MaxHeaderBytes = max })
	head := func(size int) string {
		const start = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
		return start + strings.Repeat("p", size-len(start)-4) + "\r\n\r\n"
	}
	for _, tc := range []struct {
		size, status int
	}{
		{max, 200},
		{max + 1, 431},
	} {
		c, br := hostileDial(t, addr)
		req := head(tc.size)
		if len(req) != tc.size {
			t.Fatalf("made a head of %d bytes, want %d", len(req), tc.size)
		}
		hostileSend(t, c, req)
		if resp, body := hostileRead(t, br, "GET"); resp.StatusCode != tc.status {
			t.Errorf("a head of %d bytes got %s %q, want %d", tc.size, resp.Status, body, tc.status)
		}
	}
}

// TestHostileLenientRequests checks requests that are odd but valid: the
// server must serve them, and keep the connection.
func TestHostileLenientRequests(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, nil)
	for _, tc := range []struct {
		name, req, body string
	}{
		{"two identical Content-Length", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "/p hello"},
		{"Content-Length with leading zeros", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhello", "/p hello"},
		{"chunked in upper case", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "/p hello"},
		{"bare LF line ends", "GET /p HTTP/1.1\nHost: x\n\n", "/p "},
		{"HTTP/1.0 without Host", "GET /p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "/p "},
		{"empty Host", "GET /p HTTP/1.1\r\nHost:\r\n\r\n", "/p "},
		{"value with tab and obs-text", "GET /p HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xe9\r\n\r\n", "/p "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := hostileDial(t, addr)
			hostileSend(t, c, tc.req)
			resp, body := hostileRead(t, br, "GET")
			if resp.StatusCode != http.StatusOK || body != tc.body {
				t.Fatalf("got %s %q, want 200 %q", resp.Status, body, tc.body)
			}
			hostileExpectOpen(t, c, br)
		})
	}
}

func TestHostileEmptyLinesBeforeRequest(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, nil)
	for _, tc := range []struct {
		lines  int
		status int
	}{
		{1, 200},
		{4, 200},
		{5, 400},
		{10, 400},
	} {
		c, br := hostileDial(t, addr)
		hostileSend(t, c, strings.Repeat("\r\n", tc.lines)+"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := hostileRead(t, br, "GET")
		if resp.StatusCode != tc.status {
			t.Fatalf("%d empty lines: got %s %q, want %d", tc.lines, resp.Status, body, tc.status)
		}
		if tc.status == 200 {
			hostileExpectOpen(t, c, br)
		} else {
			if !strings.Contains(body, "empty line") {
				t.Errorf("%d empty lines: body %q does not say what was wrong", tc.lines, body)
			}
			hostileExpectClosed(t, br)
		}
	}
}

// lineType is the one Content-Type that hostileRefuser serves.
const lineType = "text/x-line-rpc"

// hostileRefuser refuses requests as httprpc.Handler does, without reading
// their bodies: 415 for a Content-Type other than lineType, 413 with
// Connection: close for a body over limit.
func hostileRefuser(limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != lineType {
			http.Error(w, "unsupported Content-Type", http.StatusUnsupportedMediaType)
			return
		}
		tooLarge := r.ContentLength > limit
		var body []byte
		if !tooLarge {
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			tooLarge = err != nil
		}
		if tooLarge {
			w.Header().Set("Connection", "close")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.Write(body)
	})
}

// TestHostileExpectContinueRefused sends a head with Expect: 100-continue
// to a handler that refuses it without reading the body: the final answer
// comes without a 100 Continue, says that the connection closes, and it
// does.
func TestHostileExpectContinueRefused(t *testing.T) {
	t.Parallel()
	h := hostileRefuser(10)
	_, addr := startHostile(t, h, nil)
	for _, tc := range []struct {
		name   string
		head   string
		status int
	}{
		{"unsupported Content-Type", "Content-Type: application/x-unknown\r\nContent-Length: 5\r\n", http.StatusUnsupportedMediaType},
		{"body too large", "Content-Type: " + lineType + "\r\nContent-Length: 100\r\n", http.StatusRequestEntityTooLarge},
		{"chunked, unsupported Content-Type", "Content-Type: application/x-unknown\r\nTransfer-Encoding: chunked\r\n", http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := hostileDial(t, addr)
			hostileSend(t, c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+tc.head+"\r\n")
			resp, _ := hostileRead(t, br, "POST")
			if resp.StatusCode != tc.status {
				t.Fatalf("got %s, want %d (and no 100 Continue)", resp.Status, tc.status)
			}
			if !resp.Close {
				t.Errorf("the answer does not say Connection: close, but the server closes the connection (the body was never sent)")
			}
			hostileExpectClosed(t, br)
		})
	}
}

// TestHostileExpectContinue checks that 100 Continue comes once the handler
// reads the body, before the client sent it.
func TestHostileExpectContinue(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, nil)
	c, br := hostileDial(t, addr)
	for i := range 2 { // twice: the connection is kept
		hostileSend(t, c, "POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, _ := hostileRead(t, br, "POST")
		if resp.StatusCode != http.StatusContinue {
			t.Fatalf("request %d: got %s before sending the body, want 100 Continue", i, resp.Status)
		}
		hostileSend(t, c, "hello")
		resp, body := hostileRead(t, br, "POST")
		if resp.StatusCode != http.StatusOK || body != "/c hello" {
			t.Fatalf("request %d: got %s %q, want 200 %q", i, resp.Status, body, "/c hello")
		}
	}
	hostileExpectOpen(t, c, br)
}

func TestHostileSlowHead(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, func(s *httpengine.Server) { s.ReadHeaderTimeout = 100 * time.Millisecond })
	for _, part := range []string{"G", "GET / HTTP/1.1\r\nHo", "GET / HTTP/1.1\r\nHost: x\r\n"} {
		c, br := hostileDial(t, addr)
		hostileSend(t, c, part)
		hostileExpectClosed(t, br) // the hang guard fails this if the server waits
	}
	hostileGetOK(t, addr)
}

func TestHostileSlowBody(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		w.WriteHeader(http.StatusRequestTimeout)
	})
	_, addr := startHostile(t, h, func(s *httpengine.Server) {
		s.ReadTimeout = 100 * time.Millisecond
		// Longer than the hang guard: only ReadTimeout ends the body.
		s.ReadHeaderTimeout = time.Minute
	})
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhel")
	resp, _ := hostileRead(t, br, "POST")
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("got %s, want the handler's 408", resp.Status)
	}
	hostileExpectClosed(t, br)
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the handler read the stalled body with error %v, want a timeout", err)
		}
	default:
		t.Errorf("the handler never ran")
	}
}

func TestHostileIdleTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, func(s *httpengine.Server) { s.IdleTimeout = 100 * time.Millisecond })
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := hostileRead(t, br, "GET"); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("got %s, close %v; want 200, kept alive", resp.Status, resp.Close)
	}
	hostileExpectClosed(t, br)
}

// hostilePanic panics on /panic and /abort, and answers otherwise.
func hostilePanic(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/panic":
		panic("hostile test panic")
	case "/abort":
		panic(http.ErrAbortHandler)
	}
	io.WriteString(w, "ok")
}

func TestHostileHandlerPanic(t *testing.T) {
	t.Parallel()
	var logBuf hostileLog
	_, addr := startHostile(t, http.HandlerFunc(hostilePanic), func(s *httpengine.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	})
	for _, tc := range []struct {
		path   string
		logged bool
	}{
		{"/abort", false},
		{"/panic", true},
	} {
		c, br := hostileDial(t, addr)
		hostileSend(t, c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		hostileExpectClosed(t, br)
		// The connection closed after the log was written.
		if got := strings.Contains(logBuf.String(), "hostile test panic"); got != tc.logged {
			t.Errorf("%s: panic logged %v, want %v; log:\n%s", tc.path, got, tc.logged, logBuf.String())
		}
		if tc.path == "/abort" && logBuf.String() != "" {
			t.Errorf("http.ErrAbortHandler was logged: %s", logBuf.String())
		}
		hostileGetOK(t, addr)
	}
}

// TestHostilePanicAfterPipelinedResponse sends two requests in one write:
// the first is answered, the second's handler panics. The first answer is
// complete and must reach the client before the connection closes.
func TestHostilePanicAfterPipelinedResponse(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, http.HandlerFunc(hostilePanic), nil)
	for _, path := range []string{"/abort", "/panic"} {
		c, br := hostileDial(t, addr)
		hostileSend(t, c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("then %s: the answer to the first request was lost: %v", path, err)
			continue
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
			t.Errorf("then %s: first answer %s %q, %v; want 200 \"ok\"", path, resp.Status, b, err)
		}
		hostileExpectClosed(t, br)
	}
}

func TestHostileUnreadBody(t *testing.T) {
	t.Parallel()
	ignore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ignored")
	})
	_, addr := startHostile(t, ignore, nil)

	t.Run("1 MiB", func(t *testing.T) {
		c, br := hostileDial(t, addr)
		const size = 1 << 20
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			// It fails once the server closes the connection; the
			// test sees that on the reading side.
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("z", size))
		}()
		resp, body := hostileRead(t, br, "POST")
		if resp.StatusCode != http.StatusOK || body != "ignored" {
			t.Errorf("got %s %q, want 200 \"ignored\"", resp.Status, body)
		}
		if !resp.Close {
			t.Errorf("the answer does not say Connection: close, but the server closes the connection (the body was left unread)")
		}
		hostileExpectClosed(t, br)
		c.Close()
		<-wrote
	})
	for _, tc := range []struct{ name, req string }{
		{"100 bytes", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("z", 100)},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := hostileDial(t, addr)
			hostileSend(t, c, tc.req)
			resp, body := hostileRead(t, br, "POST")
			if resp.StatusCode != http.StatusOK || body != "ignored" || resp.Close {
				t.Fatalf("got %s %q, close %v; want 200 \"ignored\", kept alive", resp.Status, body, resp.Close)
			}
			hostileExpectOpen(t, c, br)
		})
	}
}

// TestHostileRefusalWhileSending sends requests that the server refuses
// while the client is still sending them, with net/http's client: the
// refusal must reach it, not a reset connection. A server that closes a
// connection with request bytes unread makes the kernel reset it, and the
// client's write then fails before it reads the answer; net/http's server
// half-closes and waits instead (closeWriteAndWait).
func TestHostileRefusalWhileSending(t *testing.T) {
	t.Parallel()
	h := hostileRefuser(1 << 10)
	_, addr := startHostile(t, h, nil)
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"body over the handler's limit", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://"+addr, bytes.NewReader(make([]byte, 8<<20)))
			r.Header.Set("Content-Type", lineType)
			return r
		}, http.StatusRequestEntityTooLarge},
		{"head over MaxHeaderBytes", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://"+addr, strings.NewReader("x"))
			r.Header.Set("X-Big", strings.Repeat("b", 4<<20))
			return r
		}, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 10 {
				client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
				ctx, cancel := context.WithTimeout(context.Background(), hostileHangGuard)
				resp, err := client.Do(tc.req().WithContext(ctx))
				if err != nil {
					cancel()
					t.Fatalf("attempt %d: %v, want the answer %d", i, err, tc.status)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				cancel()
				if resp.StatusCode != tc.status {
					t.Fatalf("attempt %d: got %s, want %d", i, resp.Status, tc.status)
				}
			}
		})
	}
}

func TestHostileResponseSplitting(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Foo", "a\r\nX-Injected: 1")
		hdr.Set("X-Lf", "b\nX-Injected: 2")
		hdr.Set("X-Nul", "c\x00d")
		hdr["Bad Name"] = []string{"v"}
		hdr["X-Evil\r\nX-Injected"] = []string{"3"}
		hdr["X-Colon:"] = []string{"v"}
		io.WriteString(w, "body")
	})
	_, addr := startHostile(t, h, nil)
	c, _ := hostileDial(t, addr)
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	hostileSend(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := range 2 { // the second answer shows the first did not desynchronise
		resp, body := hostileRead(t, br, "GET")
		if resp.StatusCode != http.StatusOK || body != "body" {
			t.Fatalf("answer %d: %s %q, want 200 \"body\"", i, resp.Status, body)
		}
		for _, k := range []string{"X-Injected", "Bad Name", "X-Evil", "X-Colon"} {
			if v, ok := resp.Header[k]; ok {
				t.Errorf("answer %d has a field %s: %q", i, k, v)
			}
		}
		if v := resp.Header.Get("X-Foo"); !strings.HasPrefix(v, "a") || !strings.Contains(v, "X-Injected: 1") {
			t.Errorf("answer %d: X-Foo is %q, want the value on one line", i, v)
		}
	}
	for _, bad := range []string{"\nX-Injected", "Bad Name", "X-Evil", "X-Colon", "\x00"} {
		if bytes.Contains(raw.Bytes(), []byte(bad)) {
			t.Errorf("the raw answer holds %q:\n%q", bad, raw.Bytes())
		}
	}
}

// TestHostileResponseFieldControls: a field value a handler set with
// control characters other than line breaks must still make a response
// that clients read; net/http's client and this package's RoundTripper
// both refuse a value with control characters.
func TestHostileResponseFieldControls(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ctl", "a\x01b\x1bc\x7fd")
		io.WriteString(w, "body")
	})
	_, addr := startHostile(t, h, nil)
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the response does not parse: %v", err)
	}
	if v := resp.Header.Get("X-Ctl"); !strings.HasPrefix(v, "a") || !strings.HasSuffix(v, "d") {
		t.Errorf("X-Ctl is %q", v)
	}
}

func TestHostileContentLengthMismatch(t *testing.T) {
	t.Parallel()
	writeErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		switch r.URL.Path {
		case "/long":
			_, err := w.Write(bytes.Repeat([]byte("L"), 20))
			writeErr <- err
		case "/short":
			w.Write([]byte("short"))
		}
	})
	_, addr := startHostile(t, h, nil)
	for _, path := range []string{"/long", "/short"} {
		c, br := hostileDial(t, addr)
		hostileSend(t, c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if resp.ContentLength != 10 {
			t.Errorf("%s: Content-Length %d, want the declared 10", path, resp.ContentLength)
		}
		if b, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: reading the body gave %q, %v; want io.ErrUnexpectedEOF", path, b, err)
		}
		hostileExpectClosed(t, br)
	}
	select {
	case err := <-writeErr:
		if !errors.Is(err, http.ErrContentLength) {
			t.Errorf("writing past the declared length: %v, want http.ErrContentLength", err)
		}
	default:
		t.Errorf("the /long handler never wrote")
	}
}

func TestHostileMalformedChunkedBody(t *testing.T) {
	t.Parallel()
	manyTrailers := strings.Repeat("X-Trailer: "+strings.Repeat("t", 90)+"\r\n", 100)
	for _, tc := range []struct{ name, body string }{
		{"chunk size not hex", "zz\r\nhello\r\n0\r\n\r\n"},
		{"empty chunk size", "\r\nhello\r\n0\r\n\r\n"},
		{"chunk size overflows", "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{"bare LF after chunk size", "5\nhello\r\n0\r\n\r\n"},
		{"chunk longer than its size", "3\r\nhello\r\n0\r\n\r\n"},
		{"trailer over MaxHeaderBytes", "5\r\nhello\r\n0\r\n" + manyTrailers + "\r\n"},
		{"trailer line longer than the read buffer", "5\r\nhello\r\n0\r\nX-T: " + strings.Repeat("t", 5000) + "\r\n\r\n"},
		{"body ends early", "5\r\nhel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readErr := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				readErr <- err
				w.WriteHeader(http.StatusBadRequest)
			})
			_, addr := startHostile(t, h, func(s *httpengine.Server) { s.MaxHeaderBytes = 4096 })
			c, br := hostileDial(t, addr)
			hostileSend(t, c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body)
			if tc.name == "body ends early" {
				c.(*net.TCPConn).CloseWrite()
			}
			// Whatever answer comes, the connection must then close.
			if resp, err := http.ReadResponse(br, nil); err == nil {
				io.Copy(io.Discard, resp.Body)
			} else if !hostileIsClosed(err) {
				t.Fatalf("reading the answer: %v", err)
			}
			hostileExpectClosed(t, br)
			select {
			case err := <-readErr:
				if err == nil {
					t.Errorf("the handler read the body without an error")
				}
			default:
				t.Errorf("the handler never ran")
			}
		})
	}
}

func TestHostilePipelining(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, nil)
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"+
		"GET /4 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i, want := range []string{"/1 ", "/2 abc", "/3 "} {
		resp, body := hostileRead(t, br, "GET")
		if resp.StatusCode != http.StatusOK || body != want {
			t.Fatalf("answer %d: %s %q, want 200 %q", i+1, resp.Status, body, want)
		}
		if resp.Close != (i == 2) {
			t.Errorf("answer %d: Connection: close is %v", i+1, resp.Close)
		}
	}
	hostileExpectClosed(t, br) // /4 comes after Connection: close: not served
}

// TestHostilePipelinedPartialRequest sends a request and the first half of
// the next one in one write: the answer to the first must come while the
// server waits for the rest of the second, not after it.
func TestHostilePipelinedPartialRequest(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, nil)
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHo")
	if resp, body := hostileRead(t, br, "GET"); resp.StatusCode != http.StatusOK || body != "/1 " {
		t.Fatalf("first answer %s %q, want 200 \"/1 \"", resp.Status, body)
	}
	hostileSend(t, c, "st: x\r\n\r\n")
	if resp, body := hostileRead(t, br, "GET"); resp.StatusCode != http.StatusOK || body != "/2 " {
		t.Fatalf("second answer %s %q, want 200 \"/2 \"", resp.Status, body)
	}
}

// TestHostileHTTP10TransferEncoding: RFC 9112 section 6.1 says an HTTP/1.0
// message with Transfer-Encoding has faulty framing, and the server must
// close the connection after it: a proxy in front may have read it
// differently (HTTP/1.0 knows no chunked coding).
func TestHostileHTTP10TransferEncoding(t *testing.T) {
	t.Parallel()
	_, addr := startHostile(t, hostileEcho, nil)
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\n"+
		"GET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := hostileRead(t, br, "POST")
	if resp.StatusCode == http.StatusOK && !resp.Close {
		t.Errorf("got %s %q, kept alive; want 400, or the connection closed after it", resp.Status, body)
	}
	hostileExpectClosed(t, br)
}

// TestHostileAbsoluteFormHost: with a request target in absolute form the
// server must take the host from the target, ignoring Host (RFC 9112
// section 3.2.2), as net/http does; otherwise a proxy and the handler
// disagree on which host a request is for.
func TestHostileAbsoluteFormHost(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host)
	})
	_, addr := startHostile(t, h, nil)
	c, br := hostileDial(t, addr)
	hostileSend(t, c, "GET http://target.example/x HTTP/1.1\r\nHost: header.example\r\n\r\n")
	if _, body := hostileRead(t, br, "GET"); body != "target.example" {
		t.Errorf("the handler saw Host %q, want %q from the request target", body, "target.example")
	}
}

// hostileAcceptCounter tells of every connection its Server accepted.
type hostileAcceptCounter struct {
	net.Listener
	accepted chan struct{}
}

func (l hostileAcceptCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	return c, err
}

// TestHostileShutdownAbandonedConns opens many connections, half of them
// silent and half stopped in the middle of a head, then shuts the server
// down: silent ones are idle and closed at once, the others end when their
// ReadHeaderTimeout fires. Close ends all of them at once.
func TestHostileShutdownAbandonedConns(t *testing.T) {
	t.Parallel()
	const n = 200
	for _, tc := range []struct {
		name              string
		readHeaderTimeout time.Duration
		stop              func(*httpengine.Server) error
	}{
		{"Shutdown", 100 * time.Millisecond, func(s *httpengine.Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.Shutdown(ctx)
		}},
		{"Close", 0, (*httpengine.Server).Close},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			counted := hostileAcceptCounter{ln, make(chan struct{}, n)}
			srv := &httpengine.Server{Handler: hostileEcho, ReadHeaderTimeout: tc.readHeaderTimeout}
			done := hostileServe(t, srv, counted)
			t.Cleanup(func() { srv.Close() })
			readers := make([]*bufio.Reader, n)
			for i := range n {
				c, br := hostileDial(t, ln.Addr().String())
				if i%2 == 1 {
					hostileSend(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-")
				}
				readers[i] = br
			}
			for range n {
				<-counted.accepted
			}
			if err := tc.stop(srv); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Fatalf("Serve returned %v", err)
			}
			for _, br := range readers {
				hostileExpectClosed(t, br)
			}
		})
	}
}

// TestHostileShutdownPipelined shuts the server down while a handler runs
// that already wrote its whole answer, with the next request waiting in the
// connection's buffer: the answer must still reach the client in full.
func TestHostileShutdownPipelined(t *testing.T) {
	t.Parallel()
	inHandler := make(chan struct{})
	closing := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
		if r.URL.Path == "/first" {
			close(inHandler)
			<-closing
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httpengine.Server{Handler: h}
	done := hostileServe(t, srv, ln)
	t.Cleanup(func() { srv.Close() })

	c, br := hostileDial(t, ln.Addr().String())
	hostileSend(t, c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inHandler
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	<-done // Serve returned: the server is closing
	close(closing)

	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the answer to the request in flight was lost: %v", err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "hello" {
		t.Errorf("answer %s %q, %v; want 200 \"hello\"", resp.Status, b, err)
	}
	if r2, err := http.ReadResponse(br, nil); err == nil {
		// Serving the waiting request too is fine, if the connection
		// then closes.
		io.Copy(io.Discard, r2.Body)
	}
	hostileExpectClosed(t, br)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
