package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// framed is msg framed as tcprpc frames it: a 4-byte big-endian length.
func framed(msg string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	return append(b, msg...)
}

// readFrame reads one frame from r.
func readFrame(t *testing.T, r io.Reader) (string, error) {
	t.Helper()
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, binary.BigEndian.Uint32(n[:]))
	_, err := io.ReadFull(r, b)
	return string(b), err
}

// rawConn dials addr with a deadline for the whole test's I/O.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute))
	return c
}

const addCall = `{"jsonrpc":"2.0","method":"demo.add","params":[2,3],"id":1}`

// TestProxyProtocol: with -proxy-protocol-from, a PROXY header from a
// trusted source makes the call log show the client it names, over TCP and
// HTTP, and X-Forwarded-For from a trusted source does over HTTP; a header
// from any other source, or a malformed one, closes the connection and is
// logged, and X-Forwarded-For from elsewhere is ignored.
func TestProxyProtocol(t *testing.T) {
	addr, _, _, logs := startRPCD(t, "-proxy-protocol-from", "127.0.0.1/32,::1", "-log-level", "debug")
	tcp := tcpAddr(t, logs)

	t.Run("tcp v1", func(t *testing.T) {
		c := rawConn(t, tcp)
		c.Write(append([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 56324 9000\r\n"), framed(addCall)...))
		if reply, err := readFrame(t, c); err != nil || !strings.Contains(reply, `"result":5`) {
			t.Fatalf("reply %q, %v", reply, err)
		}
		waitFor(t, func() bool {
			return strings.Contains(logs.String(), "msg=call method=demo.add codec=json transport=tcp remote=203.0.113.7:56324 ")
		}, "no call logged from 203.0.113.7:56324:\n%s", logs)
	})

	t.Run("tcp v2", func(t *testing.T) {
		// The binary header: signature, v2 PROXY, TCP over IPv6, 36
		// bytes of addresses and ports.
		h := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x24")
		h = append(h, net.ParseIP("2001:db8::7")...)
		h = append(h, net.ParseIP("2001:db8::1")...)
		h = binary.BigEndian.AppendUint16(h, 40001)
		h = binary.BigEndian.AppendUint16(h, 9000)
		c := rawConn(t, tcp)
		c.Write(append(h, framed(addCall)...))
		if reply, err := readFrame(t, c); err != nil || !strings.Contains(reply, `"result":5`) {
			t.Fatalf("reply %q, %v", reply, err)
		}
		waitFor(t, func() bool {
			return strings.Contains(logs.String(), "transport=tcp remote=[2001:db8::7]:40001 ")
		}, "no call logged from [2001:db8::7]:40001:\n%s", logs)
	})

	t.Run("http", func(t *testing.T) {
		c := rawConn(t, addr)
		c.Write([]byte("PROXY TCP4 198.51.100.9 127.0.0.1 41000 8000\r\n" +
			"POST /RPC2 HTTP/1.1\r\nHost: rpcd\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(addCall)) + "\r\n\r\n" + addCall))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"result":5`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		waitFor(t, func() bool {
			return strings.Contains(logs.String(), "transport=http remote=198.51.100.9:41000 ")
		}, "no call logged from 198.51.100.9:41000:\n%s", logs)
	})

	t.Run("x-forwarded-for", func(t *testing.T) {
		// A trusted source may connect without a header (a health check).
		req, _ := http.NewRequest("POST", "http://"+addr+"/RPC2", strings.NewReader(addCall))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "10.9.9.9, 192.0.2.55")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitFor(t, func() bool {
			return strings.Contains(logs.String(), "transport=http remote=192.0.2.55:0 ")
		}, "no call logged from 192.0.2.55:\n%s", logs)
	})

	t.Run("malformed", func(t *testing.T) {
		c := rawConn(t, tcp)
		c.Write([]byte("PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n"))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("read %d bytes, want the connection closed", n)
		}
		waitFor(t, func() bool {
			return strings.Contains(logs.String(), `msg="netutil: PROXY protocol: connection refused" remote=127.0.0.1:`)
		}, "the malformed header not logged:\n%s", logs)
	})
}

// TestProxyProtocolUntrusted: a PROXY header from a source not in
// -proxy-protocol-from closes the connection, which is logged, and
// X-Forwarded-For from it is not honoured.
func TestProxyProtocolUntrusted(t *testing.T) {
	addr, _, _, logs := startRPCD(t, "-proxy-protocol-from", "10.0.0.0/8", "-log-level", "debug")
	tcp := tcpAddr(t, logs)
	for _, a := range []string{tcp, addr} {
		c := rawConn(t, a)
		c.Write([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 56324 9000\r\n"))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s: read %d bytes, want the connection closed", a, n)
		}
	}
	waitFor(t, func() bool {
		return strings.Count(logs.String(), `msg="netutil: PROXY protocol: connection refused" remote=127.0.0.1:`) == 2
	}, "the headers from an untrusted source not logged twice:\n%s", logs)
	if strings.Contains(logs.String(), "203.0.113.7") {
		t.Errorf("an untrusted header's address was used:\n%s", logs)
	}

	// Without a header, the connection is served as any other.
	c, err := tcprpc.NewClient(tcp, jsonCodec(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int64
	if err := c.Call(context.Background(), "demo.add", &n, 2, 3); err != nil || n != 5 {
		t.Errorf("demo.add without a header: %d, %v", n, err)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/RPC2", strings.NewReader(addCall))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "192.0.2.55")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, func() bool {
		return regexp.MustCompile(`transport=http remote=127\.0\.0\.1:[1-9]`).MatchString(logs.String())
	}, "no call logged from 127.0.0.1:\n%s", logs)
	if strings.Contains(logs.String(), "192.0.2.55") {
		t.Errorf("X-Forwarded-For honoured from an untrusted source:\n%s", logs)
	}
}

// TestMaxConnAge: with -max-conn-age, a long-lived client's connection is
// closed between its calls once old, and the client dials again: the call
// log shows calls from new source ports, and no call fails but for one sent
// as its connection closed.
func TestMaxConnAge(t *testing.T) {
	addr, _, _, logs := startRPCD(t, "-max-conn-age", "200ms", "-log-level", "debug")
	remoteRE := regexp.MustCompile(`msg=call method=demo.add codec=json transport=(\w+) remote=(\S+) `)
	for _, tt := range []struct{ transport, url string }{{"tcp", "tcp://" + tcpAddr(t, logs)}, {"http", "http://" + addr + "/RPC2"}} {
		t.Run(tt.transport, func(t *testing.T) {
			var cf clientFlags
			cf.codec = "json"
			c, err := cf.dial(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns := func() int {
				seen := map[string]bool{}
				for _, m := range remoteRE.FindAllStringSubmatch(logs.String(), -1) {
					if m[1] == tt.transport {
						seen[m[2]] = true
					}
				}
				return len(seen)
			}
			calls, lost := 0, 0
			for deadline := time.Now().Add(time.Minute); conns() < 3; calls++ {
				if time.Now().After(deadline) {
					t.Fatalf("%d calls over %d connections in a minute, want 3 connections", calls, conns())
				}
				var n int64
				err := c.Call(context.Background(), "demo.add", &n, 2, 3)
				if err != nil && !isFault(err) {
					// netutil.MaxAge: a call sent just as the server
					// closed the connection is lost with it (a balancing
					// client sends an idempotent one again).
					t.Logf("call %d: %v", calls, err)
					lost++
					continue
				}
				if err != nil || n != 5 {
					t.Fatalf("call %d: %d, %v", calls, n, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("%d calls over %d connections, %d lost as a connection closed", calls, conns(), lost)
		})
	}
}
