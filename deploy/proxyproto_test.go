package deploy

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// callFrom makes a JSON-RPC demo.add call in a TCP frame to addr from the
// loopback address 127.0.0.2, so that the client's address and the
// proxy's (127.0.0.1) differ.
func callFrom(t *testing.T, addr string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	w := bufio.NewWriter(nc)
	if err := frame.Write(w, []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[2,3],"id":1}`)); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	reply, err := frame.Read(nc, nil, 1<<20)
	if err != nil || !strings.Contains(string(reply), `"result":5`) {
		t.Fatalf("demo.add through the proxy: %q, %v", reply, err)
	}
}

var remoteRE = regexp.MustCompile(`msg=call method=demo\.add .*remote=(\S+)`)

// remoteOf returns the remote address of the replica's demo.add call line.
func remoteOf(t *testing.T, r *replica) string {
	t.Helper()
	for range 200 {
		if m := remoteRE.FindStringSubmatch(r.logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no call line:\n%s", r.logs.String())
	return ""
}

// TestProxyProtocol: through HAProxy (tcp mode, send-proxy-v2) and nginx's
// stream module (proxy_protocol on), rpcd trusting the proxy's address
// (-proxy-protocol-from) logs the client's own address, 127.0.0.2, not the
// proxy's.
func TestProxyProtocol(t *testing.T) {
	for _, proxy := range []string{"haproxy", "nginx"} {
		t.Run(proxy, func(t *testing.T) {
			r := startReplica(t, "", "127.0.0.1:0", "-proxy-protocol-from", "127.0.0.1/32", "-log-level", "debug")
			listen := freeAddr(t)
			switch proxy {
			case "haproxy":
				startHAProxy(t, listen, fmt.Sprintf(`defaults
	mode tcp
	timeout connect 2s
	timeout client 60s
	timeout server 60s
listen rpc
	bind %s
	server r1 %s send-proxy-v2
`, listen, r.tcp))
			case "nginx":
				startNginxStream(t, listen, fmt.Sprintf(`	server {
		listen %s;
		proxy_pass %s;
		proxy_protocol on;
	}
`, listen, r.tcp))
			}
			callFrom(t, listen)
			if got := remoteOf(t, r); !strings.HasPrefix(got, "127.0.0.2:") {
				t.Errorf("the call line's remote is %s, want the client's 127.0.0.2", got)
			}
		})
	}
	// From an address it does not trust, a PROXY header closes the
	// connection, and is logged.
	r := startReplica(t, "", "127.0.0.1:0", "-proxy-protocol-from", "10.0.0.0/8")
	nc, err := net.Dial("tcp", r.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "PROXY TCP4 192.0.2.1 127.0.0.1 5555 9000\r\n")
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := nc.Read(make([]byte, 16)); err == nil {
		t.Errorf("a PROXY header from an untrusted address was answered (%d bytes)", n)
	}
	for i := 0; !strings.Contains(strings.ToLower(r.logs.String()), "proxy"); i++ {
		if i == 200 {
			t.Fatalf("the refused PROXY header was not logged:\n%s", r.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
