package httpengine

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The RoundTripper speaks HTTP/1.1 alone: to servers that also speak
// HTTP/2 on the same listener, by ALPN over TLS or by prior knowledge in
// cleartext, it offers http/1.1 alone, whatever its TLSClientConfig offers,
// and they answer in HTTP/1.1.

// clientH2Server starts a net/http server that speaks HTTP/1.1 and HTTP/2
// (h2 by ALPN over TLS, offering serverProtos, and h2c by prior knowledge in
// cleartext), answering with the protocol of the request and its body.
func clientH2Server(t *testing.T, useTLS bool, serverProtos []string) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Proto+" "+string(b))
	}))
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetHTTP2(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	if useTLS {
		s.EnableHTTP2 = true
		s.TLS = &tls.Config{NextProtos: serverProtos}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func TestClientOffersHTTP11Only(t *testing.T) {
	for _, tc := range []struct {
		name         string
		tls          bool
		serverProtos []string
		clientProtos []string // the caller's TLSClientConfig's
		negotiated   string
	}{
		{name: "cleartext, h2c on the listener"},
		{name: "TLS, h2 and http/1.1", tls: true, serverProtos: []string{"h2", "http/1.1"}, negotiated: "http/1.1"},
		{name: "TLS, h2 and http/1.1, the caller offers h2", tls: true, serverProtos: []string{"h2", "http/1.1"}, clientProtos: []string{"h2", "http/1.1"}, negotiated: "http/1.1"},
		{name: "TLS, h2 and http/1.1, the caller offers h2 alone", tls: true, serverProtos: []string{"h2", "http/1.1"}, clientProtos: []string{"h2"}, negotiated: "http/1.1"},
		// Go's server then negotiates nothing, and speaks HTTP/1.1.
		{name: "TLS, h2 alone", tls: true, serverProtos: []string{"h2"}, negotiated: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := clientH2Server(t, tc.tls, tc.serverProtos)
			for _, pipeline := range []int{0, 4} {
				rt := rtFor(t, s)
				rt.Pipeline = pipeline
				if tc.clientProtos != nil {
					rt.TLSClientConfig.NextProtos = tc.clientProtos
				}
				for range 2 {
					resp, body := rtDo(t, rt, http.MethodPost, s.URL, []byte("call"))
					if resp.StatusCode != 200 || string(body) != "HTTP/1.1 call" || resp.Proto != "HTTP/1.1" {
						t.Fatalf("pipeline %d: %s %s %q, want HTTP/1.1 200 \"HTTP/1.1 call\"", pipeline, resp.Proto, resp.Status, body)
					}
					if tc.tls && (resp.TLS == nil || resp.TLS.NegotiatedProtocol != tc.negotiated) {
						t.Fatalf("pipeline %d: TLS state %+v, want %q negotiated", pipeline, resp.TLS, tc.negotiated)
					}
				}
				if tc.clientProtos != nil && strings.Join(rt.TLSClientConfig.NextProtos, ",") != strings.Join(tc.clientProtos, ",") {
					t.Errorf("the caller's TLSClientConfig was modified: NextProtos %q", rt.TLSClientConfig.NextProtos)
				}
			}
		})
	}
}
