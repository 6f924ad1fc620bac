package httpengine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzConn is a net.Conn over memory: reads come from in, at most chunk
// bytes at a time when chunk > 0, then io.EOF; writes go to out.
type fuzzConn struct {
	in    *bytes.Reader
	chunk int
	out   bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	return c.in.Read(p)
}

func (c *fuzzConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return fuzzAddr("server") }
func (c *fuzzConn) RemoteAddr() net.Addr             { return fuzzAddr("client") }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

type fuzzAddr string

func (a fuzzAddr) Network() string { return "mem" }
func (a fuzzAddr) String() string  { return string(a) }

// fuzzReplyFields are the fields FuzzServeConn's responses may have.
var fuzzReplyFields = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Date": true, "Connection": true,
	"Transfer-Encoding": true, "X-Reply": true, "X-Path": true,
}

// FuzzServeConn feeds arbitrary bytes to a server connection as all that a
// client sends, and checks that the connection's goroutine returns and that
// what it wrote is a well-formed sequence of HTTP responses: the interim
// 100 Continues, one answer per request the handler served, in order, and
// at most one refusal, last.
func FuzzServeConn(f *testing.F) {
	for _, seed := range []string{
		"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
		"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"GET /flush HTTP/1.1\r\nHost: x\r\n\r\nHEAD /flush HTTP/1.1\r\nHost: x\r\n\r\nGET /flush HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"\r\n\r\nGET http://h/p?q HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\nX-U: \x00\r\n\r\n",
		"GET /\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
		"GET /a%0d%0aX-Injected:%201%0a%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: other\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhel",
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(1))
		f.Add([]byte(seed), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var methods []string // of the requests the handler served, in order
		srv := &Server{
			MaxHeaderBytes: 1 << 10,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				methods = append(methods, r.Method)
				io.Copy(io.Discard, r.Body)
				w.Header().Set("X-Reply", strconv.Itoa(len(methods)))
				// The decoded path may hold line breaks and other
				// control characters: the server must neither let them
				// split the response nor send them.
				w.Header().Set("X-Path", r.URL.Path)
				if strings.Contains(r.URL.Path, "flush") {
					// Sent before the handler returns: chunked, or
					// up to the connection's end for HTTP/1.0.
					io.WriteString(w, "reply")
					w.(http.Flusher).Flush()
					io.WriteString(w, " "+strconv.Itoa(len(methods)))
					return
				}
				io.WriteString(w, "reply "+strconv.Itoa(len(methods)))
			}),
		}
		nc := &fuzzConn{in: bytes.NewReader(data), chunk: int(chunk)}
		c := newServerConn(srv, nc, nc.RemoteAddr(), context.Background())
		returned := make(chan struct{})
		go func() {
			defer close(returned)
			c.serve()
		}()
		select {
		case <-returned:
		case <-time.After(10 * time.Second): // a hang guard, not a threshold
			t.Fatalf("serve did not return for input %q", data)
		}
		if c.handedOff {
			// HTTP/2's preface: net/http's server has the connection
			// (and ends when its input does).
			srv.Close()
			return
		}

		out := nc.out.Bytes()
		br := bufio.NewReader(bytes.NewReader(out))
		served := 0
		for {
			if _, err := br.Peek(1); err == io.EOF {
				break
			}
			method := http.MethodGet
			if served < len(methods) && methods[served] == http.MethodHead {
				method = http.MethodHead
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				t.Fatalf("response %d does not parse: %v\ninput %q\noutput %q", served, err, data, out)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("response %d's body does not parse: %v\ninput %q\noutput %q", served, err, data, out)
			}
			for k := range resp.Header {
				if !fuzzReplyFields[k] {
					t.Fatalf("response %d has a field %q\ninput %q\noutput %q", served, k, data, out)
				}
			}
			if resp.StatusCode < 200 {
				if resp.StatusCode != http.StatusContinue || served >= len(methods) {
					t.Fatalf("unexpected interim response %s\ninput %q\noutput %q", resp.Status, data, out)
				}
				continue
			}
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Reply") == "" && resp.ContentLength == 0 {
				// The server's own answer to OPTIONS *.
				continue
			}
			if served == len(methods) {
				// The refusal of a request that could not be read: the
				// last thing the connection says.
				if resp.StatusCode < 400 || !resp.Close || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("refusal %s (close %v)\ninput %q\noutput %q", resp.Status, resp.Close, data, out)
				}
				if rest, _ := io.ReadAll(br); len(rest) > 0 {
					t.Fatalf("%q after the refusal\ninput %q\noutput %q", rest, data, out)
				}
				return
			}
			served++
			want := "reply " + strconv.Itoa(served)
			if method == http.MethodHead {
				want = ""
			}
			if resp.StatusCode != http.StatusOK || string(body) != want || resp.Header.Get("X-Reply") != strconv.Itoa(served) {
				t.Fatalf("response %d is %s %q, want 200 %q\ninput %q\noutput %q", served, resp.Status, body, want, data, out)
			}
		}
		if served != len(methods) {
			t.Fatalf("%d requests served, %d answered\ninput %q\noutput %q", len(methods), served, data, out)
		}
	})
}
