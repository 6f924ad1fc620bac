package httpengine

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/testcert"
)

// watchServer serves h on a loopback listener, over TLS when tlsConf is
// set, and returns a function that dials it.
func watchServer(t *testing.T, h http.Handler, tlsConf *tls.Config) (*Server, func() net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout, IdleTimeout: DefaultIdleTimeout}
	served := ln
	if tlsConf != nil {
		served = tls.NewListener(ln, tlsConf)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(served) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s, func() net.Conn {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
}

// until polls cond, failing the test after a long while.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
	}
}

// connState reads the watch state of the server's one connection.
func connState(s *Server) (watched, peeked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.watchMu.Lock()
		watched, peeked = c.watched, c.peeked
		c.watchMu.Unlock()
	}
	return watched, peeked
}

const postABC = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"

// TestClientGoneCancelsRequest: a client that closes its connection while
// its handler runs has the request's context canceled.
func TestClientGoneCancelsRequest(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		close(started)
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(20 * time.Second):
			ended <- errors.New("the context did not end")
		}
	})
	_, dial := watchServer(t, h, nil)
	nc := dial()
	if _, err := io.WriteString(nc, postABC); err != nil {
		t.Fatal(err)
	}
	<-started
	nc.Close()
	if err := <-ended; err == nil || err.Error() == "the context did not end" {
		t.Fatalf("the handler's context: %v", err)
	}
}

// TestWatchedConnectionGoesOn: a handler runs long enough to be watched
// while the client, still there, sends its next request; the byte the
// watch took is given back, and both requests are answered in order, over
// plain TCP and over TLS.
func TestWatchedConnectionGoesOn(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "tcp"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if r.URL.Path == "/slow" {
					select {
					case <-release:
					case <-r.Context().Done():
						http.Error(w, "canceled", 500)
						return
					}
				}
				io.WriteString(w, r.Method+" "+r.URL.Path+":"+string(b))
			})
			var serverConf, clientConf *tls.Config
			if useTLS {
				files := testcert.New(t)
				cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
				if err != nil {
					t.Fatal(err)
				}
				serverConf = &tls.Config{Certificates: []tls.Certificate{cert}}
				clientConf = files.ClientConfig(t, false)
				clientConf.ServerName = "127.0.0.1"
			}
			s, dial := watchServer(t, h, serverConf)
			nc := dial()
			if useTLS {
				tc := tls.Client(nc, clientConf)
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				nc = tc
			}
			br := bufio.NewReader(nc)
			io.WriteString(nc, strings.Replace(postABC, "/x", "/slow", 1))
			until(t, "the watch to begin", func() bool { w, _ := connState(s); return w })
			io.WriteString(nc, strings.Replace(postABC, "abc", "def", 1))
			until(t, "the watch to take a byte", func() bool { _, p := connState(s); return p })
			close(release)
			for _, want := range []string{"POST /slow:abc", "POST /x:def"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != want {
					t.Fatalf("%d %q, want %q", resp.StatusCode, b, want)
				}
			}
			// And the connection stays usable.
			io.WriteString(nc, strings.Replace(postABC, "abc", "ghi", 1))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "POST /x:ghi" {
				t.Fatalf("third request: %q", b)
			}
		})
	}
}

// TestWatchedHandlerAnswers: a slow handler, watched, answers a client that
// waits, and the connection serves the next request after it.
func TestWatchedHandlerAnswers(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok"+r.URL.Path)
	})
	s, dial := watchServer(t, h, nil)
	nc := dial()
	br := bufio.NewReader(nc)
	for _, path := range []string{"/slow", "/x"} {
		io.WriteString(nc, strings.Replace(postABC, "/x", path, 1))
		if path == "/slow" {
			until(t, "the watch to begin", func() bool { w, _ := connState(s); return w })
			close(release)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok"+path {
			t.Fatalf("%s: %q", path, b)
		}
	}
}
