package httprpc_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibbed(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflated(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, b []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return string(out)
}

// serveRequest serves one request with h and returns the recorded response.
func serveRequest(h http.Handler, body io.Reader, size int64, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", body)
	r.ContentLength = size
	r.Header.Set("Content-Type", lineType)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandlerReadsCompressedBodies: a request body in gzip or deflate (the
// zlib format RFC 9110 names, or raw deflate as some send) is decoded, as
// Python's xmlrpc.client sends it; identity is no coding.
func TestHandlerReadsCompressedBodies(t *testing.T) {
	t.Parallel()
	s := newRPCServer(t, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
	h := newHandler(t, s)
	msg := []byte(`call 7 echo "` + strings.Repeat("compressible ", 200) + `"`)
	want := `ok 7 "` + strings.Repeat("compressible ", 200) + `"`
	for _, tt := range []struct {
		coding string
		body   []byte
	}{
		{"gzip", gzipped(t, msg)},
		{"x-gzip", gzipped(t, msg)},
		{"GZip", gzipped(t, msg)},
		{"gzip, identity", gzipped(t, msg)},
		{"deflate", zlibbed(t, msg)},
		{"deflate", deflated(t, msg)},
		{"identity", msg},
		{"", msg},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/% x/chunked=%v", tt.coding, tt.body[:2], chunked), func(t *testing.T) {
				size := int64(len(tt.body))
				if chunked {
					size = -1
				}
				w := serveRequest(h, bytes.NewReader(tt.body), size, "Content-Encoding", tt.coding)
				if w.Code != http.StatusOK || w.Body.String() != want {
					t.Errorf("%d %.80q, want 200 %.80q", w.Code, w.Body, want)
				}
				if got := s.Budget().Used(); got != 0 {
					t.Errorf("%d bytes of the budget held after the call", got)
				}
			})
		}
	}
}

// TestHandlerRefusesUnknownCodings: a body in a coding the handler cannot
// read gets 415, naming the codings it reads in Accept-Encoding (RFC 9110,
// section 12.5.3), and one that is not in its coding gets 400, never a
// codec's parse error.
func TestHandlerRefusesUnknownCodings(t *testing.T) {
	t.Parallel()
	h := newHandler(t, newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }}))
	msg := []byte("call 1 add 1 2")
	gz := gzipped(t, msg)
	for _, tt := range []struct {
		name     string
		coding   string
		body     []byte
		wantCode int
		wantText string
	}{
		{"brotli", "br", msg, 415, `httprpc: unsupported Content-Encoding "br": request bodies are read in gzip, deflate or identity`},
		{"compress", "compress", msg, 415, `unsupported Content-Encoding "compress"`},
		{"stacked", "deflate, gzip", gz, 415, `unsupported Content-Encoding "deflate, gzip"`},
		{"not gzip", "gzip", msg, 400, "httprpc: reading the request body in gzip: gzip: invalid header"},
		{"cut short", "gzip", gz[:len(gz)-5], 400, "httprpc: reading the request body in gzip: unexpected EOF"},
		{"bad checksum", "gzip", append(gz[:len(gz)-8:len(gz)-8], 0, 0, 0, 0, 14, 0, 0, 0), 400, "gzip: invalid checksum"},
		{"trailing garbage", "gzip", append(gz[:len(gz):len(gz)], "call 2 add 3 4"...), 400, "gzip: invalid header"},
		{"empty", "gzip", nil, 400, "httprpc: reading the request body in gzip: EOF"},
		{"not deflate", "deflate", []byte{0xff, 0xff, 0xff}, 400, "httprpc: reading the request body in deflate: flate: corrupt input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := serveRequest(h, bytes.NewReader(tt.body), int64(len(tt.body)), "Content-Encoding", tt.coding)
			if w.Code != tt.wantCode || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("%d %q, want %d %q", w.Code, w.Body, tt.wantCode, tt.wantText)
			}
			if got := w.Header().Get("Accept-Encoding"); tt.wantCode == 415 && got != "gzip, deflate" {
				t.Errorf("Accept-Encoding %q, want gzip, deflate", got)
			}
		})
	}
}

// TestHandlerCompressedBodyLimit: a compressed body is bounded by the
// message limit as it comes and as it is decoded: a zip bomb of 256 MiB
// (250 KB in gzip) gets 413 after at most the limit's bytes were decoded,
// costing little memory, and its decoded bytes counted in the memory budget:
// one the budget cannot hold gets 413 too, however small in gzip.
func TestHandlerCompressedBodyLimit(t *testing.T) {
	const limit = 1 << 20
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 256 {
		zw.Write(zeros)
	}
	zw.Close()
	if bomb.Len() >= limit {
		t.Fatalf("a bomb of %d bytes in gzip", bomb.Len())
	}
	// 96 KiB in its budget of 256 KiB, three times over: more than it holds.
	fits := gzipped(t, []byte(`call 1 echo "`+strings.Repeat("a", 96<<10)+`"`))

	echo := map[string]any{"echo": func(s string) (string, error) { return s, nil }}
	s := newRPCServer(t, echo)
	h := newHandler(t, s, httprpc.WithMaxMessageSize(limit))
	sSmall := newRPCServer(t, echo, rpc.WithCodecs(lineCodec{}), rpc.WithMaxMemory(256<<10))
	hSmall := newHandler(t, sSmall, httprpc.WithMaxMessageSize(limit))
	for _, tt := range []struct {
		name     string
		s        *rpc.Server
		h        http.Handler
		body     []byte
		size     int64
		wantText string
	}{
		{"bomb", s, h, bomb.Bytes(), int64(bomb.Len()), "httprpc: request body larger than 1048576 bytes, in gzip or decoded"},
		{"chunked bomb", s, h, bomb.Bytes(), -1, "httprpc: request body larger than 1048576 bytes, in gzip or decoded"},
		{"compressed body over the limit", s, h, make([]byte, limit+1), limit + 1, "httprpc: request body larger than 1048576 bytes"},
		{"over the budget once decoded", sSmall, hSmall, fits, int64(len(fits)), "httprpc: request body larger than the server's memory budget can hold"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, h := tt.s, tt.h
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w := serveRequest(h, bytes.NewReader(tt.body), tt.size, "Content-Encoding", "gzip")
			runtime.ReadMemStats(&after)
			if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("%d %q, want 413 %q", w.Code, w.Body, tt.wantText)
			}
			// A buffer grown to the limit by doubling (4 MiB allocated in
			// all, as for a chunked body of that size), and a decoder; not
			// the 256 MiB of the bomb.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*limit {
				t.Errorf("%d bytes allocated for a body bounded to %d", alloc, limit)
			}
			if got := s.Budget().Used(); got != 0 {
				t.Errorf("%d bytes of the budget held after the request", got)
			}
		})
	}
}

// TestHandlerCompressesReplies: a reply of at least the threshold (1024 by
// default) is gzipped for a client whose Accept-Encoding accepts gzip at
// least as much as identity (q-values honoured), or refuses identity; such
// replies say Vary: Accept-Encoding; an incompressible one goes as it is.
func TestHandlerCompressesReplies(t *testing.T) {
	t.Parallel()
	s := newRPCServer(t, map[string]any{
		"echo":  func(s string) (string, error) { return s, nil },
		"noise": func(n int64) (string, error) { return noise(int(n)), nil },
	})
	h := newHandler(t, s)
	hTiny := newHandler(t, s, httprpc.WithCompressThreshold(10))
	hOff := newHandler(t, s, httprpc.WithCompressThreshold(math.MaxInt))
	small := `call 1 echo "` + strings.Repeat("s", 900) + `"`
	large := `call 1 echo "` + strings.Repeat("l", 1100) + `"`
	for _, tt := range []struct {
		name     string
		h        http.Handler
		call     string
		accept   []string // Accept-Encoding fields
		wantGzip bool
		wantVary bool
	}{
		{"large, gzip", h, large, []string{"gzip"}, true, true},
		{"small, gzip", h, small, []string{"gzip"}, false, false},
		{"large, no Accept-Encoding", h, large, nil, false, true},
		{"large, empty Accept-Encoding", h, large, []string{""}, false, true},
		{"large, Python's", h, large, []string{"gzip"}, true, true},
		{"large, curl's", h, large, []string{"deflate, gzip, br, zstd"}, true, true},
		{"large, browsers'", h, large, []string{"gzip, deflate, br"}, true, true},
		{"large, x-gzip", h, large, []string{"x-gzip"}, true, true},
		{"large, upper case", h, large, []string{"GZIP;Q=1.0"}, true, true},
		{"large, two fields", h, large, []string{"br", "gzip;q=0.8"}, true, true},
		{"large, any", h, large, []string{"*"}, true, true},
		{"large, gzip refused", h, large, []string{"gzip;q=0, identity"}, false, true},
		{"large, gzip refused by any", h, large, []string{"*;q=0"}, false, true},
		{"large, gzip q=0.000", h, large, []string{"gzip; q=0.000"}, false, true},
		{"large, identity preferred", h, large, []string{"gzip;q=0.5, identity;q=0.9"}, false, true},
		{"large, gzip preferred", h, large, []string{"gzip;q=0.9, identity;q=0.5"}, true, true},
		{"large, weight unreadable", h, large, []string{"gzip;q=2"}, false, true},
		{"large, deflate only", h, large, []string{"deflate"}, false, true},
		{"small, identity refused", h, small, []string{"gzip, identity;q=0"}, true, true},
		{"small, identity refused by any", h, small, []string{"gzip, *;q=0"}, true, true},
		{"large, nothing acceptable", h, large, []string{"br, identity;q=0"}, false, true},
		{"threshold 10", hTiny, `call 1 echo "` + strings.Repeat("t", 200) + `"`, []string{"gzip"}, true, true},
		{"below threshold 10", hTiny, `call 1 echo ""`, []string{"gzip"}, false, false},
		{"threshold MaxInt", hOff, large, []string{"gzip, identity;q=0"}, false, false},
		{"incompressible", hTiny, "call 1 noise 12", []string{"gzip"}, false, true},
		{"incompressible, identity refused", hTiny, "call 1 noise 12", []string{"gzip, identity;q=0"}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			for _, a := range tt.accept {
				hdr = append(hdr, "Accept-Encoding", a)
			}
			w := serveRequest(tt.h, strings.NewReader(tt.call), int64(len(tt.call)), hdr...)
			if w.Code != http.StatusOK {
				t.Fatalf("%d %q", w.Code, w.Body)
			}
			if got := w.Header().Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %s for %d bytes", got, w.Body.Len())
			}
			if got := w.Header().Values("Vary"); tt.wantVary != (len(got) == 1 && got[0] == "Accept-Encoding") {
				t.Errorf("Vary %q", got)
			}
			body := w.Body.String()
			if got := w.Header().Get("Content-Encoding"); (got == "gzip") != tt.wantGzip {
				t.Fatalf("Content-Encoding %q", got)
			}
			if tt.wantGzip {
				body = gunzip(t, w.Body.Bytes())
			}
			if !strings.HasPrefix(body, "ok 1 ") {
				t.Errorf("reply %.40q", body)
			}
		})
	}
	if got := s.Budget().Used(); got != 0 {
		t.Errorf("%d bytes of the budget held after the calls", got)
	}
}

// noise returns n random letters, which gzip cannot shrink much.
func noise(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.N(94) + 33)
		if b[i] == '"' || b[i] == '\\' {
			b[i] = 'x'
		}
	}
	return string(b)
}

// gzipRecorder is a client wrapper that records what each request and
// response said of their codings.
type gzipRecorder struct {
	mu       sync.Mutex
	requests []string // Content-Encoding, Accept-Encoding of each request
	replies  []string // Content-Encoding of each response
}

func (g *gzipRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		g.mu.Lock()
		g.requests = append(g.requests, r.Header.Get("Content-Encoding")+"|"+r.Header.Get("Accept-Encoding"))
		g.mu.Unlock()
		resp, err := rt.RoundTrip(r)
		if err == nil {
			g.mu.Lock()
			g.replies = append(g.replies, resp.Header.Get("Content-Encoding"))
			g.mu.Unlock()
		}
		return resp, err
	})
}

func (g *gzipRecorder) take() (requests, replies []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	requests, replies = g.requests, g.replies
	g.requests, g.replies = nil, nil
	return requests, replies
}

// TestClientGzip: a client asks for gzip replies and decodes them, on each
// of its engines, and gzips requests from WithCompressThreshold's size on,
// which it does not do by default.
func TestClientGzip(t *testing.T) {
	t.Parallel()
	s := newRPCServer(t, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
	own := serve(t, newHandler(t, s))
	netHTTP := serve(t, newHandler(t, s), httprpc.WithEngine("net/http"))
	large, small := strings.Repeat("l", 5000), "s"
	for _, tt := range []struct {
		name string
		url  string
		opts []httprpc.Option
		zip  bool // requests of 5000 bytes go in gzip
	}{
		{"own engine", own, nil, false},
		{"own engine, pipelined", own, []httprpc.Option{httprpc.WithPipelining(4)}, false},
		{"net/http", own, []httprpc.Option{httprpc.WithRoundTripper(&http.Transport{})}, false},
		{"own engine to net/http", netHTTP, nil, false},
		{"HTTP/2 to net/http", netHTTP, []httprpc.Option{httprpc.WithHTTP2()}, false},
		{"gzipped requests", own, []httprpc.Option{httprpc.WithCompressThreshold(1000)}, true},
		{"gzipped requests, pipelined", own, []httprpc.Option{httprpc.WithCompressThreshold(1000), httprpc.WithPipelining(4)}, true},
		{"gzipped requests, HTTP/2 to net/http", netHTTP, []httprpc.Option{httprpc.WithCompressThreshold(1000), httprpc.WithHTTP2()}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &gzipRecorder{}
			c := newClient(t, tt.url, lineCodec{}, append(tt.opts, httprpc.WithWrapper(rec.wrap))...)
			for _, v := range []string{large, small} {
				var got string
				if err := c.Call(context.Background(), "echo", &got, v); err != nil || got != v {
					t.Fatalf("echo of %d bytes: %.20q, %v", len(v), got, err)
				}
			}
			requests, replies := rec.take()
			want := []string{"|gzip", "|gzip"}
			if tt.zip {
				want[0] = "gzip|gzip"
			}
			if fmt.Sprint(requests) != fmt.Sprint(want) {
				t.Errorf("requests' codings %q, want %q", requests, want)
			}
			if fmt.Sprint(replies) != fmt.Sprint([]string{"gzip", ""}) {
				t.Errorf("replies' codings %q", replies)
			}
		})
	}
}

// TestClientGzipFallback: a server that does not read gzip requests (415, as
// polyrpc answered before it did) gets the call again as it is, and every
// call after it.
func TestClientGzipFallback(t *testing.T) {
	t.Parallel()
	var refused atomic.Int64
	s := newRPCServer(t, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
	h := newHandler(t, s)
	old := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "" {
			refused.Add(1)
			w.Header().Set("Accept-Encoding", "identity")
			http.Error(w, "unsupported Content-Encoding", http.StatusUnsupportedMediaType)
			return
		}
		h.ServeHTTP(w, r)
	})
	rec := &gzipRecorder{}
	c := newClient(t, serve(t, old), lineCodec{}, httprpc.WithCompressThreshold(10), httprpc.WithWrapper(rec.wrap))
	for range 3 {
		var got string
		if err := c.Call(context.Background(), "echo", &got, strings.Repeat("x", 100)); err != nil || len(got) != 100 {
			t.Fatalf("echo: %.20q, %v", got, err)
		}
	}
	requests, _ := rec.take()
	if want := []string{"gzip|gzip", "|gzip", "|gzip", "|gzip"}; fmt.Sprint(requests) != fmt.Sprint(want) {
		t.Errorf("requests' codings %q, want %q", requests, want)
	}
	if refused.Load() != 1 {
		t.Errorf("%d gzip requests refused, want 1", refused.Load())
	}
}

// TestClientReplyCodings: a reply in a coding the client did not ask for is
// a clear error, not a codec's parse error; a gzip reply is bounded by the
// client's limit once decoded; an error status's body is decoded too.
func TestClientReplyCodings(t *testing.T) {
	t.Parallel()
	reply := []byte(`ok 1 "` + strings.Repeat("z", 10000) + `"`)
	zipped := gzipped(t, reply)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", lineType)
		switch r.URL.Path {
		case "/br":
			w.Header().Set("Content-Encoding", "br")
			w.Write([]byte("\x8b\x02\x80ok 1 nil\x03"))
		case "/deflate":
			w.Header().Set("Content-Encoding", "deflate")
			w.Write(zlibbed(t, []byte("ok 1 nil")))
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(zipped)
		case "/gzip-chunked":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(zipped[:10])
			w.(http.Flusher).Flush()
			w.Write(zipped[10:])
		case "/not-gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(reply)
		case "/error":
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusBadGateway)
			w.Write(gzipped(t, []byte("the upstream is down")))
		}
	}))
	t.Cleanup(ts.Close)
	for _, tt := range []struct {
		path     string
		opts     []httprpc.Option
		wantText string // in the error; "" for none
		wantIs   error
	}{
		{path: "/br", wantText: "httprpc: reply in content-encoding br, which the client did not ask for"},
		{path: "/deflate", wantText: "httprpc: reply in content-encoding deflate, which the client did not ask for"},
		{path: "/gzip"},
		{path: "/gzip", opts: []httprpc.Option{httprpc.WithPipelining(2)}},
		{path: "/gzip-chunked"},
		{path: "/gzip", opts: []httprpc.Option{httprpc.WithMaxMessageSize(5000)}, wantText: "httprpc: reply too large: over the limit of 5000 bytes once decoded from gzip", wantIs: rpc.ErrLimitExceeded},
		{path: "/gzip", opts: []httprpc.Option{httprpc.WithMaxMessageSize(5000), httprpc.WithPipelining(2)}, wantText: "once decoded from gzip", wantIs: rpc.ErrLimitExceeded},
		{path: "/gzip-chunked", opts: []httprpc.Option{httprpc.WithMaxMessageSize(5000)}, wantText: "once decoded from gzip", wantIs: rpc.ErrLimitExceeded},
		{path: "/gzip", opts: []httprpc.Option{httprpc.WithMaxMessageSize(50)}, wantText: "httprpc: reply too large: " + strconv.Itoa(len(zipped)) + " bytes in gzip, over the limit of 50", wantIs: rpc.ErrLimitExceeded},
		{path: "/not-gzip", wantText: "httprpc: reading the reply in gzip: gzip: invalid header"},
		{path: "/error", wantText: "httprpc: 502 Bad Gateway: the upstream is down"},
	} {
		t.Run(fmt.Sprint(tt.path, len(tt.opts)), func(t *testing.T) {
			c := newClient(t, ts.URL+tt.path, lineCodec{}, tt.opts...)
			var got string
			err := c.Call(context.Background(), "echo", &got, "x")
			switch {
			case tt.wantText == "" && (err != nil || len(got) != 10000):
				t.Errorf("%.20q, %v", got, err)
			case tt.wantText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantText)):
				t.Errorf("error %v, want one containing %q", err, tt.wantText)
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Errorf("error %v, want %v", err, tt.wantIs)
			}
			if e, ok := errors.AsType[*rpc.Error](err); ok && e.Code == rpc.CodeParseError {
				t.Errorf("a parse error: %v", err)
			}
		})
	}
}

// FuzzHandlerCodings sends bodies in any Content-Encoding with any
// Accept-Encoding: each gets a clear status (200, 204, 400 for a body not in
// its coding, 413, 415 for a coding not read), a reply in gzip only when
// the client accepts it, with a length that fits, and the memory budget is
// given back.
func FuzzHandlerCodings(f *testing.F) {
	msg := []byte("call 1 echo \"" + strings.Repeat("ab", 20) + "\"")
	for _, seed := range []struct {
		coding, accept string
		body           []byte
	}{
		{"gzip", "gzip", gzipped(f, msg)},
		{"deflate", "gzip;q=0.5, identity;q=0", zlibbed(f, msg)},
		{"deflate", "*", deflated(f, msg)},
		{"x-gzip", "", gzipped(f, []byte("note record \"x\""))},
		{"br", "br", msg},
		{"", "identity;q=0", msg},
		{"gzip, gzip", "gzip", gzipped(f, gzipped(f, msg))},
	} {
		f.Add(seed.coding, seed.accept, seed.body)
	}
	s := newRPCServer(f, map[string]any{
		"echo":   func(s string) (string, error) { return s, nil },
		"record": func(string) error { return nil },
	})
	h := newHandler(f, s, httprpc.WithMaxMessageSize(64), httprpc.WithCompressThreshold(16))
	f.Fuzz(func(t *testing.T, coding, accept string, body []byte) {
		w := serveRequest(h, bytes.NewReader(body), int64(len(body)), "Content-Encoding", coding, "Accept-Encoding", accept)
		switch w.Code {
		case http.StatusOK:
			got := w.Body.Bytes()
			if w.Header().Get("Content-Encoding") == "gzip" {
				if !strings.Contains(strings.ToLower(accept), "gzip") && !strings.Contains(accept, "*") {
					t.Errorf("a reply in gzip for Accept-Encoding %q", accept)
				}
				got = []byte(gunzip(t, got))
			}
			if len(got) == 0 || w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %s for %d bytes", w.Header().Get("Content-Length"), w.Body.Len())
			}
		case http.StatusNoContent, http.StatusUnsupportedMediaType:
		case http.StatusBadRequest:
			if !strings.Contains(w.Body.String(), "httprpc: reading the request body in ") {
				t.Errorf("400 %q", w.Body)
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 64 && !strings.Contains(w.Body.String(), "or decoded") {
				t.Errorf("413 for %d bytes: %q", len(body), w.Body)
			}
		default:
			t.Errorf("status %d", w.Code)
		}
		if used := s.Budget().Used(); used != 0 {
			t.Errorf("%d bytes of the budget held after the request", used)
		}
	})
}
