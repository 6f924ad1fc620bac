package httprpc_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// serveInBubble serves h with a Server of opts on in-memory connections, in
// the synctest bubble of t, and returns the listener and a function that
// closes the server.
func serveInBubble(t *testing.T, h http.Handler, opts ...httprpc.Option) (*pipeListener, *httprpc.Server, func()) {
	t.Helper()
	hs, err := httprpc.NewServer(h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln := newPipeListener()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	return ln, hs, func() { closeInBubble(t, hs, done) }
}

// roundTrip sends a request on c and reads its response whole.
func roundTrip(c net.Conn, br *bufio.Reader, request string) (*http.Response, error) {
	if _, err := io.WriteString(c, request); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

// TestServerFirstRequestHeadTimeout: a new connection must send its first
// request's head within the head timeout of its accept (10 s, or the read
// timeout if shorter), whether it is silent or trickles, whatever the idle
// timeout: a connection that never sent a request is not idle.
func TestServerFirstRequestHeadTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    []httprpc.Option
		trickle bool // send a head a byte a second, never ending it
		want    time.Duration
	}{
		{"silent", nil, false, 10 * time.Second},
		{"silent, long idle timeout", []httprpc.Option{httprpc.WithIdleTimeout(5 * time.Minute)}, false, 10 * time.Second},
		{"silent, short read timeout", []httprpc.Option{httprpc.WithReadTimeout(3 * time.Second)}, false, 3 * time.Second},
		{"trickling", nil, true, 10 * time.Second},
		{"trickling, long idle timeout", []httprpc.Option{httprpc.WithIdleTimeout(5 * time.Minute)}, true, 10 * time.Second},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ln, _, stop := serveInBubble(t, noContent, on(engine, tt.opts...)...)
					defer stop()
					c := ln.dial()
					defer c.Close()
					start := time.Now()
					if tt.trickle {
						go func() {
							for _, b := range []byte(strings.Repeat("POST / HTTP/1.1\r\nX: y\r\n", 10)) {
								time.Sleep(time.Second)
								if _, err := c.Write([]byte{b}); err != nil {
									return
								}
							}
						}()
					}
					io.Copy(io.Discard, c) // until the server closes
					if got := time.Since(start); got != tt.want {
						t.Errorf("closed after %v, want %v", got, tt.want)
					}
				})
			})
		}
	}
}

// TestServerTLSHandshakeTimeout: over TLS, the handshake and the first
// request's head together must come within the head timeout of the accept;
// on net/http's engine, the handshake within it, and the head within it of
// the handshake's end.
func TestServerTLSHandshakeTimeout(t *testing.T) {
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		handshake time.Duration // when the client starts its handshake; -1 for never
		want      time.Duration
		// On net/http, the head's 10 s count from the handshake's end.
		wantNetHTTP time.Duration
	}{
		{"no handshake", -1, 10 * time.Second, 10 * time.Second},
		{"handshake, then silent", 0, 10 * time.Second, 10 * time.Second},
		{"late handshake, then silent", 6 * time.Second, 10 * time.Second, 16 * time.Second},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ln, _, stop := serveInBubble(t, noContent, on(engine, httprpc.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))...)
					defer stop()
					c := ln.dial()
					defer c.Close()
					start := time.Now()
					var r io.Reader = c
					if tt.handshake >= 0 {
						time.Sleep(tt.handshake)
						// The bubble's clock says 2000: the certificate's dates
						// are not checked.
						tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
						if err := tc.Handshake(); err != nil {
							t.Fatal(err)
						}
						r = tc
					}
					io.Copy(io.Discard, r) // until the server closes
					want := tt.want
					if engine == "net/http" {
						want = tt.wantNetHTTP
					}
					if got := time.Since(start); got != want {
						t.Errorf("closed after %v, want %v", got, want)
					}
				})
			})
		}
	}
}

// TestServerUnprovenConnectionTimeout: until a request on it has been
// answered with a status below 400, a connection waits for its next request
// under the head timeout, not the idle timeout: a client whose requests are
// all refused (401, unauthenticated) holds its connection no longer than a
// silent one, and one that answers a challenge in time goes on. net/http's
// engine waits the idle timeout after any response.
func TestServerUnprovenConnectionTimeout(t *testing.T) {
	authOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "who?", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	const (
		anonymous = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
		signed    = "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: yes\r\nContent-Length: 0\r\n\r\n"
	)
	for _, tt := range []struct {
		name     string
		requests []string
		pause    time.Duration // between requests
		want     time.Duration // from the last response to the close
		// net/http waits the idle timeout after any response.
		wantNetHTTP time.Duration
	}{
		{"refused", []string{anonymous}, 0, 10 * time.Second, 120 * time.Second},
		{"refused twice", []string{anonymous, anonymous}, 9 * time.Second, 10 * time.Second, 120 * time.Second},
		{"challenge answered", []string{anonymous, signed}, 9 * time.Second, 120 * time.Second, 120 * time.Second},
		{"served", []string{signed}, 0, 120 * time.Second, 120 * time.Second},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ln, _, stop := serveInBubble(t, authOnly, httprpc.WithEngine(engine))
					defer stop()
					c := ln.dial()
					defer c.Close()
					br := bufio.NewReader(c)
					for i, req := range tt.requests {
						if i > 0 {
							time.Sleep(tt.pause)
						}
						if _, err := roundTrip(c, br, req); err != nil {
							t.Fatalf("request %d: %v", i+1, err)
						}
					}
					start := time.Now()
					if _, err := br.ReadByte(); err != io.EOF {
						t.Errorf("waiting connection: %v, want EOF", err)
					}
					want := tt.want
					if engine == "net/http" {
						want = tt.wantNetHTTP
					}
					if got := time.Since(start); got != want {
						t.Errorf("closed after %v, want %v", got, want)
					}
				})
			})
		}
	}
}

// TestServerMaxConns: at WithMaxConns the server stops accepting until a
// connection ends (the next waits in the listen backlog: a slow connect for
// its client, not a reset), and says so in the log, once for the burst. In
// a synctest bubble, over in-memory connections whose dial returns once the
// server accepted, "stops" and "until" are exact.
func TestServerMaxConns(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testServerMaxConns(t, engine) })
	}
}

func testServerMaxConns(t *testing.T, engine string) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordHandler{}
		ln, _, stop := serveInBubble(t, noContent, on(engine, httprpc.WithMaxConns(2), httprpc.WithLogger(slog.New(rec)))...)
		defer stop()
		const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		c1, c2 := ln.dial(), ln.dial()
		for i, c := range []net.Conn{c1, c2} {
			if _, err := roundTrip(c, bufio.NewReader(c), get); err != nil {
				t.Fatalf("connection %d of 2: %v", i+1, err)
			}
		}
		dialed := make(chan net.Conn, 2)
		for range 2 {
			go func() { dialed <- ln.dial() }()
		}
		synctest.Wait()
		if len(dialed) != 0 {
			t.Fatalf("%d connections accepted beyond WithMaxConns(2)", len(dialed))
		}
		c1.Close()
		c3 := <-dialed
		if _, err := roundTrip(c3, bufio.NewReader(c3), get); err != nil {
			t.Fatalf("a connection held back: %v", err)
		}
		synctest.Wait()
		if len(dialed) != 0 {
			t.Fatal("a fourth connection accepted beyond WithMaxConns(2)")
		}
		c2.Close()
		c4 := <-dialed
		synctest.Wait() // the accept after c4 waits at the limit
		for _, c := range []net.Conn{c3, c4} {
			c.Close()
		}
		time.Sleep(time.Minute) // below the limit long enough to end the burst
		synctest.Wait()

		// One burst at the limit: when the server stopped accepting, and
		// when it went on for good, with the count of accepts it held back.
		const (
			full  = "httprpc: connection limit reached: new connections wait in the listen backlog"
			again = "httprpc: accepting again below the connection limit"
		)
		if got, want := rec.messages(), []string{full, again}; !slices.Equal(got, want) {
			t.Errorf("logged %q, want %q", got, want)
		}
		if _, limits := rec.attrs("limit"); !slices.Equal(limits, []string{"2", "2"}) {
			t.Errorf("logged limits %v", limits)
		}
		if _, held := rec.attrs("accepts_held_back"); !slices.Equal(held, []string{"3"}) { // c3, c4 and the accept after c4
			t.Errorf("logged accepts held back %v", held)
		}
	})
}

// TestServerMaxConnsPerIP: a flood of connections from one address
// (127.0.0.1), silent ones or ones that sent a request and stay idle, holds
// no more than WithMaxConnsPerIP, and an honest client from another address
// (127.0.0.2) is served during it; the refusals are logged, by source.
func TestServerMaxConnsPerIP(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no second loopback address to call from: %v", err)
	} else {
		ln.Close()
	}
	for _, tt := range []struct {
		name    string
		request string // what each connection of the flood sends
	}{
		{"silent", ""},
		{"idle after a request", "OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				rec := &recordHandler{}
				s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
				// A connection that sent a request would hold its slot for
				// an hour, and a silent one 10 s: the honest call must not
				// need either to end.
				url := serve(t, newHandler(t, s), on(engine, httprpc.WithMaxConns(16), httprpc.WithMaxConnsPerIP(4),
					httprpc.WithIdleTimeout(time.Hour), httprpc.WithLogger(slog.New(rec)))...)
				addr := strings.TrimPrefix(url, "http://")
				// Dialed first, the flood is ahead of the honest client in
				// the listen backlog.
				for range 40 {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if tt.request != "" {
						io.WriteString(c, tt.request)
					}
				}

				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
				c := newClient(t, url, lineCodec{}, httprpc.WithRoundTripper(&http.Transport{DialContext: d.DialContext}))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
				defer cancel()
				var sum int64
				if err := c.Call(ctx, "add", &sum, int64(1), int64(2)); err != nil || sum != 3 {
					t.Fatalf("the honest call: %d, %v", sum, err)
				}
				levels, sources := rec.attrs("source")
				if len(sources) == 0 || sources[0] != "127.0.0.1/32" || levels[0] != slog.LevelWarn {
					t.Errorf("logged refusals from %v at %v, want 127.0.0.1/32 at WARN", sources, levels)
				}
			})
		}
	}
}

// bigBody answers every request with a body of 1 MiB, and reports on done
// when its write returned, with the time it took and its error.
type bigBody struct {
	wait time.Duration // before the write
	done chan writeResult
}

type writeResult struct {
	took time.Duration
	err  error
}

const bigSize = 1 << 20

func (b *bigBody) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(b.wait)
	w.Header().Set("Content-Length", "1048576")
	start := time.Now()
	_, err := w.Write(make([]byte, bigSize))
	b.done <- writeResult{time.Since(start), err}
}

// slowReader reads 32 KiB a second: 64 KiB, a write of the server, in 2 s,
// or 3 over TLS, depending on how its records fall.
type slowReader struct {
	r io.Reader
	n int // read in this second
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.n == 32<<10 {
		time.Sleep(time.Second)
		s.n = 0
	}
	n, err := s.r.Read(p[:min(len(p), 32<<10-s.n)])
	s.n += n
	return n, err
}

// TestServerWriteTimeout: WithWriteTimeout (30 s by default) bounds each
// write of a response (64 KiB at most): a client that stops reading loses
// its connection after it, and the handler its write; a handler that runs
// longer, and a client that reads slowly but steadily, are not cut off.
func TestServerWriteTimeout(t *testing.T) {
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		opts    []httprpc.Option
		wait    time.Duration // the handler's, before it writes
		read    bool          // the client reads the response, slowly
		wantErr time.Duration // when the write fails; 0 if it does not
	}{
		{"client never reads", nil, 0, false, 30 * time.Second},
		{"client never reads, 5 s", []httprpc.Option{httprpc.WithWriteTimeout(5 * time.Second)}, 0, false, 5 * time.Second},
		{"slow handler", []httprpc.Option{httprpc.WithWriteTimeout(5 * time.Second)}, 20 * time.Second, true, 0},
		{"slow reader", []httprpc.Option{httprpc.WithWriteTimeout(5 * time.Second)}, 0, true, 0},
	} {
		for _, overTLS := range []bool{false, true} {
			for _, engine := range engines {
				name := tt.name
				if overTLS {
					name += ", TLS"
				}
				t.Run(name+"/"+engine, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						h := &bigBody{wait: tt.wait, done: make(chan writeResult, 1)}
						opts := on(engine, tt.opts...)
						if overTLS {
							opts = append(opts, httprpc.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
						}
						ln, _, stop := serveInBubble(t, h, opts...)
						defer stop()
						var c net.Conn = ln.dial()
						defer c.Close()
						if overTLS {
							c = tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // the bubble's clock says 2000
						}
						testWriteTimeout(t, c, h, tt.read, tt.wantErr)
					})
				})
			}
		}
	}
}

func testWriteTimeout(t *testing.T, c net.Conn, h *bigBody, read bool, wantErr time.Duration) {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if read {
		resp, err := http.ReadResponse(bufio.NewReaderSize(&slowReader{r: c}, 16<<10), nil)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, resp.Body); n != bigSize || err != nil {
			t.Errorf("read %d bytes, %v", n, err)
		}
	}
	var res writeResult
	select {
	case res = <-h.done:
	case <-time.After(time.Hour): // in the bubble: a fake hour
		t.Fatal("the write did not return in an hour")
	}
	switch {
	case wantErr == 0 && res.err != nil:
		t.Errorf("the write failed after %v: %v", res.took, res.err)
	case wantErr != 0 && (res.err == nil || res.took != wantErr):
		t.Errorf("the write returned %v after %v, want an error after %v", res.err, res.took, wantErr)
	}
	if wantErr != 0 {
		// The connection is closed: cut in the middle of a record, over
		// TLS.
		if _, err := io.Copy(io.Discard, c); err != nil && !strings.Contains(err.Error(), "tls: bad record MAC") {
			t.Errorf("the connection: %v, want it closed", err)
		}
	}
}

// TestServerSlowReaderFreesBudget: a client that posts a large call and never
// reads the reply holds the reply's bytes of the memory budget (and no
// more: the request's are given back once the reply is encoded) until the
// write timeout, and then nothing.
func TestServerSlowReaderFreesBudget(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testServerSlowReaderFreesBudget(t, engine) })
	}
}

func testServerSlowReaderFreesBudget(t *testing.T, engine string) {
	synctest.Test(t, func(t *testing.T) {
		s := newRPCServer(t, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
		ln, _, stop := serveInBubble(t, newHandler(t, s), on(engine, httprpc.WithWriteTimeout(5*time.Second))...)
		defer stop()
		c := ln.dial()
		defer c.Close()
		msg := `call 1 echo "` + strings.Repeat("x", 1<<20) + `"`
		reply := `ok 1 "` + strings.Repeat("x", 1<<20) + `"`
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: "+lineType+"\r\nContent-Length: "+strconv.Itoa(len(msg))+"\r\n\r\n"+msg)
		synctest.Wait() // the server blocks, writing the reply
		if got := s.Budget().Used(); got != int64(len(reply)) {
			t.Errorf("%d bytes of the budget held while the reply is written, want %d", got, len(reply))
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := s.Budget().Used(); got != 0 {
			t.Errorf("%d bytes of the budget held after the write timed out", got)
		}
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("the connection: %v, want it closed", err)
		}
	})
}

// TestServerTLSDefaults: over TLS a Server offers h2 and http/1.1 by ALPN,
// and in TLS 1.2 AEAD cipher suites only, unless its configuration says
// otherwise.
func TestServerTLSDefaults(t *testing.T) {
	certs := testcert.New(t)
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	const (
		cbc  = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
		aead = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	)
	for _, tt := range []struct {
		name     string
		server   *tls.Config
		client   *tls.Config
		wantALPN string // "" for a failed handshake
	}{
		{"TLS 1.3", &tls.Config{}, &tls.Config{NextProtos: []string{"h2", "http/1.1"}}, "h2"},
		{"TLS 1.3, HTTP/1.1", &tls.Config{}, &tls.Config{NextProtos: []string{"http/1.1"}}, "http/1.1"},
		{"TLS 1.2 AEAD", &tls.Config{}, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{aead}, NextProtos: []string{"http/1.1"}}, "http/1.1"},
		{"TLS 1.2 CBC", &tls.Config{}, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{cbc}}, ""},
		{"TLS 1.2 CBC, the server's choice", &tls.Config{CipherSuites: []uint16{cbc}}, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{cbc}, NextProtos: []string{"http/1.1"}}, "http/1.1"},
		{"the server's protocols", &tls.Config{NextProtos: []string{"x-rpc"}}, &tls.Config{NextProtos: []string{"x-rpc", "http/1.1"}}, "x-rpc"},
	} {
		for _, engine := range engines {
			t.Run(tt.name+"/"+engine, func(t *testing.T) {
				server := tt.server.Clone()
				server.Certificates = []tls.Certificate{cert}
				url := serve(t, noContent, on(engine, httprpc.WithTLSConfig(server))...)
				tt.client.RootCAs = certs.ClientConfig(t, false).RootCAs
				c, err := tls.Dial("tcp", strings.TrimPrefix(url, "http://"), tt.client)
				if tt.wantALPN == "" {
					if err == nil {
						c.Close()
						t.Fatalf("handshake with %s", tls.CipherSuiteName(c.ConnectionState().CipherSuite))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got := c.ConnectionState().NegotiatedProtocol; got != tt.wantALPN {
					t.Errorf("ALPN %q, want %q", got, tt.wantALPN)
				}
			})
		}
	}
}
