package httprpc

import (
	"net/http"
	"net/textproto"
	"testing"
)

// TestCanonicalKey: the header name of a metadata key is the one
// textproto gives, and a key that is not a metadata key is left to it.
func TestCanonicalKey(t *testing.T) {
	var buf [64]byte
	for _, key := range []string{"traceparent", "tracestate", "baggage", "x-request-id", "a", "-a", "a-", "a--b",
		"x-1a", "x.y_z-w", "polyrpc-timeout-ms", "0-9-z"} {
		got, ok := canonicalKey(buf[:0], key)
		if want := textproto.CanonicalMIMEHeaderKey(key); !ok || string(got) != want {
			t.Errorf("%q: %q, %v, want %q", key, got, ok, want)
		}
	}
	for _, key := range []string{"", "Traceparent", "a b", "ä", string(make([]byte, 65))} {
		if got, ok := canonicalKey(buf[:0], key); ok {
			t.Errorf("%q: %q, want it left to textproto", key, got)
		}
	}
}

// TestHeaderCarrierAllocs: looking up a key, present or not, and checking
// the request's headers cost no allocation.
func TestHeaderCarrierAllocs(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept-Language", "en")
	h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Set("X-Request-Id", "abc")
	c := &headerCarrier{req: h}
	if got := c.Get("traceparent"); got != h.Get("Traceparent") {
		t.Fatalf("traceparent: %q", got)
	}
	if got := c.Get("x-request-id"); got != "abc" {
		t.Fatalf("x-request-id: %q", got)
	}
	if got := c.Get("content-type"); got != "" {
		t.Fatalf("content-type, HTTP's own: %q", got)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = c.Get("traceparent")
		_ = c.Get("tracestate")
		_ = c.Validate()
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
