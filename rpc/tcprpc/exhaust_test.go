package tcprpc_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// The tests of issue 13 ("no single client can exhaust rpcd") on TCP,
// besides the memory budget's (budget_test.go).

// deadlineListener records the last read deadline the server set on each
// connection it accepted.
type deadlineListener struct {
	net.Listener
	mu   sync.Mutex
	last map[net.Conn]time.Time
}

func (l *deadlineListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{nc, l}, nil
}

type deadlineConn struct {
	net.Conn
	l *deadlineListener
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.l.mu.Lock()
	c.l.last[c] = t
	c.l.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.l.mu.Lock()
	c.l.last[c] = t
	c.l.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// TestNewConnectionsHaveTheHandshakeTimeout is finding 1 of issue 13 on
// TCP: a new connection must complete TLS, its handshake if any, and start
// its first frame within the handshake timeout, not the idle timeout (a
// TLS socket without HMAC was held ≥ 45 s). Silent and trickling peers are
// closed at the handshake timeout at every step; a peer that got that far
// is then under the idle timeout.
func TestNewConnectionsHaveTheHandshakeTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	serverTLS, clientTLS := tlsConfigs(t)
	a, err := auth.NewServer(aliceSet)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := auth.NewClient(alice)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T, tlsOn, authOn bool) (*deadlineListener, *logged) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dl := &deadlineListener{Listener: ln, last: map[net.Conn]time.Time{}}
		s := newRPCServer(t)
		if err := demo.Register(s); err != nil {
			t.Fatal(err)
		}
		var log logged
		opts := []tcprpc.Option{tcprpc.WithHandshakeTimeout(timeout), tcprpc.WithIdleTimeout(time.Hour),
			tcprpc.WithReadTimeout(time.Hour), tcprpc.WithLogger(log.logger())}
		if authOn {
			opts = append(opts, tcprpc.WithHandshake(a.Handshake))
		}
		srv := newServer(t, s, opts...)
		var l net.Listener = dl
		if tlsOn {
			l = tls.NewListener(dl, serverTLS)
		}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		return dl, &log
	}
	// startTLS runs a client's TLS handshake on nc.
	startTLS := func(t *testing.T, nc net.Conn) net.Conn {
		cfg := clientTLS.Clone()
		cfg.ServerName = "127.0.0.1"
		tc := tls.Client(nc, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc
	}
	// The steps a peer may stop after: each applies to a listener with TLS
	// (tlsOn), auth (authOn), or both.
	steps := []struct {
		name string
		tls  bool // applies only with TLS
		auth bool // applies only with auth
		do   func(t *testing.T, nc net.Conn, tlsOn bool) net.Conn
	}{
		{"silent", false, false, func(t *testing.T, nc net.Conn, tlsOn bool) net.Conn { return nc }},
		{"trickling a TLS record", true, false, func(t *testing.T, nc net.Conn, tlsOn bool) net.Conn {
			go func() {
				// A handshake record promising 512 bytes, a byte now
				// and then.
				for _, b := range append([]byte{0x16, 0x03, 0x01, 0x02, 0x00}, make([]byte, 100)...) {
					if _, err := nc.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(timeout / 10)
				}
			}()
			return nc
		}},
		{"silent after TLS", true, false, func(t *testing.T, nc net.Conn, tlsOn bool) net.Conn {
			return startTLS(t, nc)
		}},
		{"silent after the handshake", false, true, func(t *testing.T, nc net.Conn, tlsOn bool) net.Conn {
			if tlsOn {
				nc = startTLS(t, nc)
			}
			if err := ac.Handshake(context.Background(), nc); err != nil {
				t.Fatal(err)
			}
			return nc
		}},
	}
	for _, tlsOn := range []bool{false, true} {
		for _, authOn := range []bool{false, true} {
			t.Run("tls="+strconv.FormatBool(tlsOn)+",auth="+strconv.FormatBool(authOn), func(t *testing.T) {
				t.Parallel()
				dl, log := serve(t, tlsOn, authOn)
				for _, st := range steps {
					if st.tls && !tlsOn || st.auth && !authOn {
						continue
					}
					nc := st.do(t, rawConn(t, dl.Addr().String()), tlsOn)
					if !closedByServer(nc) {
						t.Errorf("%s: the server kept the connection past the handshake timeout", st.name)
					}
				}
				// The first failure logged says where the peer stopped
				// (the others are alike, or counted).
				want := "waiting for the first message: read tcp"
				switch {
				case tlsOn:
					want = "TLS handshake: read tcp"
				case authOn:
					want = "tcprpc: handshake: "
				}
				if r := log.lines("connection ended"); len(r) == 0 || !strings.Contains(r[0].attrs["err"], want) {
					t.Errorf("logged %q, want first an error containing %q", log.all(), want)
				}
				// A peer that made a call is under the idle timeout: its
				// read deadline, while it waits for the next call, is an
				// hour away.
				var opts []tcprpc.Option
				if tlsOn {
					cfg := clientTLS.Clone()
					cfg.ServerName = "127.0.0.1"
					opts = append(opts, tcprpc.WithTLS(cfg))
				}
				if authOn {
					opts = append(opts, tcprpc.WithClientHandshake(ac.Handshake))
				}
				c := newClient(t, dl.Addr().String(), jsonCodec(t), opts...)
				if err := c.Call(context.Background(), "demo.add", nil, 1, 2); err != nil {
					t.Fatal(err)
				}
				if !waitFor(func() bool {
					dl.mu.Lock()
					defer dl.mu.Unlock()
					for _, d := range dl.last {
						if time.Until(d) > 30*time.Minute {
							return true
						}
					}
					return false
				}) {
					t.Error("after its first call, a connection does not have the idle timeout")
				}
			})
		}
	}
}

// TestFloodFromOneAddressLeavesRoomForOthers is finding 5 of issue 13 on
// TCP: with authentication on and a limit of connections, silent sockets
// from one address took every place (10 of 10 honest calls failed). With a
// limit per source address, an honest client from another address gets in
// during the flood, and the refusals are summed up in the log.
func TestFloodFromOneAddressLeavesRoomForOthers(t *testing.T) {
	t.Parallel()
	a, err := auth.NewServer(aliceSet)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newRPCServer(t)
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	var log logged
	// The flood's silent sockets would be dropped after the handshake
	// timeout, and reconnect: an hour keeps them for the whole test.
	srv := newServer(t, s, tcprpc.WithHandshake(a.Handshake), tcprpc.WithMaxConns(20), tcprpc.WithMaxConnsPerIP(10),
		tcprpc.WithHandshakeTimeout(time.Hour), tcprpc.WithLogger(log.logger()))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	flood := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	for range 40 {
		nc, err := flood.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	honest := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	nc, err := honest.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2: %v", err)
	}
	defer nc.Close()
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	ac, err := auth.NewClient(alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := ac.Handshake(ctx, nc); err != nil {
		t.Fatalf("honest client's handshake during the flood: %v", err)
	}
	nc.SetDeadline(deadline)
	if err := frame.Write(nc, []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[2,3],"id":1}`)); err != nil {
		t.Fatal(err)
	}
	b, err := frame.Read(bufio.NewReader(nc), nil, 1<<20)
	if err != nil || !strings.Contains(string(b), `"result":5`) {
		t.Fatalf("honest call during the flood: %q, %v", b, err)
	}
	if !waitFor(func() bool { return len(log.lines("refused connections over the limit per source address")) > 0 }) {
		t.Errorf("the refusals were not logged: %q", log.all())
	}
}

// TestFailedHandshakesFillNoLog is finding 9 of issue 13 on TCP: 146k
// failed handshakes in 15 s wrote 146k log lines. Alike failures from one
// source are logged once per interval, with a count.
func TestFailedHandshakesFillNoLog(t *testing.T) {
	t.Parallel()
	a, err := auth.NewServer(aliceSet)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newRPCServer(t)
	var log logged
	srv := newServer(t, s, tcprpc.WithHandshake(a.Handshake), tcprpc.WithLogger(log.logger()))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	mc, err := auth.NewClient(mallory)
	if err != nil {
		t.Fatal(err)
	}
	const attempts = 200
	for range attempts {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := mc.Handshake(context.Background(), nc); err == nil {
			t.Fatal("a wrong key was let in")
		}
		// The server closes the connection once it has logged, or
		// counted, the failure.
		if !closedByServer(nc) {
			t.Fatal("the server kept a connection that failed its handshake")
		}
		nc.Close()
	}
	srv.Close() // logs the counts not logged yet
	ended, alike := log.lines("connection ended"), log.lines("connections ended alike")
	if len(ended)+len(alike) > 2 {
		t.Fatalf("%d failed handshakes from one address took %d log lines, want 2", attempts, len(ended)+len(alike))
	}
	if len(alike) != 1 || !strings.Contains(ended[0].attrs["err"], "handshake") || !strings.Contains(alike[0].attrs["err"], "handshake") {
		t.Fatalf("logged %q, want a failed handshake and a count", log.all())
	}
	if n, _ := strconv.Atoi(alike[0].attrs["count"]); n != attempts-1 {
		t.Errorf("a count of %d, want %d", n, attempts-1)
	}
}

// addrConn is a connection from a source of the test's choosing.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// TestFailureLogInterval: a source's failures of one kind are logged at most
// once per 10 seconds: the first at once, the others counted and their
// count logged when the interval is over; failures of another kind or
// source are logged apart, and a source quiet for an interval is logged at
// once again.
func TestFailureLogInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log logged
		srv := newServer(t, newRPCServer(t), tcprpc.WithLogger(log.logger()))
		defer srv.Close()
		// fail serves a connection from ip that sends send and closes.
		fail := func(ip string, send []byte) {
			client, server := net.Pipe()
			go func() {
				client.Write(send)
				client.Close()
			}()
			srv.ServeConn(&addrConn{server, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234}})
		}
		malformed := []byte{0xff, 0xff, 0xff, 0xf0}
		tooLarge := []byte{0x7f, 0xff, 0xff, 0xff}
		count := func(msg string) int { return len(log.lines(msg)) }
		for range 100 {
			fail("10.0.0.1", malformed)
			fail("10.0.0.2", malformed)
		}
		fail("10.0.0.1", tooLarge)
		if n := count("connection ended"); n != 3 {
			t.Fatalf("%d lines for 201 failures of 2 sources and 2 kinds: %q", n, log.all())
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		alike := log.lines("connections ended alike")
		if len(alike) != 2 || alike[0].attrs["count"] != "99" || alike[1].attrs["count"] != "99" {
			t.Fatalf("after an interval: %q, want a count of 99 for each source", log.all())
		}
		// Right after a count, another failure waits for the next one.
		fail("10.0.0.1", malformed)
		if n := count("connection ended"); n != 3 {
			t.Errorf("a failure right after a count was logged at once: %q", log.all())
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if alike := log.lines("connections ended alike"); len(alike) != 3 || alike[2].attrs["count"] != "1" {
			t.Fatalf("after another interval: %q", log.all())
		}
		// Quiet for an interval: the next failure is logged at once.
		time.Sleep(20 * time.Second)
		synctest.Wait()
		fail("10.0.0.1", malformed)
		if n := count("connection ended"); n != 4 {
			t.Errorf("after a quiet interval, a failure was not logged at once: %q", log.all())
		}
		// Thousands of sources cost bounded memory, and a bounded log.
		for i := range 5000 {
			fail("10.1."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), malformed)
		}
		if n := count("connection ended"); n > 4+300 {
			t.Errorf("%d lines for 5000 sources", n)
		}
		srv.Close()
		if n := count("connections ended alike"); n > 3+3 {
			t.Errorf("%d counts logged at Close", n)
		}
	})
}
