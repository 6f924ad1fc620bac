package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replica is an rpcd served in-process, one of several.
type replica struct {
	http, tcp string // host:port
	stop      func()
	done      <-chan error
	logs      *syncBuffer
}

// startReplicas starts n rpcd in-process, each logging its calls (debug).
func startReplicas(t *testing.T, n int, args ...string) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		addr, stop, done, logs := startRPCD(t, append([]string{"-log-level", "debug"}, args...)...)
		rs[i] = &replica{http: addr, tcp: tcpAddr(t, logs), stop: stop, done: done, logs: logs}
	}
	return rs
}

// calls counts the calls of method the replica logged as ended.
func (r *replica) calls(method string) int {
	return strings.Count(r.logs.String(), "msg=call method="+method+" ")
}

// list is the comma-separated list of the replicas' URLs: tcp://… or
// http://…/RPC2.
func list(rs []*replica, scheme string) string {
	var urls []string
	for _, r := range rs {
		if scheme == "tcp" {
			urls = append(urls, "tcp://"+r.tcp)
		} else {
			urls = append(urls, "http://"+r.http+"/RPC2")
		}
	}
	return strings.Join(urls, ",")
}

var endpointRE = regexp.MustCompile(`(?m)^  endpoint (\S+) +calls=(\d+) `)

// endpointCounts parses the per-endpoint lines of rpcd load's summary.
func endpointCounts(out string) map[string]int {
	m := map[string]int{}
	for _, e := range endpointRE.FindAllStringSubmatch(out, -1) {
		m[e[1]], _ = strconv.Atoi(e[2])
	}
	return m
}

// TestBalancedTargets: rpcd call, list and load over a comma-separated list
// of three replicas; rpcd load, round robin: every replica gets calls, the
// summary says how many each answered, and those are the calls each logged.
func TestBalancedTargets(t *testing.T) {
	rs := startReplicas(t, 3)
	for _, scheme := range []string{"tcp", "http"} {
		t.Run(scheme, func(t *testing.T) {
			target := list(rs, scheme)
			// Each rpcd call is a client of its own, which starts its round
			// robin at a random endpoint.
			for _, balance := range []string{"rr", "p2c"} {
				if out, stderr, code := rpcdCall(t, "call", "-balance", balance, target, "demo.add", "1", "2"); code != 0 || out != "3\n" {
					t.Fatalf("rpcd call -balance %s %s demo.add 1 2: %q %q exit %d", balance, target, out, stderr, code)
				}
			}
			if out, stderr, code := rpcdCall(t, "list", target); code != 0 || !strings.Contains(out, "demo.echo\n") {
				t.Errorf("rpcd list %s: %q %q exit %d", target, out, stderr, code)
			}

			echoes := make([]int, len(rs))
			for i, r := range rs {
				echoes[i] = r.calls("demo.echo")
			}
			var stdout, stderr strings.Builder
			err := run(context.Background(), []string{"load", "-target", target, "-balance", "rr", "-clients", "3", "-calls", "60",
				"-concurrency", "2", "-codecs", "json,msgpack", "-timeout", "1m"}, &stdout, &stderr)
			t.Logf("%s%s", stdout.String(), stderr.String())
			if err != nil {
				t.Fatalf("rpcd load: %v", err)
			}
			calls, lost, dup, mismatched := loadCounts(t, stdout.String())
			if calls != 180 || lost+dup+mismatched != 0 {
				t.Errorf("calls=%d lost=%d duplicated=%d mismatched=%d, want 180, none bad", calls, lost, dup, mismatched)
			}
			counts := endpointCounts(stdout.String())
			sum := 0
			for i, u := range strings.Split(target, ",") {
				n := counts[u]
				sum += n
				if n == 0 {
					t.Errorf("endpoint %s answered no call", u)
				}
				// The probes (one per codec) are not counted.
				r := rs[i]
				waitFor(t, func() bool { return r.calls("demo.echo")-echoes[i] >= n }, "replica %d logged fewer calls than the %d its endpoint answered", i, n)
			}
			if sum != calls {
				t.Errorf("the endpoints answered %d calls in all, want %d:\n%s", sum, calls, stdout.String())
			}
		})
	}
}

// TestBalancedLoadReplicaStops stops one of three replicas while rpcd load
// runs through all three: every call (demo.echo, idempotent) succeeds, by
// failover or a retry, and the other two take the rest.
func TestBalancedLoadReplicaStops(t *testing.T) {
	for _, scheme := range []string{"tcp", "http"} {
		t.Run(scheme, func(t *testing.T) {
			rs := startReplicas(t, 3)
			target := list(rs, scheme)
			type result struct {
				out string
				err error
			}
			res := make(chan result, 1)
			go func() {
				var stdout, stderr strings.Builder
				err := run(context.Background(), []string{"load", "-target", target, "-clients", "4", "-calls", "1500",
					"-concurrency", "2", "-codecs", "json", "-timeout", "1m"}, &stdout, &stderr)
				res <- result{stdout.String() + stderr.String(), err}
			}()
			// Stop the second replica once it has served some calls.
			victim := rs[1]
			waitFor(t, func() bool { return victim.calls("demo.echo") >= 50 }, "the replica to stop got no calls")
			victim.stop()
			if err := <-victim.done; err != nil {
				t.Errorf("the stopped replica: %v", err)
			}
			after := rs[0].calls("demo.echo") + rs[2].calls("demo.echo")
			r := <-res
			t.Log(r.out)
			if r.err != nil {
				t.Fatalf("rpcd load: %v", r.err)
			}
			calls, lost, dup, mismatched := loadCounts(t, r.out)
			if calls != 6000 || lost+dup+mismatched != 0 {
				t.Errorf("calls=%d lost=%d duplicated=%d mismatched=%d, want 6000, none bad", calls, lost, dup, mismatched)
			}
			if now := rs[0].calls("demo.echo") + rs[2].calls("demo.echo"); now <= after {
				t.Errorf("no call after the replica stopped (%d then %d): the load ended too soon to tell", after, now)
			}
		})
	}
}

// TestBalancedTargetNoEndpoint: a target whose endpoints all refuse
// connections fails at once, saying the call reached no server.
func TestBalancedTargetNoEndpoint(t *testing.T) {
	dead := []string{"tcp://" + freeAddr(t), "tcp://" + freeAddr(t)}
	_, stderr, code := rpcdCall(t, "call", "-timeout", "20s", strings.Join(dead, ","), "demo.add", "1", "2")
	if code != 2 || !strings.Contains(stderr, "reached no server") {
		t.Errorf("rpcd call over dead endpoints: exit %d, %q", code, stderr)
	}
}

func TestParseMultiTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		raw  string
		want *multiTarget // nil: one URL
		err  string
	}{
		{raw: "tcp://a:9000"},
		{raw: "http://h/a,b"}, // a comma inside a URL
		{raw: "tcp://a:9000,tcp://b:9000", want: &multiTarget{list: []string{"tcp://a:9000", "tcp://b:9000"}}},
		{raw: "http://a/x,y, tcp://b:9000,unix:/s", want: &multiTarget{list: []string{"http://a/x,y", "tcp://b:9000", "unix:/s"}}},
		{raw: "tcp://a:9000,", want: &multiTarget{list: []string{"tcp://a:9000"}}},
		{raw: "tcp://a:9000,,tcp://b:9000", err: "empty URL in the list"},
		{raw: ",tcp://b:9000", err: "empty URL in the list"},
		{raw: "tcp://a:9000,tcp://b", err: "tcp URL needs host:port"},
		{raw: "tcp://a:9000,etcd://e:2379/p", err: "a list holds URLs of endpoints"},
		{raw: "dns+tcp://rpc.example:9000", want: &multiTarget{dns: "tcp://rpc.example:9000", tlsName: "rpc.example"}},
		{raw: "dns+https://_rpc._tcp.example.com/RPC2", want: &multiTarget{dns: "https://_rpc._tcp.example.com/RPC2", tlsName: "example.com"}},
		{raw: "dns+tcp://rpc.example", err: "needs a port"},
		{raw: "dns+tcp://_rpc._tcp.example:9000", err: "takes no port"},
		{raw: "dns+unix:///s", err: "dns+ takes http, https, tcp or tls"},
		{raw: "etcd://127.0.0.1:2379,10.0.0.2:2379/svc/rpcd?scheme=tcp", want: &multiTarget{etcd: []string{"127.0.0.1:2379", "10.0.0.2:2379"}, prefix: "/svc/rpcd", scheme: "tcp"}},
		{raw: "etcd://u:p@e:2379/svc", want: &multiTarget{raw: "etcd://u:xxxxx@e:2379/svc", etcd: []string{"e:2379"}, prefix: "/svc", user: "u", password: "p"}},
		{raw: "etcd://e:2379/", err: "needs a prefix"},
		{raw: "etcd://e/svc", err: "host:port"},
		{raw: "etcd://e:2379/svc?scheme=ftp", err: "scheme=ftp"},
		{raw: "etcd://e:2379/svc?x=1", err: `unknown parameter "x"`},
	} {
		got, err := parseMultiTarget(tt.raw)
		switch {
		case tt.err != "":
			var ee exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, tt.err) {
				t.Errorf("parseMultiTarget(%q) = %v, want a usage error with %q", tt.raw, err, tt.err)
			}
		case err != nil:
			t.Errorf("parseMultiTarget(%q): %v", tt.raw, err)
		case tt.want == nil:
			if got != nil {
				t.Errorf("parseMultiTarget(%q) = %+v, want one URL", tt.raw, got)
			}
		default:
			if tt.want.raw == "" {
				tt.want.raw = tt.raw
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("parseMultiTarget(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
		}
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
	}
}

const dnsmasqBin = "/usr/sbin/dnsmasq"

// TestBalancedDNS: three replicas found through SRV records that dnsmasq
// serves (dns+tcp://_rpc._tcp.NAME, -dns-server), and a name's A record
// (dns+http://NAME:PORT/RPC2): rpcd load spreads its calls over them all.
func TestBalancedDNS(t *testing.T) {
	if _, err := os.Stat(dnsmasqBin); err != nil {
		t.Skipf("no dnsmasq at %s (Debian's dnsmasq-base package): %v", dnsmasqBin, err)
	}
	rs := startReplicas(t, 3)
	server := freeAddr(t)
	host, port, _ := net.SplitHostPort(server)
	args := []string{"-k", "--conf-file=/dev/null", "--port=" + port, "--listen-address=" + host, "--bind-interfaces",
		"--no-resolv", "--no-hosts", "--log-facility=-", "--pid-file=", "--host-record=r.rpc.test," + host}
	for _, r := range rs {
		_, p, _ := net.SplitHostPort(r.tcp)
		args = append(args, "--srv-host=_rpc._tcp.rpc.test,r.rpc.test,"+p)
	}
	out := &syncBuffer{}
	cmd := exec.Command(dnsmasqBin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dnsmasq: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("dnsmasq's output:\n%s", out.String())
		}
	})
	waitFor(t, func() bool { return strings.Contains(out.String(), "started") }, "dnsmasq did not start:\n%s", out)

	_, httpPort, _ := net.SplitHostPort(rs[0].http)
	for _, tt := range []struct {
		target string
		want   []string
	}{
		{"dns+tcp://_rpc._tcp.rpc.test", strings.Split(list(rs, "tcp"), ",")},
		{"dns+http://r.rpc.test:" + httpPort + "/RPC2", []string{"http://" + rs[0].http + "/RPC2"}},
	} {
		var stdout, stderr strings.Builder
		err := run(context.Background(), []string{"load", "-dns-server", server, "-target", tt.target, "-balance", "rr",
			"-clients", "3", "-calls", "30", "-codecs", "json", "-timeout", "1m"}, &stdout, &stderr)
		t.Logf("%s%s", stdout.String(), stderr.String())
		if err != nil {
			t.Fatalf("rpcd load -target %s: %v", tt.target, err)
		}
		counts := endpointCounts(stdout.String())
		if len(counts) != len(tt.want) {
			t.Errorf("%s: endpoints %v, want %q", tt.target, counts, tt.want)
		}
		for _, u := range tt.want {
			if counts[u] == 0 {
				t.Errorf("%s: endpoint %s answered no call", tt.target, u)
			}
		}
	}
}
