package deploy

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// haproxyTCP is README's HAProxy configuration for TCP frames: tcp mode,
// each replica checked by a TCP connect, connections spread round robin.
func haproxyTCP(listen string, replicas []*replica) string {
	var servers strings.Builder
	for i, r := range replicas {
		fmt.Fprintf(&servers, "\tserver r%d %s check inter 200ms fall 1 rise 2\n", i+1, r.tcp)
	}
	return fmt.Sprintf(`defaults
	mode tcp
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch
listen rpc
	bind %s
	balance roundrobin
%s`, listen, servers.String())
}

// TestLoadThroughProxiesWhileAReplicaIsKilled: rpcd load through nginx
// (HTTP, and TCP frames with the stream module) and HAProxy (http and tcp
// modes), each in front of three replicas, while one replica is SIGKILLed
// and restarted on its addresses: no call to the idempotent demo.echo
// fails, and every reply matches its request. The target is the
// balancer's URL as a list of one ("URL,"), so that rpcd's client sends an
// idempotent call again after a lost connection.
func TestLoadThroughProxiesWhileAReplicaIsKilled(t *testing.T) {
	for _, tc := range []struct{ proxy, scheme string }{
		{"nginx", "http"}, {"nginx", "tcp"}, {"haproxy", "http"}, {"haproxy", "tcp"},
	} {
		t.Run(tc.proxy+"-"+tc.scheme, func(t *testing.T) {
			var replicas []*replica
			for range 3 {
				replicas = append(replicas, startReplica(t, "127.0.0.1:0", "127.0.0.1:0", "-log-level", "debug"))
			}
			listen := freeAddr(t)
			target := "http://" + listen + "/RPC2,"
			switch {
			case tc.proxy == "nginx" && tc.scheme == "http":
				startNginx(t, listen, "", replicas)
			case tc.proxy == "nginx":
				tcpListen := freeAddr(t)
				startNginx(t, listen, tcpListen, replicas)
				target = "tcp://" + tcpListen + ","
			case tc.scheme == "http":
				startHAProxy(t, listen, haproxyHTTP(listen, replicas))
			default:
				startHAProxy(t, listen, haproxyTCP(listen, replicas))
				target = "tcp://" + listen + ","
			}
			load := exec.Command(buildRPCD(t), "load", "-target", target, "-clients", "8", "-calls", "1500",
				"-codecs", "json,msgpack,proto", "-timeout", "20s")
			out := &logBuffer{}
			load.Stdout, load.Stderr = out, out
			if err := load.Start(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan error, 1)
			go func() { ended <- load.Wait() }()
			// Replica 2 is killed while it serves the load.
			for deadline := time.Now().Add(time.Minute); replicas[1].calls("demo.echo") < 100; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("replica 2 got no share of the load:\n%s", out.String())
				}
			}
			served := replicas[1].calls("demo.echo")
			replicas[1].kill()
			time.Sleep(300 * time.Millisecond) // the load runs on without it a while; not a threshold
			replicas[1].restart()
			t.Logf("replica 2 served %d calls, was killed, and restarted", served)
			var err error
			select {
			case err = <-ended:
			case <-time.After(5 * time.Minute):
				load.Process.Kill()
				t.Fatalf("rpcd load did not finish:\n%s", out.String())
			}
			summary := out.String()
			if i := strings.LastIndex(summary, "\r"); i >= 0 {
				summary = summary[i+1:]
			}
			t.Logf("rpcd load through %s %s, replica 2 killed and restarted:\n%s", tc.proxy, tc.scheme, lastLines(summary, 8))
			if err != nil {
				t.Errorf("rpcd load: %v (it exits 1 when a call was lost, duplicated or mismatched)", err)
			}
		})
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
