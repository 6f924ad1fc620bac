package httpengine_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// TestRoundTripperProxy sends a request that Proxy routes through a proxy,
// and one that it does not: the first reaches the proxy in absolute form
// (sent by net/http's Transport), the second goes straight to its server.
func TestRoundTripperProxy(t *testing.T) {
	direct := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "direct")
	}))
	defer direct.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy sees the whole URL in the request line.
		io.WriteString(w, "proxied "+r.RequestURI)
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	rt := &httpengine.RoundTripper{Proxy: func(r *http.Request) (*url.URL, error) {
		if r.URL.Host == "proxied.example" {
			return proxyURL, nil
		}
		return nil, nil
	}}
	defer rt.CloseIdleConnections()
	client := &http.Client{Transport: rt}
	for target, want := range map[string]string{
		"http://proxied.example/RPC2": "proxied http://proxied.example/RPC2",
		direct.URL + "/RPC2":          "direct",
	} {
		resp, err := client.Post(target, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: got %q, want %q", target, b, want)
		}
	}
}
