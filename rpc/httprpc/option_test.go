package httprpc_test

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// TestOptionErrors: an option for another constructor, an invalid value and
// a combination that cannot work are errors at construction, never ignored.
func TestOptionErrors(t *testing.T) {
	s := newRPCServer(t, nil)
	rt := http.DefaultTransport
	same := func(r http.RoundTripper) http.RoundTripper { return r }
	handler := func(opts ...httprpc.Option) error {
		_, err := httprpc.NewHandler(s, opts...)
		return err
	}
	server := func(opts ...httprpc.Option) error {
		_, err := httprpc.NewServer(http.NotFoundHandler(), opts...)
		return err
	}
	client := func(opts ...httprpc.Option) error {
		c, err := httprpc.NewClient("http://127.0.0.1:1/", lineCodec{}, opts...)
		if err == nil {
			c.Close()
		}
		return err
	}
	transport := func(opts ...httprpc.Option) error {
		tr, err := httprpc.NewTransport("http://127.0.0.1:1/", opts...)
		if err == nil {
			tr.Close()
		}
		return err
	}
	tests := []struct {
		name    string
		err     error
		wantErr string // "" for none
	}{
		// Each side takes its own options.
		{"handler", handler(httprpc.WithMaxMessageSize(10), httprpc.WithLogger(slog.Default()), httprpc.WithAllowOrigin("https://app.example", "http://localhost:3000"), httprpc.WithAllowOrigin(), httprpc.WithCompressThreshold(1)), ""},
		{"engine net/http", server(httprpc.WithEngine("net/http"), httprpc.WithReadTimeout(1), httprpc.WithWriteTimeout(1), httprpc.WithIdleTimeout(1), httprpc.WithMaxConns(1), httprpc.WithMaxConnsPerIP(1)), ""},
		{"engine polyrpc", server(httprpc.WithEngine("polyrpc")), ""},
		{"engine default", server(httprpc.WithEngine("")), ""},
		{"HTTP/2 client", client(httprpc.WithHTTP2(), httprpc.WithTLSConfig(&tls.Config{}), httprpc.WithIdleTimeout(1), httprpc.WithMaxIdleConns(1), httprpc.WithCompressThreshold(1)), ""},
		{"server", server(httprpc.WithReadTimeout(1), httprpc.WithWriteTimeout(1), httprpc.WithIdleTimeout(1), httprpc.WithMaxConns(1), httprpc.WithMaxConnsPerIP(1), httprpc.WithLogger(nil)), ""},
		{"client", client(httprpc.WithMaxMessageSize(10), httprpc.WithTLSConfig(&tls.Config{}), httprpc.WithPipelining(2), httprpc.WithIdleTimeout(1), httprpc.WithMaxIdleConns(1), httprpc.WithHeader("X-A", "b"), httprpc.WithWrapper(same), httprpc.WithLogger(nil)), ""},
		{"transport", transport(httprpc.WithRoundTripper(rt), httprpc.WithWrapper(same)), ""},
		{"zero values", client(httprpc.WithMaxMessageSize(0), httprpc.WithPipelining(0), httprpc.WithIdleTimeout(0), httprpc.WithMaxIdleConns(0), httprpc.WithTLSConfig(nil), httprpc.WithCompressThreshold(0)), ""},

		// The wrong side.
		{"server option to a handler", handler(httprpc.WithMaxConns(1)), "httprpc: WithMaxConns is an option of NewServer, not of NewHandler"},
		{"client option to a handler", handler(httprpc.WithPipelining(2)), "httprpc: WithPipelining is an option of NewClient and NewTransport, not of NewHandler"},
		{"handler option to a server", server(httprpc.WithMaxMessageSize(1)), "httprpc: WithMaxMessageSize is an option of NewHandler, NewClient and NewTransport, not of NewServer"},
		{"server option to a client", client(httprpc.WithReadTimeout(1)), "httprpc: WithReadTimeout is an option of NewServer, not of NewClient"},
		{"client option to a server", server(httprpc.WithHeader("X-A", "b")), "not of NewServer"},
		{"logger to a transport", transport(httprpc.WithLogger(nil)), "httprpc: WithLogger is an option of NewHandler, NewServer and NewClient, not of NewTransport"},
		{"engine to a handler", handler(httprpc.WithEngine("net/http")), "httprpc: WithEngine is an option of NewServer, not of NewHandler"},
		{"engine to a client", client(httprpc.WithEngine("net/http")), "httprpc: WithEngine is an option of NewServer, not of NewClient"},
		{"HTTP/2 to a server", server(httprpc.WithHTTP2()), "httprpc: WithHTTP2 is an option of NewClient and NewTransport, not of NewServer"},
		{"compression to a server", server(httprpc.WithCompressThreshold(1)), "httprpc: WithCompressThreshold is an option of NewHandler, NewClient and NewTransport, not of NewServer"},

		// Invalid values.
		{"negative size", handler(httprpc.WithMaxMessageSize(-1)), "httprpc: WithMaxMessageSize(-1): negative"},
		{"negative timeout", server(httprpc.WithReadTimeout(-1)), "httprpc: WithReadTimeout(-1ns): negative"},
		{"negative conns", server(httprpc.WithMaxConns(-1)), "negative"},
		{"negative conns per IP", server(httprpc.WithMaxConnsPerIP(-1)), "httprpc: WithMaxConnsPerIP(-1): negative"},
		{"negative threshold", handler(httprpc.WithCompressThreshold(-1)), "httprpc: WithCompressThreshold(-1): negative"},
		{"unknown engine", server(httprpc.WithEngine("nginx")), `httprpc: WithEngine("nginx"): the engines are "polyrpc" and "net/http"`},
		{"compression header", client(httprpc.WithHeader("Accept-Encoding", "br")), "httprpc: WithHeader: Accept-Encoding is set by httprpc"},
		{"coding header", client(httprpc.WithHeader("content-encoding", "gzip")), "httprpc: WithHeader: Content-Encoding is set by httprpc"},
		{"origin option to a server", server(httprpc.WithAllowOrigin("https://a.example")), "httprpc: WithAllowOrigin is an option of NewHandler, not of NewServer"},
		{"origin with a path", handler(httprpc.WithAllowOrigin("https://a.example/")), `httprpc: WithAllowOrigin("https://a.example/"): an origin is scheme://host[:port]`},
		{"origin without a scheme", handler(httprpc.WithAllowOrigin("a.example")), "an origin is scheme://host[:port]"},
		{"origin wildcard", handler(httprpc.WithAllowOrigin("*")), "an origin is scheme://host[:port]"},
		{"negative depth", client(httprpc.WithPipelining(-1)), "negative"},
		{"negative idle", client(httprpc.WithMaxIdleConns(-1)), "negative"},
		{"server TLS without a certificate", server(httprpc.WithTLSConfig(&tls.Config{})), "httprpc: WithTLSConfig: no certificate to serve"},
		{"nil round tripper", client(httprpc.WithRoundTripper(nil)), "httprpc: WithRoundTripper(nil)"},
		{"nil wrapper", client(httprpc.WithWrapper(nil)), "httprpc: WithWrapper(nil)"},
		{"wrapper returning nil", client(httprpc.WithWrapper(func(http.RoundTripper) http.RoundTripper { return nil })), "the wrapper returned nil"},
		{"header name", client(httprpc.WithHeader("X A", "b")), "not a valid header field"},
		{"header value", client(httprpc.WithHeader("X-A", "b\r\nX-B: c")), "not a valid header field"},
		{"codec's header", client(httprpc.WithHeader("content-type", "text/plain")), "httprpc: WithHeader: Content-Type is set by httprpc"},
		{"framing header", client(httprpc.WithHeader("Transfer-Encoding", "chunked")), "Transfer-Encoding is set by httprpc"},

		// The own engine's options with another engine.
		{"TLS with a round tripper", client(httprpc.WithTLSConfig(&tls.Config{}), httprpc.WithRoundTripper(rt)), "httprpc: WithTLSConfig configures the client's own HTTP engine, which WithRoundTripper replaces"},
		{"round tripper with TLS", client(httprpc.WithRoundTripper(rt), httprpc.WithTLSConfig(nil)), "WithTLSConfig configures the client's own HTTP engine"},
		{"pipelining with a round tripper", client(httprpc.WithPipelining(4), httprpc.WithRoundTripper(rt)), "WithPipelining configures the client's own HTTP engine"},
		{"idle conns with a round tripper", client(httprpc.WithMaxIdleConns(4), httprpc.WithRoundTripper(rt)), "WithMaxIdleConns configures"},
		{"idle timeout with a round tripper", client(httprpc.WithIdleTimeout(4), httprpc.WithRoundTripper(rt)), "WithIdleTimeout configures"},
		{"HTTP/2 with a round tripper", client(httprpc.WithHTTP2(), httprpc.WithRoundTripper(rt)), "WithHTTP2 configures the client's own HTTP engine"},
		{"HTTP/2 with pipelining", client(httprpc.WithHTTP2(), httprpc.WithPipelining(2)), "httprpc: WithPipelining is an error with WithHTTP2, which multiplexes calls on one connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.wantErr == "" && tt.err != nil:
				t.Errorf("error %v", tt.err)
			case tt.wantErr != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", tt.err, tt.wantErr)
			}
		})
	}
}

// TestConstructorErrors: what cannot serve or call is refused at
// construction, not at the first request.
func TestConstructorErrors(t *testing.T) {
	noHTTPCodec := newRPCServer(t, nil, rpc.WithCodecs(streamCodec{lineCodec{}}))
	_, handlerErr := httprpc.NewHandler(noHTTPCodec)
	_, nilServerErr := httprpc.NewHandler(nil)
	_, nilHandlerErr := httprpc.NewServer(nil)
	_, nilCodecErr := httprpc.NewClient("http://127.0.0.1:1/", nil)
	_, streamCodecErr := httprpc.NewClient("http://127.0.0.1:1/", streamCodec{lineCodec{}})
	tr, err := httprpc.NewTransport("http://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, exchangeErr := tr.Exchange(t.Context(), streamCodec{lineCodec{}}, []byte("call 1 add 1 2"), false)
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"a server without HTTP codecs", handlerErr, "httprpc: NewHandler: the server has no codec with a media type"},
		{"a nil rpc server", nilServerErr, "httprpc: NewHandler: nil server"},
		{"a nil handler", nilHandlerErr, "httprpc: NewServer: nil handler"},
		{"a nil codec", nilCodecErr, "nil codec"},
		{"a codec without media types", streamCodecErr, "httprpc: NewClient: codec stream has no media type"},
		{"a transport's codec without media types", exchangeErr, "httprpc: codec stream has no media type"},
	}
	for _, u := range []struct{ url, want string }{
		{"localhost:1/x", "scheme must be http or https"},
		{"ftp://rpc.example/", "scheme must be http or https"},
		{"http:///RPC2", "has no host"},
		{"http://rpc.example/%zz", "invalid URL escape"},
	} {
		_, err := httprpc.NewClient(u.url, lineCodec{})
		tests = append(tests, struct {
			name    string
			err     error
			wantErr string
		}{"NewClient " + u.url, err, u.want})
		_, err = httprpc.NewTransport(u.url)
		tests = append(tests, struct {
			name    string
			err     error
			wantErr string
		}{"NewTransport " + u.url, err, u.want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", tt.err, tt.wantErr)
			}
		})
	}
}
