package deploy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// startDnsmasq serves the SRV records _rpc._tcp.svc.test, one per replica's
// TCP listener (targets rN.svc.test, all 127.0.0.1), on a free loopback
// port, answering nothing else. It returns a resolver that asks it.
func startDnsmasq(t *testing.T, replicas []*replica) *net.Resolver {
	t.Helper()
	bin := need(t, "dnsmasq", "dnsmasq")
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"--keep-in-foreground", "--no-daemon", "--no-resolv", "--no-hosts", "--no-poll",
		"--conf-file=/dev/null", "--listen-address=" + host, "--bind-interfaces", "--port=" + port,
		"--pid-file=" + t.TempDir() + "/dnsmasq.pid", "--user=" + currentUser(), "--local=/svc.test/"}
	for i, r := range replicas {
		_, rport, _ := net.SplitHostPort(r.tcp)
		name := fmt.Sprintf("r%d.svc.test", i+1)
		args = append(args, "--srv-host=_rpc._tcp.svc.test,"+name+","+rport, "--host-record="+name+",127.0.0.1")
	}
	logs := startProgram(t, bin, args...)
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, srvs, err := res.LookupSRV(context.Background(), "rpc", "tcp", "svc.test"); err == nil && len(srvs) == len(replicas) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq does not answer the SRV records:\n%s", logs.String())
		}
	}
}

// tcpDial is a cluster.DialFunc for tcp:// endpoints.
func tcpDial(ctx context.Context, url string) (*rpc.Client, error) {
	return tcprpc.NewClient(strings.TrimPrefix(url, "tcp://"), jsoncodec.New())
}

// TestSRVBalancing: three replicas found through dnsmasq's SRV records; the
// client spreads calls over them within ±20% of an even share, and when
// one is killed under load no call to an idempotent method fails.
func TestSRVBalancing(t *testing.T) {
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, "", "127.0.0.1:0", "-log-level", "debug"))
	}
	res := startDnsmasq(t, replicas)
	r, err := cluster.DNS("tcp://_rpc._tcp.svc.test", cluster.WithDNSResolver(res), cluster.WithRefresh(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(r, tcpDial, cluster.WithBalancer("rr"), cluster.WithIdempotent("demo.add"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	const calls = 600
	for i := range calls {
		var sum int64
		if err := c.Call(ctx, "demo.add", &sum, i, 1); err != nil || sum != int64(i+1) {
			t.Fatalf("call %d: %d, %v", i, sum, err)
		}
	}
	for i, r := range replicas {
		n := r.calls("demo.add")
		t.Logf("replica %d served %d of %d", i+1, n, calls)
		if share := float64(n) / (calls / 3); share < 0.8 || share > 1.2 {
			t.Errorf("replica %d served %d calls, outside ±20%% of %d", i+1, n, calls/3)
		}
	}

	// Under load from 8 goroutines, replica 2 is killed.
	l := startLoad(t, 8, func(g, i int) error {
		var sum int64
		if err := c.Call(ctx, "demo.add", &sum, g, i); err != nil || sum != int64(g+i) {
			return fmt.Errorf("demo.add(%d, %d) = %d, %v", g, i, sum, err)
		}
		return nil
	})
	l.wait(500)
	replicas[1].kill()
	l.wait(2000)
	l.end("under load, replica 2 killed")
}
