package httprpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

const lineType = "text/x-line-rpc"

// fixture is a test server over loopback with the line codec.
type fixture struct {
	*httptest.Server
	notes       chan string   // the argument of every "record" call
	slowStarted chan struct{} // a "slow" call began
	slowEnded   chan error    // the context error a "slow" call ended with

	mu    sync.Mutex
	conns []string // remote address of every new connection
}

func newFixture(t testing.TB, wrap func(http.Handler) http.Handler, opts ...httprpc.Option) *fixture {
	t.Helper()
	f := &fixture{
		notes:       make(chan string, 16),
		slowStarted: make(chan struct{}, 1),
		slowEnded:   make(chan error, 1),
	}
	s := newRPCServer(t, nil, rpc.WithCodecs(lineCodec{}, streamCodec{lineCodec{}}))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("add", func(a, b int64) (int64, error) { return a + b, nil }))
	must(s.Register("echo", func(s string) (string, error) { return s, nil }))
	must(s.Register("fail", func(msg string) error { return &rpc.Error{Code: 42, Message: msg} }))
	must(s.Register("record", func(s string) error { f.notes <- s; return nil }))
	must(s.Register("slow", func(ctx context.Context) error {
		f.slowStarted <- struct{}{}
		<-ctx.Done()
		f.slowEnded <- ctx.Err()
		return ctx.Err()
	}))
	must(s.Register("peer", describePeer))
	var h http.Handler = newHandler(t, s, opts...)
	if wrap != nil {
		h = wrap(h)
	}
	f.Server = httptest.NewUnstartedServer(h)
	f.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.mu.Lock()
			f.conns = append(f.conns, c.RemoteAddr().String())
			f.mu.Unlock()
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// describePeer describes the caller as
// "transport|network|address type|address|identity".
func describePeer(ctx context.Context) (string, error) {
	ci, ok := rpc.CallFromContext(ctx)
	if !ok || ci.Peer == nil {
		return "", errors.New("no peer")
	}
	p := ci.Peer
	if p.Addr == nil {
		return fmt.Sprintf("%s|||<nil>|%s", p.Transport, p.Identity), nil
	}
	return fmt.Sprintf("%s|%s|%T|%s|%s", p.Transport, p.Addr.Network(), p.Addr, p.Addr, p.Identity), nil
}

func (f *fixture) newConns() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.conns...)
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, url, contentType string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandlerMethods(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		method     string
		wantStatus int
	}{
		{http.MethodGet, http.StatusMethodNotAllowed},
		{http.MethodHead, http.StatusMethodNotAllowed},
		{http.MethodPut, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
		{http.MethodPatch, http.StatusMethodNotAllowed},
		{http.MethodOptions, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			resp, body := do(t, tt.method, f.URL, "", nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Allow"); got != "POST, OPTIONS" {
				t.Errorf("Allow %q", got)
			}
			switch tt.wantStatus {
			case http.StatusNoContent:
				// The stream codec has no media types and must not show.
				if got, want := resp.Header.Get("Accept-Post"), "text/x-line-rpc, application/x-line-rpc"; got != want {
					t.Errorf("Accept-Post %q, want %q", got, want)
				}
				if body != "" {
					t.Errorf("body %q", body)
				}
			case http.StatusMethodNotAllowed:
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q", ct)
				}
				if tt.method != http.MethodHead && !strings.Contains(body, "POST") {
					t.Errorf("body %q does not say POST", body)
				}
			}
		})
	}
}

func TestHandlerContentType(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantBody    string
	}{
		{"primary", "text/x-line-rpc", "call 1 add 2 3", 200, "ok 1 5"},
		{"alias", "application/x-line-rpc", "call 1 add 2 3", 200, "ok 1 5"},
		{"charset", "text/x-line-rpc; charset=utf-8", "call 1 add 2 3", 200, "ok 1 5"},
		{"case", "Text/X-Line-RPC; Charset=UTF-8", "call 1 add 2 3", 200, "ok 1 5"},
		{"bad parameter", "text/x-line-rpc; charset", "call 1 add 2 3", 200, "ok 1 5"},
		// A body without a type is never served: a web page may send one
		// anywhere without asking (no CORS preflight).
		{"untyped", "", "call 1 add 2 3", 415, ""},
		{"untyped after space", "", " \r\n\tcall 1 add 2 3", 415, ""},
		{"error in codec shape", lineType, "call 7 nosuch", 200, `err 7 -32601 "method not found: nosuch"`},
		{"unparseable in codec shape", lineType, "hello", 200, `err - -32700 "line: not a call"`},
		{"unsupported", "application/json", `{"x":1}`, 415, ""},
		{"stream codec not served", "application/octet-stream", "call 1 add 2 3", 415, ""},
		{"malformed", "text/;;", "call 1 add 2 3", 415, ""},
		{"not sniffable", "", `{"x":1}`, 415, ""},
		{"empty and untyped", "", "", 415, ""},
		{"blank and untyped", "", " \n ", 415, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := do(t, http.MethodPost, f.URL, tt.contentType, strings.NewReader(tt.body))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == http.StatusUnsupportedMediaType {
				if got, want := resp.Header.Get("Accept-Post"), "text/x-line-rpc, application/x-line-rpc"; got != want {
					t.Errorf("Accept-Post %q, want %q", got, want)
				}
				return
			}
			if body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if got := resp.Header.Get("Content-Type"); got != lineType {
				t.Errorf("Content-Type %q, want %q", got, lineType)
			}
			if resp.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(tt.wantBody))
			}
		})
	}
}

// unsized hides a reader's length from net/http, which then sends the body
// chunked.
type unsized struct{ io.Reader }

func TestHandlerBodyLimit(t *testing.T) {
	const limit = 64
	f := newFixture(t, nil, httprpc.WithMaxMessageSize(limit))
	ok := `call 1 echo "` + strings.Repeat("a", limit-len(`call 1 echo ""`)) + `"`
	over := `call 1 echo "` + strings.Repeat("a", limit+1-len(`call 1 echo ""`)) + `"`
	huge := `call 1 echo "` + strings.Repeat("a", 1<<20) + `"`
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
	}{
		{"at the limit", strings.NewReader(ok), 200},
		{"at the limit, chunked", unsized{strings.NewReader(ok)}, 200},
		{"one byte over", strings.NewReader(over), 413},
		{"one byte over, chunked", unsized{strings.NewReader(over)}, 413},
		{"huge", strings.NewReader(huge), 413},
		{"huge, chunked", unsized{strings.NewReader(huge)}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, f.URL, lineType, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == 413 {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q", ct)
				}
				if !strings.Contains(body, "64 bytes") {
					t.Errorf("body %q does not name the limit", body)
				}
			}
			// The server goes on serving, on a new connection if need be.
			resp, body = do(t, http.MethodPost, f.URL, lineType, strings.NewReader("call 2 add 1 1"))
			if resp.StatusCode != 200 || body != "ok 2 2" {
				t.Fatalf("next request: %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestHandlerNotifications(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantBody   string
		wantNotes  []string
	}{
		{"one", `note record "a"`, 204, "", []string{"a"}},
		{"batch of notifications", "note record \"b\"\nnote record \"c\"", 204, "", []string{"b", "c"}},
		{"batch with a call", "note record \"d\"\ncall 3 add 1 2", 200, "ok 3 3", []string{"d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, f.URL, lineType, strings.NewReader(tt.body))
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			got := map[string]bool{}
			for range tt.wantNotes {
				got[<-f.notes] = true
			}
			for _, n := range tt.wantNotes {
				if !got[n] {
					t.Errorf("notification %q not served (got %v)", n, got)
				}
			}
		})
	}
}

func TestHandlerPaths(t *testing.T) {
	s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	h := newHandler(t, s)
	mux := http.NewServeMux()
	mux.Handle("/{$}", h)
	mux.Handle("/RPC2", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for _, path := range []string{"/", "/RPC2"} {
		t.Run(path, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, ts.URL+path, lineType, strings.NewReader("call 1 add 20 22"))
			if resp.StatusCode != 200 || body != "ok 1 42" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestHandlerPeer(t *testing.T) {
	// Middleware standing for authentication: it names the caller.
	withIdentity := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := r.Header.Get("X-Identity"); id != "" {
				r = r.WithContext(rpc.WithPeer(r.Context(), &rpc.Peer{Identity: id}))
			}
			next.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, withIdentity)
	tests := []struct {
		name     string
		identity string
	}{
		{"anonymous", ""},
		{"identified", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []httprpc.Option
			if tt.identity != "" {
				opts = append(opts, httprpc.WithHeader("X-Identity", tt.identity))
			}
			c := newClient(t, f.URL, lineCodec{}, opts...)
			var got string
			if err := c.Call(context.Background(), "peer", &got); err != nil {
				t.Fatal(err)
			}
			conns := f.newConns()
			remote := conns[len(conns)-1]
			want := "http|tcp|*net.TCPAddr|" + remote + "|" + tt.identity
			if got != want {
				t.Errorf("peer %q, want %q", got, want)
			}
		})
	}
}

func TestHandlerRemoteAddr(t *testing.T) {
	h := newHandler(t, newRPCServer(t, map[string]any{"peer": describePeer}))
	unix := &net.UnixAddr{Name: "/run/rpc.sock", Net: "unix"}
	tests := []struct {
		name       string
		remoteAddr string
		local      net.Addr // the listener's address, as net/http gives it
		want       string
	}{
		{"ipv4", "192.0.2.1:1234", nil, "http|tcp|*net.TCPAddr|192.0.2.1:1234|"},
		{"ipv6", "[2001:db8::1]:80", nil, "http|tcp|*net.TCPAddr|[2001:db8::1]:80|"},
		{"ipv6 zone", "[fe80::1%eth0]:80", nil, "http|tcp|*net.TCPAddr|[fe80::1%eth0]:80|"},
		{"ipv4 mapped", "[::ffff:192.0.2.1]:5", nil, "http|tcp|*net.TCPAddr|192.0.2.1:5|"},
		{"unix socket", "@", unix, "http|unix|httprpc.textAddr|@|"},
		{"unknown", "", nil, "http|||<nil>|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("call 1 peer"))
			r.Header.Set("Content-Type", lineType)
			r.RemoteAddr = tt.remoteAddr
			if tt.local != nil {
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tt.local))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if want := "ok 1 " + strconv.Quote(tt.want); w.Body.String() != want {
				t.Errorf("got %s, want %s", w.Body, want)
			}
		})
	}
}

// FuzzHandler feeds the handler arbitrary Content-Types and bodies. The
// oracle: no panic, only the statuses the handler documents, a reply that
// is sized and typed as promised, and no untyped body served.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{lineType, "call 1 add 2 3"},
		{"Text/X-Line-RPC; charset=utf-8", "note record \"x\"\ncall 2 echo \"y\""},
		{"", " call 1 add 2 3"},
		{"", `{"x":1}`},
		{"text/;;", ""},
		{lineType, "call 1 echo \"" + strings.Repeat("a", 80) + "\""},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	s := newRPCServer(f, map[string]any{
		"add":    func(a, b int64) (int64, error) { return a + b, nil },
		"echo":   func(s string) (string, error) { return s, nil },
		"record": func(string) error { return nil },
	})
	h := newHandler(f, s, httprpc.WithMaxMessageSize(64))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header["Content-Type"] = []string{contentType}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			if got := w.Header().Get("Content-Type"); got != lineType {
				t.Errorf("Content-Type %q", got)
			}
			if got, want := w.Header().Get("Content-Length"), strconv.Itoa(w.Body.Len()); got != want || w.Body.Len() == 0 {
				t.Errorf("Content-Length %s for %d bytes", got, w.Body.Len())
			}
		case http.StatusNoContent:
			if w.Body.Len() != 0 {
				t.Errorf("204 with a body of %d bytes", w.Body.Len())
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 64 {
				t.Errorf("413 for %d bytes", len(body))
			}
		case http.StatusUnsupportedMediaType:
		default:
			t.Errorf("status %d", w.Code)
		}
		if contentType == "" && w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("status %d for an untyped body, want 415", w.Code)
		}
	})
}
