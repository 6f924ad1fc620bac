package interop_test

import (
	"context"

	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	xmlcodec "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// codings records, for every request a handler serves, the request's
// Content-Encoding and Accept-Encoding and the response's Content-Encoding,
// as "request|accept|response".
type codings struct {
	mu  sync.Mutex
	got []string
}

func (c *codings) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		c.mu.Lock()
		c.got = append(c.got, r.Header.Get("Content-Encoding")+"|"+r.Header.Get("Accept-Encoding")+"|"+w.Header().Get("Content-Encoding"))
		c.mu.Unlock()
	})
}

func (c *codings) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// pyGzipClient calls a polyrpc server with CPython's xmlrpc.client, which
// asks for gzip replies (accept_gzip_encoding) and, with encode_threshold
// 0, gzips every request: a small call and a large one, whose reply is over
// the server's threshold of 1024 bytes.
const pyGzipClient = `
import sys, xmlrpc.client


class GzipTransport(xmlrpc.client.Transport):
    encode_threshold = 0


proxy = xmlrpc.client.ServerProxy(sys.argv[1], transport=GzipTransport(), allow_none=True)
assert proxy.demo.add(2, 3) == 5
big = "polyrpc " * 1000
assert proxy.demo.echo(big) == big
print("ok", flush=True)
`

// TestPythonXMLRPCClientGzip: CPython's xmlrpc.client gzips its requests
// (encode_threshold=0) and reads gzip replies, against a polyrpc server on
// each of its engines: the server reads the requests and answers the large
// call in gzip, the small one as it is.
func TestPythonXMLRPCClientGzip(t *testing.T) {
	t.Parallel()
	s := must(rpc.NewServer())
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"polyrpc", "net/http"} {
		for _, py := range pytest.All(t) {
			t.Run(engine+"/"+py.Version, func(t *testing.T) {
				t.Parallel()
				rec := &codings{}
				hs := must(httprpc.NewServer(rec.wrap(must(httprpc.NewHandler(s))), httprpc.WithEngine(engine)))
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				go hs.Serve(ln)
				t.Cleanup(func() { hs.Close() })
				if out := py.Run(t, time.Minute, pyGzipClient, "http://"+ln.Addr().String()+"/RPC2"); out != "ok\n" {
					t.Errorf("python printed %q", out)
				}
				if got, want := rec.take(), []string{"gzip|gzip|", "gzip|gzip|gzip"}; !slices.Equal(got, want) {
					t.Errorf("codings (request|accept|reply) %q, want %q", got, want)
				}
			})
		}
	}
}

// TestGoClientToPythonXMLRPCServerGzip: CPython's SimpleXMLRPCServer gzips
// replies over its threshold (1400 bytes) for a client that asks, as
// polyrpc's client always does, and reads gzip requests, which polyrpc's
// client sends from WithCompressThreshold's size on.
func TestGoClientToPythonXMLRPCServerGzip(t *testing.T) {
	t.Parallel()
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			port := py.Start(t, pyXMLRPCServer)
			var mu sync.Mutex
			var got []string // request|reply Content-Encoding
			record := func(rt http.RoundTripper) http.RoundTripper {
				return roundTripper(func(r *http.Request) (*http.Response, error) {
					resp, err := rt.RoundTrip(r)
					if err == nil {
						mu.Lock()
						got = append(got, r.Header.Get("Content-Encoding")+"|"+resp.Header.Get("Content-Encoding"))
						mu.Unlock()
					}
					return resp, err
				})
			}
			c := must(httprpc.NewClient("http://127.0.0.1:"+port+"/RPC2", xmlcodec.New(),
				httprpc.WithCompressThreshold(1000), httprpc.WithWrapper(record)))
			t.Cleanup(func() { c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, v := range []string{"small", strings.Repeat("polyrpc ", 1000)} {
				var echoed string
				if err := c.Call(ctx, "py.echo", &echoed, v); err != nil || echoed != v {
					t.Errorf("py.echo of %d bytes: %d bytes, %v", len(v), len(echoed), err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{"|", "gzip|gzip"}; !slices.Equal(got, want) {
				t.Errorf("codings (request|reply) %q, want %q", got, want)
			}
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
