package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const etcdBin = "/usr/bin/etcd"

// startEtcd starts a single-member etcd on free ports of 127.0.0.1, with
// its data in a temporary directory, until the end of the test, and
// returns its client address.
func startEtcd(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(etcdBin); err != nil {
		t.Skipf("no etcd server at %s (Debian's etcd-server package): %v", etcdBin, err)
	}
	client, peer := freeAddr(t), "http://"+freeAddr(t)
	out := &syncBuffer{}
	cmd := exec.Command(etcdBin, "--name", "default", "--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("etcd's output:\n%s", out.String())
		}
	})
	cli := etcdClient(t, client)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "ready")
		cancel()
		if err == nil {
			return client
		}
		select {
		case <-exited:
			t.Fatalf("etcd exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not ready: %v\n%s", err, out.String())
		}
	}
}

func etcdClient(t *testing.T, addr string) *clientv3.Client {
	t.Helper()
	cli, err := newEtcdClient([]string{addr}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// keys returns the keys under prefix.
func keys(t *testing.T, cli *clientv3.Client, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	slices.Sort(out)
	return out
}

// TestRegisterEtcd: rpcd -register puts its two listeners' URLs under the
// prefix; rpcd call and load find them there; once a shutdown starts, the
// keys are gone while a call in flight still runs, and that call succeeds.
func TestRegisterEtcd(t *testing.T) {
	etcdAddr := startEtcd(t)
	cli := etcdClient(t, etcdAddr)
	reg := "etcd://" + etcdAddr + "/services/rpcd"
	rs := startReplicas(t, 2, "-register", reg, "-register-ttl", "5s")
	want := func(rs []*replica) []string {
		var k []string
		for _, r := range rs {
			k = append(k, "/services/rpcd/http://"+r.http+"/RPC2", "/services/rpcd/tcp://"+r.tcp)
		}
		slices.Sort(k)
		return k
	}
	if got := keys(t, cli, "/services/rpcd/"); !slices.Equal(got, want(rs)) {
		t.Fatalf("keys under the prefix: %q, want %q", got, want(rs))
	}
	if out, stderr, code := rpcdCall(t, "call", reg, "demo.add", "1", "2"); code != 0 || out != "3\n" {
		t.Errorf("rpcd call %s demo.add 1 2: %q %q exit %d", reg, out, stderr, code)
	}
	for _, scheme := range []string{"tcp", "http"} {
		var stdout, stderr strings.Builder
		err := run(context.Background(), []string{"load", "-target", reg + "?scheme=" + scheme, "-balance", "rr",
			"-clients", "2", "-calls", "20", "-codecs", "json", "-timeout", "1m"}, &stdout, &stderr)
		t.Logf("%s%s", stdout.String(), stderr.String())
		if err != nil {
			t.Fatalf("rpcd load -target %s?scheme=%s: %v", reg, scheme, err)
		}
		counts := endpointCounts(stdout.String())
		if len(counts) != 2 {
			t.Errorf("endpoints %v, want the two replicas' %s URLs", counts, scheme)
		}
		for u, n := range counts {
			if !strings.HasPrefix(u, scheme+"://") || n == 0 {
				t.Errorf("endpoint %s answered %d calls", u, n)
			}
		}
	}

	// A call in flight holds the drain of the first replica.
	r := rs[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	call := make(chan error, 1)
	go func() {
		c := httpClient(t, "http://"+r.http+"/RPC2")
		call <- c.Call(ctx, "demo.sleep", nil, 600000)
	}()
	waitFor(t, func() bool { return strings.Contains(r.logs.String(), `msg="call started" method=demo.sleep`) }, "demo.sleep not started")
	r.stop()
	waitFor(t, func() bool { return slices.Equal(keys(t, cli, "/services/rpcd/"), want(rs[1:])) },
		"the draining replica's keys stay: %q", keys(t, cli, "/services/rpcd/"))
	select {
	case err := <-r.done:
		t.Fatalf("rpcd stopped with a call in flight: %v", err)
	default:
	}
	if code, body := get("http://" + r.http + "/readyz"); code != 503 {
		t.Errorf("/readyz while draining: %d %q", code, body)
	}
	// The other replica still answers, found in etcd.
	if out, stderr, code := rpcdCall(t, "call", reg, "demo.add", "1", "2"); code != 0 || out != "3\n" {
		t.Errorf("rpcd call %s demo.add 1 2 after a replica left: %q %q exit %d", reg, out, stderr, code)
	}
	cancel() // the call in flight ends: the drain ends
	<-call
	if err := <-r.done; err != nil {
		t.Errorf("the drained replica: %v", err)
	}
	if !strings.Contains(r.logs.String(), `msg="left etcd"`) {
		t.Errorf("leaving etcd not logged:\n%s", r.logs.String())
	}
}

// TestRegisterFlags: -register wants an etcd URL with a prefix, and an
// address to register: a listener on 0.0.0.0 needs -advertise.
func TestRegisterFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-register", "http://e:2379/p"}, "-register wants etcd://HOST:PORT/PREFIX"},
		{[]string{"-register", "etcd://e:2379"}, "needs a prefix"},
		{[]string{"-register", "etcd://e:2379/p?scheme=tcp"}, "scheme= is for clients"},
		{[]string{"-register", "etcd://e:2379/p", "-register-ttl", "500ms"}, "-register-ttl must be at least 1s"},
		{[]string{"-advertise", "h"}, "give -register too"},
		{[]string{"-register", "etcd://e:2379/p", "-advertise", "h:80"}, "without a port"},
		{[]string{"-max-conn-age", "-1s"}, "-max-conn-age must not be negative"},
		{[]string{"-proxy-protocol-from", "10.0.0.1/8"}, "host bits set"},
		{[]string{"-proxy-protocol-from", "nope"}, "no CIDR or address"},
	} {
		var stderr strings.Builder
		err := run(context.Background(), tt.args, &strings.Builder{}, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.msg) {
			t.Errorf("rpcd %q = %v (stderr %q), want an error with %q", tt.args, err, stderr.String(), tt.msg)
		}
	}
	etcdAddr := startEtcd(t)
	var stderr strings.Builder
	err := run(context.Background(), []string{"-http", "0.0.0.0:0", "-tcp", "", "-register", "etcd://" + etcdAddr + "/svc"}, &strings.Builder{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "give -advertise HOST") {
		t.Errorf("-register with a listener on 0.0.0.0 = %v", err)
	}
}
