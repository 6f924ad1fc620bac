package netutil_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc/netutil"
)

// v2 builds a v2 header: command, family and transport, and body, the
// addresses and TLVs.
func v2(cmd, famProto byte, body []byte) string {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x20|cmd, famProto)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return string(append(b, body...))
}

// v2Addrs is the body of a v2 header for src and dst, with tlvs after.
func v2Addrs(src, dst string, tlvs ...byte) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	var b []byte
	b = append(b, s.Addr().AsSlice()...)
	b = append(b, d.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, s.Port())
	b = binary.BigEndian.AppendUint16(b, d.Port())
	return append(b, tlvs...)
}

// tlv is a TLV of type typ.
func tlv(typ byte, value string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

// newProxyListener returns a ProxyProtocol listener over a pipeListener
// that trusts 10.0.0.0/8 and fd00::/8, and what it logs.
func newProxyListener(t *testing.T, opts ...netutil.Option) (*pipeListener, net.Listener, *logged) {
	t.Helper()
	pl := newPipeListener()
	var log logged
	ln, err := netutil.ProxyProtocol(pl, prefixes("10.0.0.0/8", "fd00::/8"), append([]netutil.Option{netutil.WithLogger(log.logger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return pl, ln, &log
}

// acceptAll accepts ln's connections into a channel until ln fails.
func acceptAll(ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1000)
	go func() {
		defer close(ch)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- nc
		}
	}()
	return ch
}

// send writes s to c in a goroutine of its own (a pipe's writes wait for
// the reads).
func send(c net.Conn, s string) { go c.Write([]byte(s)) }

// TestProxyProtocolHeaders: from a trusted source, the addresses of a v1 or
// v2 header become the connection's; LOCAL, UNKNOWN, the unspecified and
// Unix families and a connection without a header keep its own; what
// follows the header is the connection's.
func TestProxyProtocolHeaders(t *testing.T) {
	unix := make([]byte, 216)
	copy(unix, "/run/client.sock")
	for _, tt := range []struct {
		name, from, header  string
		wantRemote, wantLoc string // "" for the connection's own
	}{
		{"v1 TCP4", "10.0.0.2:1234", "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n", "203.0.113.7:56324", "192.0.2.1:443"},
		{"v1 TCP6", "10.0.0.2:1234", "PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n", "[2001:db8::7]:56324", "[2001:db8::1]:443"},
		{"v1 TCP6 IPv4-mapped", "10.0.0.2:1234", "PROXY TCP6 ::ffff:203.0.113.7 ::ffff:192.0.2.1 1 2\r\n", "203.0.113.7:1", "192.0.2.1:2"},
		{"v1 ports 0 and 65535", "10.0.0.2:1234", "PROXY TCP4 203.0.113.7 192.0.2.1 0 65535\r\n", "203.0.113.7:0", "192.0.2.1:65535"},
		{"v1 UNKNOWN", "10.0.0.2:1234", "PROXY UNKNOWN\r\n", "", ""},
		{"v1 UNKNOWN with addresses", "10.0.0.2:1234", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", "", ""},
		{"v1 longest", "10.0.0.2:1234", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
		{"v2 IPv4", "10.0.0.2:1234", v2(1, 0x11, v2Addrs("203.0.113.7:56324", "192.0.2.1:443")), "203.0.113.7:56324", "192.0.2.1:443"},
		{"v2 IPv6", "10.0.0.2:1234", v2(1, 0x21, v2Addrs("[2001:db8::7]:56324", "[2001:db8::1]:443")), "[2001:db8::7]:56324", "[2001:db8::1]:443"},
		{"v2 IPv6 from an IPv6 proxy", "[fd00::5]:1234", v2(1, 0x21, v2Addrs("[2001:db8::7]:56324", "[2001:db8::1]:443")), "[2001:db8::7]:56324", "[2001:db8::1]:443"},
		{"v2 IPv4 from an IPv4-mapped proxy", "[::ffff:10.0.0.2]:1234", v2(1, 0x11, v2Addrs("203.0.113.7:56324", "192.0.2.1:443")), "203.0.113.7:56324", "192.0.2.1:443"},
		{"v2 with TLVs", "10.0.0.2:1234", v2(1, 0x11, v2Addrs("203.0.113.7:56324", "192.0.2.1:443",
			append(append(tlv(0x02, "api.example.com"), tlv(0x05, "unique-id-0123456789")...), tlv(0x04, "")...)...)),
			"203.0.113.7:56324", "192.0.2.1:443"},
		{"v2 LOCAL", "10.0.0.2:1234", v2(0, 0x11, v2Addrs("203.0.113.7:56324", "192.0.2.1:443")), "", ""},
		{"v2 LOCAL without addresses", "10.0.0.2:1234", v2(0, 0x00, nil), "", ""},
		{"v2 UNSPEC", "10.0.0.2:1234", v2(1, 0x00, nil), "", ""},
		{"v2 UNIX stream", "10.0.0.2:1234", v2(1, 0x31, unix), "", ""},
		{"no header", "10.0.0.2:1234", "", "", ""},
		{"no header, P first", "10.0.0.2:1234", "", "", ""},
		{"no header, CR LF first", "10.0.0.2:1234", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pl, ln, log := newProxyListener(t)
				accepted := acceptAll(ln)
				payload := "GET / HTTP/1.1\r\n\r\n"
				switch tt.name {
				case "no header, P first":
					payload = "PUT / HTTP/1.1\r\n\r\n"
				case "no header, CR LF first":
					payload = "\r\n\r\nGET / HTTP/1.1\r\n\r\n"
				}
				c := pl.dial(tt.from)
				defer c.Close()
				send(c, tt.header+payload) // in one write: the payload is read ahead
				nc := <-accepted
				defer nc.Close()
				wantRemote, wantLoc := tt.wantRemote, tt.wantLoc
				if wantRemote == "" {
					wantRemote, wantLoc = tcpAddr(tt.from).String(), "192.0.2.100:9000"
				}
				if got := nc.RemoteAddr().String(); got != wantRemote {
					t.Errorf("RemoteAddr %s, want %s", got, wantRemote)
				}
				if got := nc.LocalAddr().String(); got != wantLoc {
					t.Errorf("LocalAddr %s, want %s", got, wantLoc)
				}
				if _, ok := nc.RemoteAddr().(*net.TCPAddr); !ok {
					t.Errorf("RemoteAddr is a %T", nc.RemoteAddr())
				}
				got := make([]byte, len(payload))
				if _, err := io.ReadFull(nc, got); err != nil || string(got) != payload {
					t.Errorf("read %q, %v; want %q", got, err, payload)
				}
				// And the connection goes on, both ways.
				send(c, "more")
				got = make([]byte, 4)
				if _, err := io.ReadFull(nc, got); err != nil || string(got) != "more" {
					t.Errorf("read %q, %v", got, err)
				}
				go nc.Write([]byte("answer"))
				if _, err := io.ReadFull(c, got[:4]); err != nil || string(got) != "answ" {
					t.Errorf("client read %q, %v", got, err)
				}
				if lines := log.lines("refused"); len(lines) > 0 {
					t.Errorf("logged %v", lines)
				}
				if u, ok := nc.(interface{ NetConn() net.Conn }); !ok || u.NetConn() == nil {
					t.Errorf("%T has no NetConn", nc)
				}
			})
		})
	}
}

// TestProxyProtocolRefused: from a trusted source, a malformed header, an
// oversized one and one cut short close the connection, which Accept never
// returns; each is logged with its reason. The connections after them are
// served.
func TestProxyProtocolRefused(t *testing.T) {
	for _, tt := range []struct{ name, header, reason string }{
		{"v1 unknown protocol", "PROXY TCP5 203.0.113.7 192.0.2.1 1 2\r\n", "malformed header"},
		{"v1 IPv6 in TCP4", "PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n", "malformed header"},
		{"v1 IPv4 in TCP6", "PROXY TCP6 203.0.113.7 192.0.2.1 1 2\r\n", "malformed header"},
		{"v1 missing field", "PROXY TCP4 203.0.113.7 192.0.2.1 1\r\n", "malformed header"},
		{"v1 extra field", "PROXY TCP4 203.0.113.7 192.0.2.1 1 2 3\r\n", "malformed header"},
		{"v1 double space", "PROXY TCP4  203.0.113.7 192.0.2.1 1 2\r\n", "malformed header"},
		{"v1 bad address", "PROXY TCP4 not-an-address 192.0.2.1 1 2\r\n", "malformed header"},
		{"v1 IPv4 with a leading zero", "PROXY TCP4 203.0.113.07 192.0.2.1 1 2\r\n", "malformed header"},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 2001:db8::1 1 2\r\n", "malformed header"},
		{"v1 port too high", "PROXY TCP4 203.0.113.7 192.0.2.1 65536 2\r\n", "malformed header"},
		{"v1 signed port", "PROXY TCP4 203.0.113.7 192.0.2.1 +1 2\r\n", "malformed header"},
		{"v1 LF alone", "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\n", "malformed header"},
		{"v1 lower case", "PROXY tcp4 203.0.113.7 192.0.2.1 1 2\r\n", "malformed header"},
		{"v1 without CRLF in 107 bytes", "PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n", "oversized header"},
		{"v2 version 1", strings.Replace(v2(1, 0x11, v2Addrs("203.0.113.7:1", "192.0.2.1:2")), "\n\x21", "\n\x11", 1), "malformed header"},
		{"v2 command 2", v2(2, 0x11, v2Addrs("203.0.113.7:1", "192.0.2.1:2")), "malformed header"},
		{"v2 family 4", v2(1, 0x41, v2Addrs("203.0.113.7:1", "192.0.2.1:2")), "malformed header"},
		{"v2 transport 3", v2(1, 0x13, v2Addrs("203.0.113.7:1", "192.0.2.1:2")), "malformed header"},
		{"v2 datagram", v2(1, 0x12, v2Addrs("203.0.113.7:1", "192.0.2.1:2")), "malformed header"},
		{"v2 IPv4 too short", v2(1, 0x11, v2Addrs("203.0.113.7:1", "192.0.2.1:2")[:11]), "malformed header"},
		{"v2 IPv6 too short", v2(1, 0x21, v2Addrs("[2001:db8::7]:1", "[2001:db8::1]:2")[:35]), "malformed header"},
		{"v2 oversized", v2(1, 0x11, make([]byte, 5000)), "oversized header"},
		{"v1 cut short", "PROXY TCP4 203.0.113.7", "truncated header"},
		{"v2 cut short", v2(1, 0x11, v2Addrs("203.0.113.7:1", "192.0.2.1:2"))[:20], "truncated header"},
		{"v2 signature cut short", "\r\n\r\n\x00\r\nQU", "truncated header"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pl, ln, log := newProxyListener(t)
				accepted := acceptAll(ln)
				c := pl.dial("10.0.0.2:1234")
				go func() {
					if tt.reason == "truncated header" {
						c.Write([]byte(tt.header))
						c.Close()
						return
					}
					c.Write([]byte(tt.header + "GET / HTTP/1.1\r\n\r\n"))
				}()
				synctest.Wait()
				if _, err := c.Read(make([]byte, 1)); err == nil {
					t.Error("the connection was not closed")
				}
				if lines := log.lines("connection refused"); len(lines) != 1 || lines[0].attrs["reason"] != tt.reason ||
					lines[0].attrs["remote"] != "10.0.0.2:1234" {
					t.Errorf("logged %v, want one line with the reason %q", log.records, tt.reason)
				}
				// The next connection is served.
				c2 := pl.dial("10.0.0.2:1234")
				defer c2.Close()
				send(c2, "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\n")
				nc := <-accepted
				defer nc.Close()
				if nc.RemoteAddr().String() != "203.0.113.7:1" {
					t.Errorf("accepted a connection from %s", nc.RemoteAddr())
				}
			})
		})
	}
}

// TestProxyProtocolUntrusted: a connection from a source that is not
// trusted is accepted at once, without waiting for its bytes; if they
// begin with a PROXY header, its first Read fails and it is closed and
// logged; otherwise its bytes are its own, and its addresses too.
func TestProxyProtocolUntrusted(t *testing.T) {
	for _, tt := range []struct{ name, send, reason string }{
		{"v1 header", "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nGET / HTTP/1.1\r\n\r\n", "untrusted source"},
		{"v1 signature alone", "PROXY ", "untrusted source"},
		{"v2 header", v2(1, 0x11, v2Addrs("203.0.113.7:1", "192.0.2.1:2")) + "GET / HTTP/1.1\r\n\r\n", "untrusted source"},
		{"v2 LOCAL", v2(0, 0x00, nil), "untrusted source"},
		{"HTTP", "GET / HTTP/1.1\r\n\r\n", ""},
		{"P", "PUT / HTTP/1.1\r\n\r\n", ""},
		{"PROXY without a space", "PROXYX", ""},
		{"CR LF", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", ""},
		{"frame", "\x00\x00\x00\x02{}", ""},
		{"one byte", "x", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pl, ln, log := newProxyListener(t)
				accepted := acceptAll(ln)
				c := pl.dial("198.51.100.1:4000")
				defer c.Close()
				nc := <-accepted // before the client sent anything
				defer nc.Close()
				if nc.RemoteAddr().String() != "198.51.100.1:4000" {
					t.Errorf("RemoteAddr %s", nc.RemoteAddr())
				}
				send(c, tt.send)
				got := make([]byte, len(tt.send))
				n, err := io.ReadFull(nc, got)
				if tt.reason == "" {
					if err != nil || string(got) != tt.send {
						t.Errorf("read %q, %v; want %q", got[:n], err, tt.send)
					}
					if len(log.records) > 0 {
						t.Errorf("logged %v", log.records)
					}
					return
				}
				if err == nil || n > 0 {
					t.Fatalf("read %q, %v: want an error", got[:n], err)
				}
				if _, err := nc.Read(got); err == nil {
					t.Error("a second read succeeded")
				}
				if _, err := c.Read(got); err == nil {
					t.Error("the connection was not closed")
				}
				if lines := log.lines("connection refused"); len(lines) != 1 || lines[0].attrs["reason"] != tt.reason {
					t.Errorf("logged %v", log.records)
				}
			})
		})
	}
}

// TestProxyProtocolUntrustedServerFirst: a server that speaks first to a
// client from a source that is not trusted is not held up; the client's
// bytes, beginning like a signature and ending short of one, are its own.
func TestProxyProtocolUntrustedServerFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, ln, _ := newProxyListener(t)
		accepted := acceptAll(ln)
		c := pl.dial("198.51.100.1:4000")
		nc := <-accepted
		go nc.Write([]byte("#CHALLENGE#"))
		got := make([]byte, 11)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "#CHALLENGE#" {
			t.Fatalf("client read %q, %v", got, err)
		}
		go func() {
			c.Write([]byte("PRO"))
			c.Close()
		}()
		all, err := io.ReadAll(nc)
		if err != nil || string(all) != "PRO" {
			t.Errorf("read %q, %v", all, err)
		}
		nc.Close()
	})
}

// TestProxyProtocolSlowHeader: a header is read in a goroutine of its own:
// a trusted source that sends part of one holds up no other connection,
// and its connection is closed at the header timeout, and logged. One that
// sends nothing by then is served as it is.
func TestProxyProtocolSlowHeader(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Second} {
		t.Run("timeout "+timeout.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				want := timeout
				if want == 0 {
					want = 5 * time.Second
				}
				pl, ln, log := newProxyListener(t, netutil.WithHeaderTimeout(timeout))
				accepted := acceptAll(ln)
				start := time.Now()
				slow := pl.dial("10.0.0.2:1000")
				send(slow, "PROXY TCP4 203.0.")
				silent := pl.dial("10.0.0.3:1000")
				fast := pl.dial("10.0.0.4:1000")
				send(fast, "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\n")
				if nc := <-accepted; nc.RemoteAddr().String() != "203.0.113.7:1" || time.Since(start) != 0 {
					t.Fatalf("accepted %s after %v, want the fast one at once", nc.RemoteAddr(), time.Since(start))
				}
				if _, err := slow.Read(make([]byte, 1)); err == nil {
					t.Fatal("the slow header's connection was not closed")
				}
				if d := time.Since(start); d != want {
					t.Errorf("closed after %v, want %v", d, want)
				}
				if lines := log.lines("connection refused"); len(lines) != 1 || lines[0].attrs["reason"] != "slow header" {
					t.Errorf("logged %v", log.records)
				}
				nc := <-accepted
				if nc.RemoteAddr().String() != "10.0.0.3:1000" || time.Since(start) != want {
					t.Errorf("accepted %s after %v, want the silent one after %v", nc.RemoteAddr(), time.Since(start), want)
				}
				// It is served as it is, a server speaking first.
				go nc.Write([]byte("hi"))
				got := make([]byte, 2)
				if _, err := io.ReadFull(silent, got); err != nil || string(got) != "hi" {
					t.Errorf("read %q, %v", got, err)
				}
				silent.Close()
				nc.Close()
			})
		})
	}
}

// TestProxyProtocolClosedAtOnce: a trusted source that connects and closes
// (a proxy's TCP health check) is not logged.
func TestProxyProtocolClosedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, ln, log := newProxyListener(t)
		accepted := acceptAll(ln)
		pl.dial("10.0.0.2:1000").Close()
		synctest.Wait()
		if len(log.records) > 0 || len(accepted) > 0 {
			t.Errorf("logged %v, accepted %d", log.records, len(accepted))
		}
	})
}

// TestProxyProtocolLogIsBounded: a flood of bad headers from one source
// is logged once, then counted every 10 s.
func TestProxyProtocolLogIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, ln, log := newProxyListener(t)
		acceptAll(ln)
		for range 100 {
			c := pl.dial("10.0.0.2:1000")
			send(c, "PROXY TCP9\r\n")
			c.Read(make([]byte, 1))
			c.Close()
		}
		for range 10 {
			c := pl.dial("198.51.100.1:1000")
			send(c, "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\n")
			c.Close()
		}
		synctest.Wait()
		if n := len(log.lines("connection refused")); n != 1 {
			t.Fatalf("%d lines for 100 refusals of one source and kind: %v", n, log.records)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		alike := log.lines("refused alike")
		if len(alike) != 1 || alike[0].attrs["count"] != "99" || alike[0].attrs["source"] != "10.0.0.2" || alike[0].attrs["reason"] != "malformed header" {
			t.Fatalf("after 10 s: %v", log.records)
		}
		// The untrusted connections closed before the server read them:
		// nothing was seen, nothing is logged.
	})
}

// TestProxyProtocolClose: Close ends Accept with net.ErrClosed and closes
// the connections whose header is being read.
func TestProxyProtocolClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, ln, log := newProxyListener(t)
		errc := make(chan error, 1)
		go func() {
			_, err := ln.Accept()
			errc <- err
		}()
		c := pl.dial("10.0.0.2:1000")
		send(c, "PROXY TCP4 ")
		synctest.Wait()
		ln.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept: %v", err)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("the connection whose header was read stayed open")
		}
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if len(log.records) > 0 {
			t.Errorf("logged %v", log.records)
		}
	})
}

// TestProxyProtocolBacklog: at most 256 connections wait between their
// accept and Accept; past that, the listener under it is not asked for
// more until Accept takes one.
func TestProxyProtocolBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl, ln, _ := newProxyListener(t)
		first := make(chan net.Conn)
		go func() {
			nc, _ := ln.Accept() // starts the accept loop
			first <- nc
		}()
		var clients []net.Conn
		for range 257 {
			c := pl.dial("10.0.0.2:1000")
			send(c, "PROXY UNKNOWN\r\n")
			clients = append(clients, c)
		}
		<-first // Accept took one: 256 wait
		synctest.Wait()
		dialed := make(chan net.Conn)
		go func() { dialed <- pl.dial("10.0.0.2:1000") }()
		synctest.Wait()
		select {
		case <-dialed:
			t.Fatal("a 258th connection was accepted with 256 waiting")
		default:
		}
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
		c := <-dialed
		c.Close()
		for _, c := range clients {
			c.Close()
		}
	})
}

// flakyListener fails its first Accept with a temporary error.
type flakyListener struct {
	*pipeListener
	failed bool
}

type tempErr struct{}

func (tempErr) Error() string   { return "too many open files" }
func (tempErr) Timeout() bool   { return false }
func (tempErr) Temporary() bool { return true }

func (l *flakyListener) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, tempErr{}
	}
	return l.pipeListener.Accept()
}

// TestProxyProtocolAcceptErrors: a temporary error of the listener under
// it passes to Accept, which goes on; another ends it.
func TestProxyProtocolAcceptErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := &flakyListener{pipeListener: newPipeListener()}
		ln, err := netutil.ProxyProtocol(pl, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ln.Accept(); !errors.As(err, new(tempErr)) {
			t.Fatalf("Accept: %v, want the temporary error", err)
		}
		go pl.dial("198.51.100.1:1000")
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
		pl.Close() // as if closed under it
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept: %v", err)
		}
		ln.Close()
	})
}

// TestProxyProtocolArguments: a nil listener, an invalid prefix and a
// negative timeout are errors.
func TestProxyProtocolArguments(t *testing.T) {
	pl := newPipeListener()
	for name, f := range map[string]func() (net.Listener, error){
		"nil listener":     func() (net.Listener, error) { return netutil.ProxyProtocol(nil, nil) },
		"invalid prefix":   func() (net.Listener, error) { return netutil.ProxyProtocol(pl, []netip.Prefix{{}}) },
		"negative timeout": func() (net.Listener, error) { return netutil.ProxyProtocol(pl, nil, netutil.WithHeaderTimeout(-1)) },
	} {
		if ln, err := f(); err == nil || ln != nil || !strings.HasPrefix(err.Error(), "netutil: ") {
			t.Errorf("%s: %v, %v", name, ln, err)
		}
	}
	if _, err := netutil.ProxyProtocol(pl, prefixes("::ffff:10.0.0.0/104"), nil); err != nil {
		t.Errorf("a nil option, an IPv4-mapped prefix: %v", err)
	}
}
