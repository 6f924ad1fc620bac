package deploy

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/polyrpc/polyrpc/resolver/etcd"
	"github.com/polyrpc/polyrpc/rpc/cluster"
)

// startEtcd runs Debian's etcd on free loopback ports with a temporary data
// directory and returns its client address.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin := need(t, "etcd", "etcd-server")
	client, peer := freeAddr(t), "http://"+freeAddr(t)
	logs := startProgram(t, bin, "--name", "default", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer)
	waitListening(t, client, logs.String)
	return client
}

// TestEtcdRegistration: replicas register themselves in etcd (rpcd
// -register); a client watching the prefix spreads calls over them within
// ±20% of an even share; when one is killed under load no call to an
// idempotent method fails; a replica started later gets calls; one that
// drains (SIGTERM) leaves the list and gets none after it has stopped.
func TestEtcdRegistration(t *testing.T) {
	addr := startEtcd(t)
	reg := "etcd://" + addr + "/services/rpcd"
	start := func() *replica {
		return startReplica(t, "", "127.0.0.1:0", "-register", reg, "-register-ttl", "2s", "-log-level", "debug")
	}
	replicas := []*replica{start(), start(), start()}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := etcd.NewResolver(cli, "/services/rpcd")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(res, tcpDial, cluster.WithBalancer("rr"), cluster.WithIdempotent("demo.add"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); len(c.Endpoints()) < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the client knows %v", c.Endpoints())
		}
	}
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

	// Load from 8 goroutines while replicas come and go.
	l := startLoad(t, 8, func(g, i int) error {
		var sum int64
		if err := c.Call(ctx, "demo.add", &sum, g, i); err != nil || sum != int64(g+i) {
			return fmt.Errorf("demo.add(%d, %d) = %d, %v", g, i, sum, err)
		}
		return nil
	})
	defer l.end("under load while replicas come and go")

	replicas[0].kill() // its lease expires after the TTL; the client ejects it at once
	fourth := start()
	began := time.Now()
	for fourth.calls("demo.add") == 0 {
		if time.Since(began) > time.Minute {
			t.Fatal("the replica registered later got no call")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the replica registered later got its first call %v after it started serving", time.Since(began).Round(time.Millisecond))

	replicas[1].stop() // SIGTERM: revokes its lease, drains, exits
	after := replicas[1].calls("demo.add")
	l.wait(1000)
	if n := replicas[1].calls("demo.add"); n != after {
		t.Errorf("the drained replica served %d calls after it stopped", n-after)
	}
}
