package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

var metricsAddrRE = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// waitLog returns the first submatch of re in rpcd's log, once it is there.
func waitLog(t *testing.T, logs *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	for range 1000 {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s not in rpcd's log:\n%s", re, logs.String())
	return ""
}

// TestMetricsOffByDefault: without -metrics-addr, no metrics listener.
func TestMetricsOffByDefault(t *testing.T) {
	t.Parallel()
	_, stop, done, logs := startRPCD(t)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "serving metrics") {
		t.Errorf("metrics served without -metrics-addr:\n%s", logs.String())
	}
}

// TestMetricsScrapedByPrometheus runs Debian's prometheus against an rpcd
// serving -metrics-addr, makes calls over HTTP and TCP, and checks through
// Prometheus's query API that the calls it counts per method, code and
// transport are the calls made.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if _, err := os.Stat("/usr/bin/prometheus"); err != nil {
			t.Skip("prometheus is not installed (Debian's package prometheus; .ci/run installs it)")
		}
		promBin = "/usr/bin/prometheus"
	}
	httpAddr, _, _, logs := startRPCD(t, "-metrics-addr", "127.0.0.1:0")
	metricsAddr := waitLog(t, logs, metricsAddrRE)
	tcpAddr := waitLog(t, logs, tcpAddrRE)

	// /metrics answers, in Prometheus's text format, with the Go and
	// process collectors beside polyrpc's.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", "rpc_server_connections_open", "rpc_server_limit_hits_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}

	// The calls: per transport, codec, method and code.
	type key struct{ transport, system, method, code string }
	want := map[key]int{}
	ctx := context.Background()
	hc := httpClient(t, "http://"+httpAddr+"/")
	msgpack, ok := rpc.LookupCodec("msgpack")
	if !ok {
		t.Fatal("no msgpack codec")
	}
	tc, err := tcprpc.NewClient(tcpAddr, msgpack)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for _, c := range []struct {
		client    *rpc.Client
		transport string
		system    string
	}{{hc, "http", "jsonrpc"}, {tc, "tcp", "msgpackrpc"}} {
		n := 0
		if c.transport == "tcp" {
			n = 2 // other counts on each transport
		}
		for range 5 + n {
			var sum int64
			if err := c.client.Call(ctx, "demo.add", &sum, 2, 3); err != nil || sum != 5 {
				t.Fatalf("demo.add over %s = %d, %v", c.transport, sum, err)
			}
			want[key{c.transport, c.system, "demo.add", "0"}]++
		}
		for range 3 + n {
			if err := c.client.Call(ctx, "demo.fail", nil, -32004, "over the limit"); !rpcCode(err, -32004) {
				t.Fatalf("demo.fail -32004 over %s: %v", c.transport, err)
			}
			want[key{c.transport, c.system, "demo.fail", "-32004"}]++
		}
		for range 2 + n {
			if err := c.client.Call(ctx, "demo.fail", nil, 4242, "an application's own code"); !rpcCode(err, 4242) {
				t.Fatalf("demo.fail 4242 over %s: %v", c.transport, err)
			}
			want[key{c.transport, c.system, "demo.fail", "_OTHER"}]++
		}
		for i := range 4 + n {
			method := fmt.Sprintf("no.such.method%d", i) // each a label value, were it not bounded
			if err := c.client.Call(ctx, method, nil); !rpcCode(err, rpc.CodeMethodNotFound) {
				t.Fatalf("%s over %s: %v", method, c.transport, err)
			}
			want[key{c.transport, c.system, "_OTHER", "-32601"}]++
		}
	}
	wantStarted := map[key]int{}
	for k, n := range want {
		wantStarted[key{k.transport, k.system, k.method, ""}] += n
	}

	// Prometheus, scraping every second.
	dir := t.TempDir()
	promAddr := freeAddr(t)
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: rpcd\n    static_configs:\n      - targets: [%q]\n", metricsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	promLog := &syncBuffer{}
	cmd := exec.Command(promBin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
	)
	cmd.Stdout, cmd.Stderr = promLog, promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	// query returns the samples of an instant query, by their labels.
	query := func(q string, labels ...string) (map[key]int, error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Error  string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return nil, err
		}
		if r.Status != "success" {
			return nil, fmt.Errorf("%s: %s", r.Status, r.Error)
		}
		out := map[key]int{}
		for _, s := range r.Data.Result {
			v, _ := s.Value[1].(string)
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				return nil, fmt.Errorf("sample %v: %v", s.Value, err)
			}
			m := s.Metric
			out[key{m["transport"], m["rpc_system_name"], m["rpc_method"], m["rpc_status_code"]}] = n
		}
		return out, nil
	}
	// Poll until Prometheus has scraped the counts; the guard only stops a
	// hang.
	guard := time.Now().Add(3 * time.Minute)
	poll := func(q string, want map[key]int) {
		t.Helper()
		var got map[key]int
		var err error
		for {
			select {
			case err := <-exited:
				t.Fatalf("prometheus exited: %v\n%s", err, promLog.String())
			default:
			}
			got, err = query(q)
			if err == nil && equalCounts(got, want) {
				return
			}
			if time.Now().After(guard) {
				t.Fatalf("Prometheus's %s:\n%s\nwant:\n%s\n(last error: %v)\nprometheus log:\n%s", q, show(got), show(want), err, promLog.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	poll(`sum by (transport, rpc_system_name, rpc_method, rpc_status_code) (rpc_server_call_duration_seconds_count{job="rpcd"})`, want)
	poll(`sum by (transport, rpc_system_name, rpc_method) (rpc_server_calls_started_total{job="rpcd"})`, wantStarted)
	poll(`sum by (transport, rpc_system_name, rpc_method) (rpc_server_request_size_bytes_count{job="rpcd"})`, wantStarted)
	poll(`sum(rpc_server_calls_in_flight{job="rpcd"})`, map[key]int{{}: 0})
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func equalCounts[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func show[K comparable](m map[K]int) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, fmt.Sprintf("  %+v %d", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
