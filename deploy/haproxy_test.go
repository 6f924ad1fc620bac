package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/auth"
	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// haproxyHTTP is the HAProxy configuration of README's "Running several
// replicas", in http mode: round robin over the replicas, each checked with
// GET /readyz, so a draining replica leaves the rotation.
func haproxyHTTP(listen string, replicas []*replica) string {
	var servers strings.Builder
	for i, r := range replicas {
		fmt.Fprintf(&servers, "\tserver r%d %s check inter 200ms fall 1 rise 2\n", i+1, r.http)
	}
	return fmt.Sprintf(`global
	maxconn 4096
defaults
	mode http
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch
frontend rpc
	bind %s
	default_backend rpcd
backend rpcd
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	http-reuse safe
%s`, listen, servers.String())
}

// startHAProxy runs haproxy with conf in the foreground and returns its
// address (listen).
func startHAProxy(t *testing.T, listen, conf string) {
	t.Helper()
	bin := need(t, "haproxy", "haproxy")
	path := writeFile(t, t.TempDir(), "haproxy.cfg", conf, 0o600)
	logs := startProgram(t, bin, "-db", "-f", path)
	waitListening(t, listen, logs.String)
}

// TestHMACRoundRobin: three replicas with the same key behind HAProxy's
// round robin; every HMAC-signed call succeeds, though the nonce a client
// got from one replica is checked by another, and each replica serves a
// share of the calls.
func TestHMACRoundRobin(t *testing.T) {
	dir := t.TempDir()
	keyPath := writeFile(t, dir, "k.key", "shared secret of the fleet", 0o600)
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, "127.0.0.1:0", "", "-auth-key-file", keyPath, "-log-level", "debug"))
	}
	listen := freeAddr(t)
	startHAProxy(t, listen, haproxyHTTP(listen, replicas))

	key, err := auth.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := httprpc.NewClient("http://"+listen+"/RPC2", jsoncodec.New(), httprpc.WithWrapper(key.SignHTTP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const calls = 300
	failed := 0
	for i := range calls {
		var sum int64
		if err := c.Call(context.Background(), "demo.add", &sum, i, 1); err != nil || sum != int64(i+1) {
			failed++
			if failed <= 3 {
				t.Errorf("call %d: %d, %v", i, sum, err)
			}
		}
	}
	spread := make([]int, len(replicas))
	for i, r := range replicas {
		spread[i] = r.calls("demo.add")
	}
	t.Logf("%d signed calls through HAProxy round robin: %d failed; served per replica %v", calls, failed, spread)
	for i, n := range spread {
		if n == 0 {
			t.Errorf("replica %d served no call: the calls were not spread, so nonces were not checked across replicas", i+1)
		}
	}
}
