package httpengine_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
	"github.com/polyrpc/polyrpc/internal/testcert"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startServer serves h with httpengine.Server on a loopback port and returns
// its base URL, the server and its listener.
func startServer(t testing.TB, h http.Handler, configure ...func(*httpengine.Server)) (string, *httpengine.Server, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	s := newServer(h)
	for _, f := range configure {
		f(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(cl) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return "http://" + ln.Addr().String(), s, cl
}

// newServer returns a server of h with the defaults that package httprpc
// gives its own.
func newServer(h http.Handler) *httpengine.Server {
	return &httpengine.Server{
		Handler:           h,
		ReadHeaderTimeout: httpengine.DefaultReadHeaderTimeout,
		ReadTimeout:       httpengine.DefaultReadTimeout,
		IdleTimeout:       httpengine.DefaultIdleTimeout,
		MaxHeaderBytes:    httpengine.DefaultMaxHeaderBytes,
	}
}

// echoHandler answers with the method, the path, the Host and the body.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Path", r.URL.Path)
	w.Header().Set("X-Query", r.URL.RawQuery)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
	w.Write(body)
}

func TestServerWithNetHTTPClient(t *testing.T) {
	url, _, ln := startServer(t, http.HandlerFunc(echoHandler))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, size := range []int{0, 1, 100, 4 << 10, 4<<10 + 1, 1 << 20} {
		body := bytes.Repeat([]byte("abcdefgh"), size/8+1)[:size]
		resp, err := client.Post(url+"/RPC2?x=1", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("size %d: reading: %v", size, err)
		}
		if resp.StatusCode != 200 || !bytes.Equal(got, body) {
			t.Fatalf("size %d: status %d, %d bytes back", size, resp.StatusCode, len(got))
		}
		h := resp.Header
		if h.Get("X-Method") != "POST" || h.Get("X-Path") != "/RPC2" || h.Get("X-Query") != "x=1" || h.Get("X-Length") != fmt.Sprint(size) {
			t.Errorf("size %d: the handler saw %v", size, h)
		}
		if h.Get("Date") == "" {
			t.Errorf("size %d: no Date field", size)
		}
		// Bodies that fit the held-back buffer get a length; longer ones
		// of unknown length are chunked.
		if size <= 4<<10 && resp.ContentLength != int64(size) {
			t.Errorf("size %d: Content-Length %d", size, resp.ContentLength)
		}
		if size > 4<<10 && (len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked") {
			t.Errorf("size %d: Transfer-Encoding %v", size, resp.TransferEncoding)
		}
	}
	if n := ln.n.Load(); n != 1 {
		t.Errorf("%d connections for sequential requests, want 1 kept alive", n)
	}

	// A chunked request body (unknown length) arrives whole.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("chunk one,"))
		pw.Write([]byte("chunk two"))
		pw.Close()
	}()
	resp, err := client.Post(url+"/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "chunk one,chunk two" || resp.Header.Get("X-Length") != "-1" {
		t.Errorf("chunked request: got %q, length %s", got, resp.Header.Get("X-Length"))
	}

	// HEAD gets the fields and no body; GET works too.
	resp, err = client.Head(url + "/h")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Method") != "HEAD" {
		t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestServerStatusesAndStreaming(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "short and stout", http.StatusTeapot)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/sniff", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html><body>hi</body></html>") })
	url, _, ln := startServer(t, mux)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	if resp, body := get("/nocontent"); resp.StatusCode != 204 || body != "" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("204: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := get("/teapot"); resp.StatusCode != 418 || body != "short and stout\n" {
		t.Errorf("418: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/stream"); body != "part 0;part 1;part 2;" || len(resp.TransferEncoding) == 0 {
		t.Errorf("flushed body %q, Transfer-Encoding %v", body, resp.TransferEncoding)
	}
	if resp, body := get("/sniff"); resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || body == "" {
		t.Errorf("sniffed Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if resp, _ := get("/missing"); resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	before := ln.n.Load()
	if resp, body := get("/close"); body != "bye" || !resp.Close {
		t.Errorf("Connection: close: %q, Close %v", body, resp.Close)
	}
	get("/nocontent")
	if n := ln.n.Load(); n != before+1 {
		t.Errorf("%d connections after a Connection: close response, want %d", n, before+1)
	}
}

// rawExchange writes req on a new connection and returns everything the
// server sends until it closes the connection.
func rawConn(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second)) // a guard against hangs only
	return nc, bufio.NewReader(nc)
}

func TestServerPipelinedRequests(t *testing.T) {
	url, _, _ := startServer(t, http.HandlerFunc(echoHandler))
	nc, br := rawConn(t, url)
	var reqs strings.Builder
	for i := range 5 {
		fmt.Fprintf(&reqs, "POST /p%d HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n%02d", i, i)
	}
	if _, err := io.WriteString(nc, reqs.String()); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != fmt.Sprintf("%02d", i) || resp.Header.Get("X-Path") != fmt.Sprintf("/p%d", i) {
			t.Errorf("response %d: %q for %s", i, b, resp.Header.Get("X-Path"))
		}
	}
}

func TestServerHTTP10(t *testing.T) {
	url, _, _ := startServer(t, http.HandlerFunc(echoHandler))
	// Keep-alive asked for: kept, and said so.
	nc, br := rawConn(t, url)
	io.WriteString(nc, "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMinor != 0 || string(b) != "abc" || resp.Close {
		t.Errorf("HTTP/1.0 keep-alive: %s %q close=%v", resp.Proto, b, resp.Close)
	}
	// Without keep-alive: the connection closes after the response.
	io.WriteString(nc, "GET /b HTTP/1.0\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	if !resp.Close {
		t.Error("HTTP/1.0 without keep-alive: connection not closed")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the last HTTP/1.0 response: %v, want EOF", err)
	}
}

func TestServerExpectContinue(t *testing.T) {
	url, _, _ := startServer(t, http.HandlerFunc(echoHandler))
	nc, br := rawConn(t, url)
	io.WriteString(nc, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 100 {
		t.Fatalf("first response %d, want 100 Continue", resp.StatusCode)
	}
	io.WriteString(nc, "hello")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Errorf("final response %d %q", resp.StatusCode, b)
	}
}

func TestServerShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})
	url, s, _ := startServer(t, h)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	// An idle kept-alive connection, and a call in flight.
	resp, err := client.Get(url + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	type result struct {
		body  string
		close bool
		err   error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{}}).Get(url + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{string(b), resp.Close, err}
	}()
	<-entered

	// Shutdown waits for the call: with a context that ends first it
	// reports the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with a call in flight and an ended context: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	r := <-slow
	if r.err != nil || r.body != "done" || !r.close {
		t.Errorf("the call in flight: %+v, want its body and Connection: close", r)
	}
	if _, err := client.Get(url + "/fast"); err == nil {
		t.Error("a request after Shutdown succeeded")
	}
}

func TestServerTLS(t *testing.T) {
	files := testcert.New(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "no TLS state", 500)
			return
		}
		io.WriteString(w, r.TLS.NegotiatedProtocol)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(h)
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	go s.Serve(ln)
	defer s.Close()
	// ALPN offers h2 first, and http/1.1 to a client without it.
	for _, tc := range []struct {
		protos *http.Protocols
		want   string
		major  int
	}{
		{protocols(true, false), "h2", 2},
		{protocols(false, true), "http/1.1", 1},
	} {
		conf := files.ClientConfig(t, false)
		if tc.major == 1 {
			conf.NextProtos = []string{"http/1.1"}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: conf, Protocols: tc.protos}}
		defer client.CloseIdleConnections()
		resp, err := client.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want || resp.ProtoMajor != tc.major {
			t.Errorf("over TLS: %d %s %q, want %q", resp.StatusCode, resp.Proto, b, tc.want)
		}
	}
}

// protocols returns the protocols a client or server speaks: HTTP/2 over
// TLS, and HTTP/1.
func protocols(h2, h1 bool) *http.Protocols {
	var p http.Protocols
	p.SetHTTP2(h2)
	p.SetHTTP1(h1)
	return &p
}

// TestServerConcurrentClients runs many clients at once, each on its own
// connections, and checks every answer.
func TestServerConcurrentClients(t *testing.T) {
	url, _, _ := startServer(t, http.HandlerFunc(echoHandler))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				want := fmt.Sprintf("g%d-i%d", g, i)
				resp, err := client.Post(url+"/", "text/plain", strings.NewReader(want))
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					t.Errorf("got %q, %v; want %q", b, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestServerAllocations bounds what the server allocates per request of
// its own: the request, its fields and the response writer. The handler
// allocates nothing, and the client is a raw connection that writes a
// canned request and reads a fixed-size response.
func TestServerAllocations(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = textPlain
		w.Write(okBody)
	})
	url, _, _ := startServer(t, h)
	nc, br := rawConn(t, url)
	req := []byte("POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	// Learn the response's size once; its Date field has a fixed width.
	nc.Write(req)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	var head bytes.Buffer
	resp.Header.Write(&head)
	buf := make([]byte, 4096)
	n := 0
	// One more round trip by hand to learn the exact byte count.
	nc.Write(req)
	for {
		k, err := br.Read(buf[n:])
		n += k
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasSuffix(buf[:n], okBody) {
			break
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		nc.Write(req)
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.1f allocations per request", allocs)
	// Measured: 10 (the head's string, the field map's two and its
	// values, the URL, the request, its body, the response writer, and
	// the two of its field map, which the handler fills). The bound
	// leaves room for runtime noise, not for another allocation per
	// request.
	if allocs > 10.5 {
		t.Errorf("%.1f allocations per request, want at most 10", allocs)
	}
}

var (
	textPlain = []string{"text/plain"}
	okBody    = []byte("ok")
)

// TestServerMaxConns serves at most MaxConns connections and holds back
// the next one, unaccepted (it waits in the listen backlog: a client sees a
// slow connect, not a reset), until one of those served ends. In a synctest
// bubble, over in-memory connections whose Dial returns once the server
// accepted, "unaccepted" and "until" are exact.
func TestServerMaxConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := httpengine.NewPipeListener()
		s := newServer(http.HandlerFunc(echoHandler))
		s.MaxConns = 2
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		get := func(nc net.Conn) error {
			if _, err := io.WriteString(nc, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				return err
			}
			_, err = io.ReadAll(resp.Body)
			return err
		}
		c1, c2 := ln.Dial(), ln.Dial()
		for i, c := range []net.Conn{c1, c2} {
			if err := get(c); err != nil {
				t.Fatalf("connection %d of 2: %v", i+1, err)
			}
		}
		dialed := make(chan net.Conn)
		go func() { dialed <- ln.Dial() }()
		synctest.Wait()
		select {
		case c3 := <-dialed:
			c3.Close()
			t.Fatal("a third connection was accepted with MaxConns 2")
		default:
		}
		// Once one ends, the server accepts the next, and serves it.
		c1.Close()
		c3 := <-dialed
		if err := get(c3); err != nil {
			t.Fatalf("the connection held back: %v", err)
		}
		for _, c := range []net.Conn{c2, c3} {
			c.Close()
		}
		s.Close()
		<-served
		time.Sleep(time.Second) // the server's watcher sees it closed
	})
}
