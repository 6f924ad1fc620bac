package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// streamModule is where Debian's libnginx-mod-stream puts the stream module.
const streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// nginxConf is the nginx configuration of README's "Running several
// replicas": an HTTP upstream of the replicas' HTTP listeners with kept-alive
// connections and, with the stream module, a TCP proxy of their frame
// listeners. A request goes to the next replica only if it was not sent
// (proxy_next_upstream error timeout, without non_idempotent, which would
// run twice a call whose replica died after it got it): a call lost with
// its connection is the client's to send again, if its method is
// idempotent.
func nginxConf(dir, httpListen, tcpListen string, replicas []*replica) string {
	var load, httpServers, tcpServers strings.Builder
	if tcpListen != "" {
		if _, err := os.Stat(streamModule); err == nil {
			fmt.Fprintf(&load, "load_module %s;\n", streamModule)
		}
	}
	for _, r := range replicas {
		fmt.Fprintf(&httpServers, "\t\tserver %s max_fails=1 fail_timeout=2s;\n", r.http)
		if r.tcp != "" {
			fmt.Fprintf(&tcpServers, "\t\tserver %s max_fails=1 fail_timeout=2s;\n", r.tcp)
		}
	}
	conf := fmt.Sprintf(`%[1]sdaemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream rpcd_http {
%[3]s		keepalive 32;
	}
	server {
		listen %[4]s;
		location / {
			proxy_pass http://rpcd_http;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_next_upstream error timeout;
			proxy_next_upstream_tries 3;
		}
	}
}
`, load.String(), dir, httpServers.String(), httpListen)
	if tcpListen != "" {
		conf += fmt.Sprintf(`stream {
	upstream rpcd_tcp {
%s	}
	server {
		listen %s;
		proxy_pass rpcd_tcp;
		proxy_next_upstream on;
		proxy_connect_timeout 2s;
	}
}
`, tcpServers.String(), tcpListen)
	}
	return conf
}

// startNginx runs nginx with the configuration of nginxConf.
func startNginx(t *testing.T, httpListen, tcpListen string, replicas []*replica) {
	t.Helper()
	bin := need(t, "nginx", "nginx")
	if tcpListen != "" {
		if _, err := os.Stat(streamModule); err != nil {
			t.Skipf("nginx's stream module is not installed (Debian package libnginx-mod-stream): %v", err)
		}
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "nginx.conf", nginxConf(dir, httpListen, tcpListen, replicas), 0o600)
	logs := startProgram(t, bin, "-p", dir, "-c", path, "-e", dir+"/error.log")
	errLog := func() string {
		b, _ := os.ReadFile(dir + "/error.log")
		return logs.String() + string(b)
	}
	nginxLogs = errLog
	waitListening(t, httpListen, errLog)
	if tcpListen != "" {
		waitListening(t, tcpListen, errLog)
	}
}

// TestDrainBehindNginx: a replica told to stop (SIGTERM) behind nginx, which
// has no active health checks: it keeps serving while it drains, its
// responses saying "Connection: close"; once its listener closed, nginx's
// connections to it are refused and requests go to the next replica. A call
// sent on a kept-alive connection just as the replica closed it fails with
// 502 at nginx; rpcd load, given the balancer as a list of one, sends the
// idempotent demo.echo again: none is lost, every reply matches.
func TestDrainBehindNginx(t *testing.T) {
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, "127.0.0.1:0", "", "-drain-delay", "500ms", "-log-level", "debug"))
	}
	listen := freeAddr(t)
	startNginx(t, listen, "", replicas)
	load := exec.Command(buildRPCD(t), "load", "-target", "http://"+listen+"/RPC2,", "-clients", "8", "-calls", "1500",
		"-codecs", "json,msgpack,proto", "-timeout", "20s")
	out := &logBuffer{}
	load.Stdout, load.Stderr = out, out
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- load.Wait() }()
	for deadline := time.Now().Add(time.Minute); replicas[1].calls("demo.echo") < 100; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("replica 2 got no share of the load:\n%s", out.String())
		}
	}
	replicas[1].stop() // SIGTERM, and wait until it exited
	var err error
	select {
	case err = <-ended:
	case <-time.After(5 * time.Minute):
		load.Process.Kill()
		t.Fatalf("rpcd load did not finish:\n%s", out.String())
	}
	t.Logf("replica 2 served %d calls and drained; rpcd load through nginx:\n%s", replicas[1].calls("demo.echo"), lastLines(out.String(), 3))
	if err != nil {
		t.Errorf("rpcd load: %v (it exits 1 when a call was lost, duplicated or mismatched)\nnginx: %s", err, nginxLogs())
	}
}

var nginxLogs func() string

// startNginxStream runs nginx with the stream module and the servers given
// (server blocks of a stream block).
func startNginxStream(t *testing.T, listen, servers string) {
	t.Helper()
	bin := need(t, "nginx", "nginx")
	load := ""
	if _, err := os.Stat(streamModule); err == nil {
		load = "load_module " + streamModule + ";\n"
	} else if out, _ := exec.Command(bin, "-V").CombinedOutput(); !strings.Contains(string(out), "--with-stream ") {
		t.Skipf("nginx's stream module is not installed (Debian package libnginx-mod-stream)")
	}
	dir := t.TempDir()
	conf := fmt.Sprintf("%sdaemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\nevents { worker_connections 1024; }\nstream {\n%s}\n", load, dir, dir, servers)
	path := writeFile(t, dir, "nginx.conf", conf, 0o600)
	logs := startProgram(t, bin, "-p", dir, "-c", path, "-e", dir+"/error.log")
	waitListening(t, listen, func() string {
		b, _ := os.ReadFile(dir + "/error.log")
		return logs.String() + string(b)
	})
}
