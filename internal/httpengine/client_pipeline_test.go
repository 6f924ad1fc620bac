package httpengine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Pipelining through servers that close connections: requests that the
// server announced it would not serve go again until served, on other
// connections; nothing goes on a connection once its close is announced;
// requests that the server may have served are not sent twice.

// TestClientPipelineResendsUntilServed: a server that answers one request
// per connection, announcing the close each time (nginx's
// keepalive_requests 1, say), with eight POSTs pipelined on one connection:
// every call gets its own answer, and the server serves each once. Seven
// are left unanswered by the first connection, and so on: they used to go
// again only once, and fail when left unanswered again. A call left
// unanswered twice goes only first on a connection, where it is served: no
// request is sent more than three times.
func TestClientPipelineResendsUntilServed(t *testing.T) {
	const calls = 8
	var mu sync.Mutex
	served, sent := map[string]int{}, map[string]int{}
	var conns atomic.Int32
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		first := conns.Add(1) == 1
		var bodies []string
		// The first connection takes every call before it answers one.
		for len(bodies) < 1 || first && len(bodies) < calls {
			r, err := rtReadRequest(br)
			if err != nil {
				return
			}
			bodies = append(bodies, string(r.body))
		}
		mu.Lock()
		served[bodies[0]]++
		mu.Unlock()
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(bodies[0]), bodies[0])
	})
	// Count the requests written: each body once in them.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &watchWrites{Conn: nc, saw: func(p []byte) {
			mu.Lock()
			defer mu.Unlock()
			for i := range calls {
				body := fmt.Sprint("call ", i)
				sent[body] += strings.Count(string(p), body)
			}
		}}, nil
	}
	rt := &RoundTripper{Pipeline: calls, PipelineConns: 1, PipelineStall: -1, DialContext: dial}
	defer rt.CloseIdleConnections()
	results := make([]rvResult, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			body := fmt.Sprint("call ", i)
			ctx, cancel := context.WithTimeout(context.Background(), rvGuard)
			defer cancel()
			results[i] = rvRoundTrip(rt, rvRequest(t, ctx, http.MethodPost, "http://"+s.addr+"/", strings.NewReader(body)))
		})
	}
	wg.Wait()
	for i, res := range results {
		if want := fmt.Sprint("call ", i); res.err != nil || res.body != want {
			t.Errorf("call %d: %q, %v; want %q", i, res.body, res.err, want)
		}
	}
	for body, n := range served {
		if n != 1 {
			t.Errorf("%q served %d times", body, n)
		}
	}
	for body, n := range sent {
		if n > pipelineAloneAfter+1 {
			t.Errorf("%q sent %d times, want at most %d", body, n, pipelineAloneAfter+1)
		}
	}
}

// watchWrites shows what is written on a connection to saw.
type watchWrites struct {
	net.Conn
	saw func([]byte)
}

func (c *watchWrites) Write(p []byte) (int, error) {
	c.saw(p)
	return c.Conn.Write(p)
}

// TestClientPipelineNoSendAfterClose: once the head of a response says
// Connection: close, nothing more is sent on its connection, though its
// body has yet to come: a request made meanwhile goes on another
// connection. It used to be pipelined on the closing connection, behind the
// response that announced the close, to be sent again after it.
func TestClientPipelineNoSendAfterClose(t *testing.T) {
	release := make(chan struct{})
	releaseBody := rvOnce(t, func() { close(release) })
	extra := make(chan int, 1) // bytes that came after the first request on the first connection
	var conns atomic.Int32
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if conns.Add(1) > 1 {
			rtServeOK(c, br)
			return
		}
		if _, err := rtReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n")
		<-release
		io.WriteString(c, "ok")
		// Count what the client sends until it closes the connection.
		n, _ := io.Copy(io.Discard, br)
		extra <- int(n)
	})
	rt := rvPipeRT(t, nil)
	u := "http://" + s.addr + "/"
	a := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u, strings.NewReader("a")))
	// Wait for the client to read the head: its connection leaves the
	// pool.
	for deadline := time.Now().Add(rvGuard); ; time.Sleep(time.Millisecond) {
		if conns.Load() == 1 && len(rvPipeConns(rt)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			releaseBody()
			t.Fatal("the connection stays in use after its close was announced")
		}
	}
	b, ok := rvWait(rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u, strings.NewReader("b"))))
	if !ok || b.err != nil || b.body != "ok" {
		t.Fatalf("B: %v, %q, %v; want it answered on another connection while A waits", ok, b.body, b.err)
	}
	releaseBody()
	if res, ok := rvWait(a); !ok || res.err != nil || res.body != "ok" {
		t.Fatalf("A: %v, %q, %v", ok, res.body, res.err)
	}
	select {
	case n := <-extra:
		if n != 0 {
			t.Errorf("%d bytes sent on the connection after its close was announced", n)
		}
	case <-time.After(rvGuard):
		t.Fatal("the first connection is still open")
	}
}

// clientWriteFailConn fails every write after the first, as a connection
// that the server reset does; failed is closed at the first failure.
type clientWriteFailConn struct {
	*rvGatedReadConn
	writes atomic.Int32
	failed chan struct{}
}

func (c *clientWriteFailConn) Write(p []byte) (int, error) {
	if c.writes.Add(1) == 1 {
		return c.Conn.Write(p)
	}
	if c.writes.Load() == 2 {
		close(c.failed)
	}
	return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
}

// TestClientPipelineWriteFailsAfterClose: the server answers A with
// Connection: close and resets the connection, so that the write of B,
// pipelined behind A, fails; A's response has come, but the client has not
// read it yet. B was not served, as A's response says: it goes on another
// connection. (It used to fail with the connection, before A's response
// could tell.)
func TestClientPipelineWriteFailsAfterClose(t *testing.T) {
	const respA = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nA"
	var conns atomic.Int32
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if conns.Add(1) > 1 {
			for {
				r, err := rtReadRequest(br)
				if err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(r.body), r.body)
			}
		}
		if _, err := rtReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, respA)
	})
	first := &clientWriteFailConn{failed: make(chan struct{})}
	got, gate := make(chan struct{}), make(chan struct{})
	openGate := rvOnce(t, func() { close(gate) })
	var dialed atomic.Int32
	rt := rvPipeRT(t, func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil || dialed.Add(1) > 1 {
			return nc, err
		}
		first.rvGatedReadConn = &rvGatedReadConn{Conn: nc, want: len(respA), got: got, gate: gate}
		return first, nil
	})
	u := "http://" + s.addr + "/"
	a := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u, strings.NewReader("A")))
	rvWaitFor(t, got, "A's response to come") // and wait in the connection
	b := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u, strings.NewReader("B")))
	rvWaitFor(t, first.failed, "B's write to fail")
	openGate()
	if res, ok := rvWait(a); !ok || res.err != nil || res.body != "A" {
		t.Errorf("A: %v, %q, %v", ok, res.body, res.err)
	}
	if res, ok := rvWait(b); !ok || res.err != nil || res.body != "B" {
		t.Errorf("B: %v, %q, %v; want it sent again and answered", ok, res.body, res.err)
	}
}

// TestClientPipelineUnannouncedClose: the server answers the first of two
// pipelined requests with a body that ends with the connection, without
// Connection: close, having read both: it may have served the second, so a
// POST fails there, and a GET goes again. (Both used to go again.)
func TestClientPipelineUnannouncedClose(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			var conns atomic.Int32
			read := make(chan struct{}, 2)
			s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
				if conns.Add(1) > 1 {
					rtServeOK(c, br)
					return
				}
				for range 2 {
					if _, err := rtReadRequest(br); err != nil {
						return
					}
					read <- struct{}{}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil the end")
			})
			rt := rvPipeRT(t, nil)
			u := "http://" + s.addr + "/"
			a := rvGo(rt, rvRequest(t, context.Background(), method, u+"a", nil))
			rvWaitFor(t, read, "the first request")
			b := rvGo(rt, rvRequest(t, context.Background(), method, u+"b", nil))
			if res, ok := rvWait(a); !ok || res.err != nil || res.body != "until the end" {
				t.Fatalf("A: %v, %q, %v", ok, res.body, res.err)
			}
			res, ok := rvWait(b)
			switch {
			case !ok:
				t.Fatal("B hangs")
			case method == http.MethodGet && (res.err != nil || res.body != "ok"):
				t.Errorf("GET B: %q, %v; want it sent again and answered", res.body, res.err)
			case method == http.MethodPost && res.err == nil:
				t.Errorf("POST B: %q; want an error, since the server may have served it", res.body)
			}
			if want := map[string]int32{http.MethodGet: 2, http.MethodPost: 1}[method]; conns.Load() != want {
				t.Errorf("%d connections, want %d", conns.Load(), want)
			}
		})
	}
}

// TestClientPipelineBrokenAnnouncingResponse: the response that announces
// the close breaks off in its body. Its request fails (the server served
// it), and the request pipelined behind it, which the server did not serve,
// goes again. (It used to fail with the connection.)
func TestClientPipelineBrokenAnnouncingResponse(t *testing.T) {
	var conns atomic.Int32
	read := make(chan struct{}, 2)
	s := rtListen(t, func(c net.Conn, br *bufio.Reader) {
		if conns.Add(1) > 1 {
			rtServeOK(c, br)
			return
		}
		for range 2 {
			if _, err := rtReadRequest(br); err != nil {
				return
			}
			read <- struct{}{}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\nabc")
	})
	rt := rvPipeRT(t, nil)
	u := "http://" + s.addr + "/"
	a := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u+"a", strings.NewReader("a")))
	rvWaitFor(t, read, "the first request")
	b := rvGo(rt, rvRequest(t, context.Background(), http.MethodPost, u+"b", strings.NewReader("b")))
	if res, ok := rvWait(a); !ok || res.err == nil {
		t.Errorf("A: %v, %q, %v; want an error", ok, res.body, res.err)
	}
	if res, ok := rvWait(b); !ok || res.err != nil || res.body != "ok" {
		t.Errorf("B: %v, %q, %v; want it sent again and answered", ok, res.body, res.err)
	}
}
