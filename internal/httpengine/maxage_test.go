package httpengine_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
	"github.com/polyrpc/polyrpc/rpc/netutil"
)

// agedServer serves, on connections of netutil.MaxAge(maxAge), "/wait",
// which says it runs on entered and returns once proceed is closed, and
// any other path at once. stop stops it, in the bubble.
func agedServer(t *testing.T, maxAge time.Duration) (ln *httpengine.PipeListener, entered, proceed chan struct{}, stop func()) {
	ln = httpengine.NewPipeListener()
	entered, proceed = make(chan struct{}, 1), make(chan struct{})
	s := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			entered <- struct{}{}
			<-proceed
		}
		io.WriteString(w, "ok")
	}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(netutil.MaxAge(ln, maxAge)) }()
	return ln, entered, proceed, func() {
		s.Close()
		<-served
		time.Sleep(time.Second) // the server's watcher sees it closed
	}
}

// get sends a GET of path on nc and reads the response whole.
func get(t *testing.T, nc net.Conn, br *bufio.Reader, path string) *http.Response {
	if _, err := io.WriteString(nc, "GET "+path+" HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
		t.Errorf("GET %s: %v", path, err)
		return nil
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return nil
	}
	if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "ok" {
		t.Errorf("GET %s: %q, %v", path, body, err)
	}
	return resp
}

// TestMaxAgeAnswersThenCloses: a kept-alive connection that expires while
// a request runs gets its response, which says Connection: close, and the
// connection then closes.
func TestMaxAgeAnswersThenCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln, entered, proceed, stop := agedServer(t, time.Minute)
		defer stop()
		nc := ln.Dial()
		defer nc.Close()
		br := bufio.NewReader(nc)
		if resp := get(t, nc, br, "/"); resp == nil || resp.Close {
			t.Fatal("a response before the expiry says Connection: close")
		}
		done := make(chan *http.Response)
		go func() { done <- get(t, nc, br, "/wait") }()
		<-entered
		time.Sleep(time.Minute) // past the expiry
		close(proceed)
		if resp := <-done; resp == nil || !resp.Close {
			t.Fatal("the response past the expiry does not say Connection: close")
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after the response: %v, want the connection closed", err)
		}
	})
}

// TestMaxAgeClosesIdleConnection: a kept-alive connection idle at its
// expiry is closed then: between 0.9 and 1 times the maximum age after its
// accept.
func TestMaxAgeClosesIdleConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln, _, _, stop := agedServer(t, time.Minute)
		defer stop()
		start := time.Now()
		nc := ln.Dial()
		defer nc.Close()
		br := bufio.NewReader(nc)
		if resp := get(t, nc, br, "/"); resp == nil || resp.Close {
			t.Fatal("a response before the expiry says Connection: close")
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle: %v, want the connection closed", err)
		}
		if d := time.Since(start); d < 54*time.Second || d > time.Minute {
			t.Errorf("closed %v after the accept, want within [54s, 60s]", d)
		}
	})
}

// TestMaxAgeBeforeTheHeadTimeout: the wait for a new connection's first
// request ends at its expiry when that comes before the head timeout, but
// a head begun before the expiry has the whole head timeout, as any.
func TestMaxAgeBeforeTheHeadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln, _, _, stop := agedServer(t, 5*time.Second) // the head timeout is 10 s
		defer stop()
		nc := ln.Dial()
		defer nc.Close()
		br := bufio.NewReader(nc)
		time.Sleep(time.Second)
		io.WriteString(nc, "G")
		time.Sleep(6 * time.Second) // past the expiry, within the head timeout
		if _, err := io.WriteString(nc, "ET / HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("a head begun before the expiry: %v", err)
		}
		io.ReadAll(resp.Body)
		if !resp.Close {
			t.Error("the response past the expiry does not say Connection: close")
		}

		// Silent: closed at its expiry, before the head timeout.
		start := time.Now()
		silent := ln.Dial()
		defer silent.Close()
		if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("silent: %v", err)
		}
		if d := time.Since(start); d < 4500*time.Millisecond || d > 5*time.Second {
			t.Errorf("silent connection closed after %v, want at its expiry", d)
		}
	})
}
