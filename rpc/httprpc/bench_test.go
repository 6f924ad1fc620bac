package httprpc_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the handler and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// rewindable is a request body that can be read again.
type rewindable struct {
	b   []byte
	off int
}

func (r *rewindable) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *rewindable) Close() error { return nil }

// BenchmarkHandler measures the handler alone on a small call: from the
// request to the reply, without sockets.
func BenchmarkHandler(b *testing.B) {
	s := newRPCServer(b, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	h := newHandler(b, s)
	msg := []byte("call 1 add 40 2")
	body := &rewindable{b: msg}
	req := httptest.NewRequest(http.MethodPost, "/RPC2", body)
	req.Header.Set("Content-Type", lineType)
	req.ContentLength = int64(len(msg))
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		body.off = 0
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
}

// BenchmarkRoundTrip measures a whole call over loopback HTTP, client,
// handler and server, with net/http's server and with httprpc.Server side by
// side.
func BenchmarkRoundTrip(b *testing.B) {
	s := newRPCServer(b, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	servers := []struct {
		name  string
		serve func(net.Listener, http.Handler) func()
	}{
		{"net-http", func(ln net.Listener, h http.Handler) func() {
			hs := &http.Server{Handler: h}
			go hs.Serve(ln)
			return func() { hs.Close() }
		}},
		{"httprpc", func(ln net.Listener, h http.Handler) func() {
			hs, err := httprpc.NewServer(h)
			if err != nil {
				b.Fatal(err)
			}
			go hs.Serve(ln)
			return func() { hs.Close() }
		}},
	}
	for _, srv := range servers {
		for _, pipeline := range []int{0, 16} {
			b.Run(fmt.Sprintf("server=%s/pipeline=%d", srv.name, pipeline), func(b *testing.B) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				defer srv.serve(ln, newHandler(b, s))()
				c := newClient(b, "http://"+ln.Addr().String()+"/RPC2", lineCodec{}, httprpc.WithPipelining(pipeline))
				benchCalls(b, c)
			})
		}
	}
}

func benchCalls(b *testing.B, c *rpc.Client) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		var sum int64
		for b.Loop() {
			if err := c.Call(ctx, "add", &sum, int64(40), int64(2)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32) // 64 goroutines on two cores, as bench/ runs
		b.RunParallel(func(pb *testing.PB) {
			var sum int64
			for pb.Next() {
				if err := c.Call(ctx, "add", &sum, int64(40), int64(2)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// numbers returns about n bytes of decimal int64s, comma separated: text
// that gzip shrinks to about half, as it does JSON arrays of numbers.
func numbers(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b []byte
	for len(b) < n {
		b = strconv.AppendInt(b, r.Int64(), 10)
		b = append(b, ',')
	}
	return string(b[:n])
}

// BenchmarkHandlerGzip measures what gzipping a reply costs the handler,
// for replies of 1 KiB and 64 KiB, against the same replies sent as they
// are.
func BenchmarkHandlerGzip(b *testing.B) {
	s := newRPCServer(b, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
	h := newHandler(b, s)
	for _, size := range []int{1 << 10, 64 << 10} {
		msg := []byte(`call 1 echo "` + numbers(size) + `"`)
		for _, coding := range []string{"identity", "gzip"} {
			b.Run(fmt.Sprintf("reply=%dKiB/%s", size>>10, coding), func(b *testing.B) {
				body := &rewindable{b: msg}
				req := httptest.NewRequest(http.MethodPost, "/RPC2", body)
				req.Header.Set("Content-Type", lineType)
				req.Header.Set("Accept-Encoding", coding)
				req.ContentLength = int64(len(msg))
				req.RemoteAddr = "127.0.0.1:40000"
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					body.off = 0
					clear(w.h)
					h.ServeHTTP(w, req)
				}
				if w.status != http.StatusOK || (w.h.Get("Content-Encoding") == "gzip") != (coding == "gzip") {
					b.Fatalf("status %d, Content-Encoding %q", w.status, w.h.Get("Content-Encoding"))
				}
			})
		}
	}
}

// BenchmarkRoundTripGzip measures calls whose replies are 1 KiB or 64 KiB
// over loopback, gzipped by the server (its default) and decoded by the
// client, against the same calls with a server that does not gzip.
func BenchmarkRoundTripGzip(b *testing.B) {
	s := newRPCServer(b, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
	for _, size := range []int{1 << 10, 64 << 10} {
		v := numbers(size)
		for _, coding := range []string{"identity", "gzip"} {
			b.Run(fmt.Sprintf("reply=%dKiB/%s", size>>10, coding), func(b *testing.B) {
				var opts []httprpc.Option
				if coding == "identity" {
					opts = append(opts, httprpc.WithCompressThreshold(math.MaxInt))
				}
				c := newClient(b, serve(b, newHandler(b, s, opts...))+"/RPC2", lineCodec{})
				ctx := context.Background()
				b.ReportAllocs()
				b.SetBytes(int64(size))
				var got string
				for b.Loop() {
					if err := c.Call(ctx, "echo", &got, v); err != nil {
						b.Fatal(err)
					}
				}
				if got != v {
					b.Fatalf("echo of %d bytes gave %d", len(v), len(got))
				}
			})
		}
	}
}
