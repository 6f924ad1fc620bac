package httpengine

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The RoundTripper reads what RFC 9112 asks a user agent to read, and what
// net/http's Transport reads, where it used to fail: folded field values,
// white space before a field's colon, any number of interim responses, and
// heads over 64 KiB.

// clientTolerated are responses, each followed on its connection by rtOK,
// with the header that the RoundTripper reads from them and, where it
// differs, the one that net/http's Transport reads.
var clientTolerated = map[string]struct {
	response string
	header   http.Header // the fields besides Content-Length
	netHTTP  http.Header // net/http's, if it differs
}{
	"folded value": {
		response: "HTTP/1.1 200 OK\r\nX-A: b  \r\n   c\r\n\td\r\nX-B: e\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"X-A": {"b c d"}, "X-B": {"e"}},
	},
	"folded empty start": {
		response: "HTTP/1.1 200 OK\r\nX-A:\r\n b\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"X-A": {"b"}},
	},
	"folded twice the same field": {
		response: "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nX-A: d\r\n e\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"X-A": {"b c", "d e"}},
	},
	"space before colon": {
		response: "HTTP/1.1 200 OK\r\nx-a  : b\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"X-A": {"b"}},
		netHTTP:  http.Header{"x-a  ": {"b"}}, // kept, not canonical, out of Get's reach
	},
	"space before colon of Connection": {
		response: "HTTP/1.1 200 OK\r\nConnection : keep-alive\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"Connection": {"keep-alive"}},
		netHTTP:  http.Header{"Connection ": {"keep-alive"}},
	},
	"102 Processing, 50 times": {
		response: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 50) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{},
	},
	"100, 103s and 102s": {
		response: "HTTP/1.1 100 Continue\r\n\r\n" + strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n", 20) + "HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"X-A": {"b"}},
	},
	"head of 200 KiB": {
		response: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\nContent-Length: 2\r\n\r\nok",
		header:   http.Header{"X-Big": {strings.Repeat("a", 200<<10)}},
	},
	"head of 1000 KiB in 2000 fields": {
		response: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Big: "+strings.Repeat("a", 500)+"\r\n", 2000) + "Content-Length: 2\r\n\r\nok",
		header:   http.Header{"X-Big": strings.Split(strings.Repeat(strings.Repeat("a", 500)+" ", 2000-1)+strings.Repeat("a", 500), " ")},
	},
}

// clientTolerantServer answers a request for /NAME with clientTolerated's
// NAME response, and others with rtOK, on kept-alive connections.
func clientTolerantServer(t *testing.T) *rtRaw {
	return rtListen(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			name, _ := url.PathUnescape(strings.TrimPrefix(strings.Fields(r.line)[1], "/"))
			resp := rtOK
			if tc, ok := clientTolerated[name]; ok {
				resp = tc.response
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
}

func TestClientTolerantResponses(t *testing.T) {
	s := clientTolerantServer(t)
	for name, tc := range clientTolerated {
		t.Run(name, func(t *testing.T) {
			u := "http://" + s.addr + "/" + url.PathEscape(name)
			check := func(t *testing.T, rt http.RoundTripper, want http.Header) {
				t.Helper()
				for range 2 { // the connection is kept, and read right after
					resp, body := rtDo(t, rt, http.MethodPost, u, []byte("call"))
					delete(resp.Header, "Content-Length")
					if resp.StatusCode != 200 || string(body) != "ok" || !reflect.DeepEqual(resp.Header, want) {
						t.Fatalf("%s %q, header %.200q; want 200 \"ok\", %.200q", resp.Status, body, resp.Header, want)
					}
				}
			}
			before := s.accepted.Load()
			t.Run("RoundTripper", func(t *testing.T) { check(t, rtFor(t, nil), tc.header) })
			if n := s.accepted.Load() - before; n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			t.Run("pipelined", func(t *testing.T) {
				rt := &RoundTripper{Pipeline: 4, PipelineConns: 1}
				defer rt.CloseIdleConnections()
				check(t, rt, tc.header)
			})
			t.Run("net/http", func(t *testing.T) {
				want := tc.header
				if tc.netHTTP != nil {
					want = tc.netHTTP
				}
				tr := &http.Transport{}
				defer tr.CloseIdleConnections()
				check(t, tr, want)
			})
		})
	}
}

// TestClientInterimForLong: a server that sends 102 Processing every
// second, for a call that takes a minute: the call gets its answer. (The
// RoundTripper used to give up after 8 interim responses.)
func TestClientInterimForLong(t *testing.T) {
	for _, pipelined := range []bool{false, true} {
		name := "RoundTripper"
		if pipelined {
			name = "pipelined"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var servers sync.WaitGroup
				defer servers.Wait() // they end when their connection does
				rt := &RoundTripper{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, s := net.Pipe()
					servers.Go(func() {
						defer s.Close()
						br := bufio.NewReader(s)
						for {
							if _, err := rtReadRequest(br); err != nil {
								return
							}
							for range 60 {
								time.Sleep(time.Second)
								if _, err := io.WriteString(s, "HTTP/1.1 102 Processing\r\n\r\n"); err != nil {
									return
								}
							}
							if _, err := io.WriteString(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"); err != nil {
								return
							}
						}
					})
					return c, nil
				}}
				if pipelined {
					rt.Pipeline, rt.PipelineConns = 4, 1
				}
				defer rt.CloseIdleConnections()
				start := time.Now()
				resp, body := rtDo(t, rt, http.MethodPost, "http://slow.example/", []byte("call"))
				if resp.StatusCode != 200 || string(body) != "done" || time.Since(start) != time.Minute {
					t.Fatalf("%s %q after %v; want 200 \"done\" after a minute", resp.Status, body, time.Since(start))
				}
			})
		})
	}
}
