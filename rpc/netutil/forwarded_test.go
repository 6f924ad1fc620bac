package netutil_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/netutil"
)

// TestForwardedFor: from a trusted proxy, the client is the right-most
// address of X-Forwarded-For that is not trusted, with port 0; from any
// other source, or with an entry that is no address where the walk
// reaches it, the request is served as it came.
func TestForwardedFor(t *testing.T) {
	for _, tt := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"one hop", "10.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7:0"},
		{"spoofed entries are ignored", "10.0.0.1:5000", []string{"1.1.1.1, 203.0.113.7"}, "203.0.113.7:0"},
		{"trusted hops are skipped", "10.0.0.1:5000", []string{"1.1.1.1, 203.0.113.7, 10.0.0.5, 2001:db8:1::9"}, "203.0.113.7:0"},
		{"several fields", "10.0.0.1:5000", []string{"1.1.1.1", "203.0.113.7, 10.0.0.5"}, "203.0.113.7:0"},
		{"all trusted: the left-most", "10.0.0.1:5000", []string{"10.0.0.9, 10.0.0.5"}, "10.0.0.9:0"},
		{"IPv6", "10.0.0.1:5000", []string{"2001:db8::7"}, "[2001:db8::7]:0"},
		{"IPv6 in brackets", "10.0.0.1:5000", []string{"[2001:db8::7]"}, "[2001:db8::7]:0"},
		{"IPv6 with a port", "10.0.0.1:5000", []string{"[2001:db8::7]:443"}, "[2001:db8::7]:0"},
		{"IPv4 with a port", "10.0.0.1:5000", []string{"203.0.113.7:1234"}, "203.0.113.7:0"},
		{"IPv4-mapped", "10.0.0.1:5000", []string{"::ffff:203.0.113.7"}, "203.0.113.7:0"},
		{"empty entries", "10.0.0.1:5000", []string{" 203.0.113.7 ,, 10.0.0.5 , "}, "203.0.113.7:0"},
		{"garbage left of the client", "10.0.0.1:5000", []string{"garbage, 203.0.113.7"}, "203.0.113.7:0"},
		{"an IPv6 proxy", "[2001:db8:1::5]:5000", []string{"203.0.113.7"}, "203.0.113.7:0"},
		{"an IPv4-mapped proxy", "[::ffff:10.0.0.1]:5000", []string{"203.0.113.7"}, "203.0.113.7:0"},
		{"untrusted source", "198.51.100.1:5000", []string{"203.0.113.7"}, "198.51.100.1:5000"},
		{"no header", "10.0.0.1:5000", nil, "10.0.0.1:5000"},
		{"empty header", "10.0.0.1:5000", []string{""}, "10.0.0.1:5000"},
		{"no address where the walk reaches", "10.0.0.1:5000", []string{"203.0.113.7, unknown"}, "10.0.0.1:5000"},
		{"an obfuscated id", "10.0.0.1:5000", []string{"_hidden"}, "10.0.0.1:5000"},
		{"a remote that is no address", "@", []string{"203.0.113.7"}, "@"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := netutil.ForwardedFor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.RemoteAddr
			}), prefixes("10.0.0.0/8", "2001:db8:1::/48"))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			r.Header["X-Forwarded-For"] = tt.xff
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("RemoteAddr %q, want %q", got, tt.want)
			}
			if r.RemoteAddr != tt.remote {
				t.Errorf("the request given was changed: %q", r.RemoteAddr)
			}
		})
	}
}

// TestForwardedForNoneTrusted: with no valid prefix, the handler is h.
func TestForwardedForNoneTrusted(t *testing.T) {
	h := http.NotFoundHandler()
	if got := netutil.ForwardedFor(h, nil); got == nil {
		t.Fatal("nil handler")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	var got string
	netutil.ForwardedFor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }),
		nil).ServeHTTP(httptest.NewRecorder(), r)
	if got != "10.0.0.1:1" {
		t.Errorf("RemoteAddr %q with nothing trusted", got)
	}
}
