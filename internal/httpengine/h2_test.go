package httpengine_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
	"github.com/polyrpc/polyrpc/internal/testcert"
)

// h2Echo answers with the request's protocol and body, after checking that
// its context holds what net/http's does.
func h2Echo(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(http.ServerContextKey).(*http.Server); !ok {
			t.Errorf("%s request without http.ServerContextKey", r.Proto)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %s", r.Proto, body)
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over http:// URLs.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// post posts body to url and returns the answer's protocol and body.
func post(t *testing.T, client *http.Client, url, body string) (int, string) {
	t.Helper()
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ProtoMajor, string(b)
}

// TestServerHTTP2 serves HTTP/2 beside HTTP/1 on the same listener: over
// TLS, to a client that asks for h2 by ALPN, and in cleartext, to one that
// begins with HTTP/2's preface; many calls at once share one connection.
func TestServerHTTP2(t *testing.T) {
	files := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tls    bool
		client *http.Client
	}{
		{"h2", true, &http.Client{Transport: &http.Transport{TLSClientConfig: files.ClientConfig(t, false), Protocols: protocols(true, false)}}},
		{"h2c", false, h2cClient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _, ln := startServer(t, h2Echo(t), func(s *httpengine.Server) {
				if tc.tls {
					s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
				}
			})
			if tc.tls {
				url = "https" + strings.TrimPrefix(url, "http")
			}
			defer tc.client.CloseIdleConnections()
			// One call first: the client dials once for calls that wait
			// for a connection together.
			if major, got := post(t, tc.client, url+"/", "first"); major != 2 || got != "HTTP/2.0 first" {
				t.Fatalf("HTTP/%d %q", major, got)
			}
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					body := fmt.Sprintf("call %d", i)
					if major, got := post(t, tc.client, url+"/", body); major != 2 || got != "HTTP/2.0 "+body {
						t.Errorf("HTTP/%d %q", major, got)
					}
				})
			}
			wg.Wait()
			if n := ln.n.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			// HTTP/1 on the same listener.
			h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: files.ClientConfig(t, false)}}
			defer h1.CloseIdleConnections()
			if major, got := post(t, h1, url+"/", "one"); major != 1 || got != "HTTP/1.1 one" {
				t.Errorf("HTTP/1 beside HTTP/2: HTTP/%d %q", major, got)
			}
		})
	}
}

// TestServerHTTP2Curl: curl --http2-prior-knowledge, which got an empty
// reply before HTTP/2 was served.
func TestServerHTTP2Curl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed:", err)
	}
	url, _, _ := startServer(t, h2Echo(t))
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "--http2-prior-knowledge", "--data-binary", "from curl", url+"/").CombinedOutput()
	if err != nil || string(out) != "HTTP/2.0 from curl" {
		t.Errorf("curl: %q, %v", out, err)
	}
}

// TestServerHTTP2Shutdown: Shutdown lets a call in flight on an HTTP/2
// connection finish, and returns once the connection closed; Close cuts
// one off and ends its context.
func TestServerHTTP2Shutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	ctxErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-release:
			io.WriteString(w, "done")
		case <-r.Context().Done():
			ctxErr <- r.Context().Err()
		}
	})
	for _, graceful := range []bool{true, false} {
		t.Run(fmt.Sprint("graceful=", graceful), func(t *testing.T) {
			entered, release = make(chan struct{}), make(chan struct{})
			url, srv, _ := startServer(t, h)
			client := h2cClient()
			defer client.CloseIdleConnections()
			type result struct {
				body string
				err  error
			}
			call := make(chan result, 1)
			go func() {
				resp, err := client.Get(url + "/slow")
				if err != nil {
					call <- result{err: err}
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				call <- result{string(b), err}
			}()
			<-entered
			if !graceful {
				srv.Close()
				if err := <-ctxErr; !errors.Is(err, context.Canceled) {
					t.Errorf("the call's context: %v", err)
				}
				if r := <-call; r.err == nil {
					t.Errorf("a call cut off by Close succeeded: %q", r.body)
				}
				return
			}
			done := make(chan error, 1)
			go func() { done <- srv.Shutdown(context.Background()) }()
			select {
			case err := <-done:
				t.Fatalf("Shutdown returned (%v) with a call in flight", err)
			case <-time.After(50 * time.Millisecond): // a chance to go wrong, not a threshold
			}
			close(release)
			if r := <-call; r.err != nil || r.body != "done" {
				t.Errorf("the call in flight: %+v", r)
			}
			if err := <-done; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

// TestServerHTTP2ConnLimits: an HTTP/2 connection counts in the limit per
// source until it closes.
func TestServerHTTP2ConnLimits(t *testing.T) {
	url, _, _ := startServer(t, h2Echo(t), func(s *httpengine.Server) { s.MaxConnsPerIP = 1 })
	addr := strings.TrimPrefix(url, "http://")
	client := h2cClient()
	if major, _ := post(t, client, url+"/", "x"); major != 2 {
		t.Fatalf("HTTP/%d", major)
	}
	// The source's one place is taken: another connection is closed.
	nc, br := rawConn(t, url)
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := br.ReadByte(); !hostileIsClosed(err) {
		t.Fatalf("a second connection from the source: %v, want it closed", err)
	}
	// Once the HTTP/2 connection closes, the place is free again.
	client.CloseIdleConnections()
	for deadline := time.Now().Add(hostileHangGuard); ; time.Sleep(10 * time.Millisecond) {
		nc, br := rawConn(t, url)
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the closed HTTP/2 connection still holds its place", addr)
		}
	}
}

// TestServerHTTP2SilentConnection: a connection that sends HTTP/2's
// preface and settings and no request is closed at the head timeout from
// its accept, as an HTTP/1 one that sends no request is, not kept for the
// idle timeout (an hour here).
func TestServerHTTP2SilentConnection(t *testing.T) {
	url, _, ln := startServer(t, h2Echo(t), func(s *httpengine.Server) {
		s.ReadHeaderTimeout = 100 * time.Millisecond
		s.IdleTimeout = time.Hour
	})
	nc, _ := rawConn(t, url)
	nc.SetDeadline(time.Now().Add(hostileHangGuard))
	io.WriteString(nc, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	got, err := io.ReadAll(nc) // the server's settings, then its close
	if err != nil && !hostileIsClosed(err) {
		t.Fatalf("reading: %v (the connection was not closed)", err)
	}
	if len(got) < 9 || got[3] != 4 {
		t.Errorf("the server said %q, want its SETTINGS first", got)
	}
	// A connection that begins a request keeps going.
	client := h2cClient()
	defer client.CloseIdleConnections()
	post(t, client, url+"/", "first")
	time.Sleep(200 * time.Millisecond) // past the head timeout: a chance to go wrong
	if major, got := post(t, client, url+"/", "second"); major != 2 || got != "HTTP/2.0 second" {
		t.Errorf("HTTP/%d %q", major, got)
	}
	if n := ln.n.Load(); n != 2 {
		t.Errorf("%d connections accepted, want 2: the silent one and the client's", n)
	}
}
