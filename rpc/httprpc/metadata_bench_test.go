package httprpc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
)

// BenchmarkHandlerMetadata measures the handler on a small call whose
// request carries a trace context as headers, as a traced client sends
// it, and a server interceptor that reads it as tracing.Server does
// (Call.MetadataValue), beside the same call without them.
func BenchmarkHandlerMetadata(b *testing.B) {
	for _, traced := range []bool{false, true} {
		name := "plain"
		if traced {
			name = "traceparent"
		}
		b.Run(name, func(b *testing.B) {
			read := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
				if call.MetadataValue("traceparent") == "x" || call.MetadataValue("tracestate") == "x" {
					return nil, nil
				}
				return next(ctx, call)
			}
			s := newRPCServer(b, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }},
				rpc.WithCodecs(lineCodec{}), rpc.WithInterceptors(read))
			h := newHandler(b, s)
			msg := []byte("call 1 add 40 2")
			body := &rewindable{b: msg}
			req := httptest.NewRequest(http.MethodPost, "/RPC2", body)
			req.Header.Set("Content-Type", lineType)
			req.Header.Set("User-Agent", "Go-http-client/1.1")
			req.Header.Set("Accept-Encoding", "gzip")
			if traced {
				req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				req.Header.Set("Polyrpc-Timeout-Ms", "1500")
			}
			req.ContentLength = int64(len(msg))
			req.RemoteAddr = "127.0.0.1:40000"
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				body.off = 0
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		})
	}
}
