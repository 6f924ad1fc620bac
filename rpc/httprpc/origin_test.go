package httprpc_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// TestHandlerCrossOrigin: a request that a browser marks as coming from a
// page of another origin (Sec-Fetch-Site, or Origin against Host) gets 403,
// unless its origin is allowed; requests of tools, which send neither, and
// same-origin ones are served.
func TestHandlerCrossOrigin(t *testing.T) {
	s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	strict := newHandler(t, s)
	allowing := newHandler(t, s, httprpc.WithAllowOrigin("https://app.example", "http://localhost:3000"))
	for _, tt := range []struct {
		name       string
		method     string
		header     map[string]string
		wantStatus int // of the strict handler
		allowed    int // of the allowing one
	}{
		{"tool", "POST", nil, 200, 200},
		{"same origin", "POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8000"}, 200, 200},
		{"typed by the user", "POST", map[string]string{"Sec-Fetch-Site": "none"}, 200, 200},
		{"cross-site", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, 403},
		{"same-site", "POST", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://other.127.0.0.1"}, 403, 403},
		{"old browser, other origin", "POST", map[string]string{"Origin": "https://evil.example"}, 403, 403},
		{"old browser, same origin", "POST", map[string]string{"Origin": "http://127.0.0.1:8000"}, 200, 200},
		{"allowed origin", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"}, 403, 200},
		{"allowed origin, old browser", "POST", map[string]string{"Origin": "http://localhost:3000"}, 403, 200},
		{"allowed origin, other port", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example:8443"}, 403, 403},
		{"preflight", "OPTIONS", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 204, 204},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range []struct {
				h    *httprpc.Handler
				want int
			}{{strict, tt.wantStatus}, {allowing, tt.allowed}} {
				r := httptest.NewRequest(tt.method, "http://127.0.0.1:8000/", strings.NewReader("call 1 add 1 2"))
				r.Header.Set("Content-Type", lineType)
				for k, v := range tt.header {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if w.Code != h.want {
					t.Errorf("status %d, want %d: %s", w.Code, h.want, w.Body)
				}
			}
		})
	}
}

// TestHandlerDNSRebinding: on a loopback address, a browser's request (one
// with Origin or Sec-Fetch-Site) for a Host that is a DNS name other than
// localhost (and not an allowed origin's host) gets 403: a page of that
// name, rebound to 127.0.0.1, is same-origin for the browser. Elsewhere any
// Host is served, and so is a tool's request, which a reverse proxy may send
// with its upstream's name.
func TestHandlerDNSRebinding(t *testing.T) {
	s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	strict := newHandler(t, s)
	allowing := newHandler(t, s, httprpc.WithAllowOrigin("https://App.Example:8443"))
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}
	loopback6 := &net.TCPAddr{IP: net.IPv6loopback, Port: 8000}
	public := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8000}
	for _, tt := range []struct {
		name       string
		local      net.Addr
		host       string
		wantStatus int // of the strict handler
		allowed    int // of the allowing one
	}{
		{"IPv4", loopback, "127.0.0.1:8000", 200, 200},
		{"IPv4, no port", loopback, "127.0.0.1", 200, 200},
		{"IPv6", loopback6, "[::1]:8000", 200, 200},
		{"localhost", loopback, "localhost:8000", 200, 200},
		{"localhost in capitals", loopback, "LOCALHOST", 200, 200},
		{"no Host", loopback, "", 200, 200},
		{"a name", loopback, "evil.example:8000", 403, 403},
		{"a name, IPv6", loopback6, "evil.example", 403, 403},
		{"a name under localhost", loopback, "localhost.evil.example", 403, 403},
		{"an allowed origin's host", loopback, "app.example:8000", 403, 200},
		{"public address", public, "evil.example:8000", 200, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range []struct {
				h    *httprpc.Handler
				want int
			}{{strict, tt.wantStatus}, {allowing, tt.allowed}} {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("call 1 add 1 2"))
				r.Host = tt.host
				r.Header.Set("Content-Type", lineType)
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tt.local))
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if w.Code != 200 {
					t.Errorf("a tool's request: status %d, want 200: %s", w.Code, w.Body)
				}
				for _, browser := range []map[string]string{
					{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + tt.host},
					{"Origin": "http://" + tt.host}, // an old browser
					{"Sec-Fetch-Site": "same-origin"},
				} {
					r := r.Clone(r.Context())
					r.Body = io.NopCloser(strings.NewReader("call 1 add 1 2"))
					for k, v := range browser {
						r.Header.Set(k, v)
					}
					w := httptest.NewRecorder()
					h.h.ServeHTTP(w, r)
					if w.Code != h.want {
						t.Errorf("a browser's request %v: status %d, want %d: %s", browser, w.Code, h.want, w.Body)
					}
				}
			}
		})
	}
}

// TestServerDNSRebinding: the same over a socket, with the Host a client
// sends.
func TestServerDNSRebinding(t *testing.T) {
	s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	url := serve(t, newHandler(t, s))
	for _, tt := range []struct {
		host string
		want int
	}{
		{"", 200}, // the URL's: 127.0.0.1:port
		{"localhost", 200},
		{"rebound.example", 403},
	} {
		r, err := http.NewRequest(http.MethodPost, url, strings.NewReader("call 1 add 1 2"))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", lineType)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if tt.host != "" {
			r.Host = tt.host
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %q: status %d, want %d", tt.host, resp.StatusCode, tt.want)
		}
	}
}
