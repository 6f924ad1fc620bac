package httpengine_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// FuzzRoundTripperResponse has a server answer two requests with the fuzz
// bytes, whatever they are, over an in-memory connection, with and without
// pipelining: the RoundTripper must return or fail, never hang or panic,
// and a body it returns must read to an end.
func FuzzRoundTripperResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil the end",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length : 2\r\n\r\nok",
		"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"garbage\r\n\r\n",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, answer []byte, pipelined bool) {
		rt := &httpengine.RoundTripper{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				client, server := net.Pipe()
				go func() {
					defer server.Close()
					// Take in what the client writes, and answer once.
					go io.Copy(io.Discard, server)
					server.Write(answer)
				}()
				return client, nil
			},
		}
		if pipelined {
			rt.Pipeline, rt.PipelineConns = 4, 1
		}
		defer rt.CloseIdleConnections()
		for range 2 {
			req, _ := http.NewRequest(http.MethodPost, "http://fuzz.example/", strings.NewReader("call"))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			io.Copy(&buf, io.LimitReader(resp.Body, int64(len(answer))+1))
			resp.Body.Close()
			if buf.Len() > len(answer) {
				t.Fatalf("a body longer than all the server sent: %d > %d", buf.Len(), len(answer))
			}
		}
	})
}
