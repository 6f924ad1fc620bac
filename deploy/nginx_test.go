package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// streamModule is where Debian's libnginx-mod-stream puts the stream module.
const streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// nginxConf is the nginx configuration of README's "Running several
// replicas": an HTTP upstream of the replicas' HTTP listeners with kept-alive
// connections and, with the stream module, a TCP proxy of their frame
// listeners. A request whose upstream connection fails, or that a replica
// answers 503 (its memory budget, say), goes to the next replica, POSTs
// included (non_idempotent): a replica that drains (SIGTERM) never fails a
// request it read, so a failed connection to it is a request it did not
// process (a kept-alive connection it closed as nginx reused it). A
// replica that crashes (SIGKILL) may fail one it ran: keep non_idempotent
// only where methods are idempotent, as rpcd's demo methods are.
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
			proxy_next_upstream error timeout http_503 non_idempotent;
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
// has no active health checks: while it drains its responses say
// "Connection: close", so nginx keeps few idle connections to it; once its
// listener closed, nginx's connections are refused, and a kept-alive one it
// closes as nginx reuses it carries a request it did not process: either
// way the request goes to the next replica. A client that does not retry
// loses no call.
func TestDrainBehindNginx(t *testing.T) {
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, "127.0.0.1:0", "", "-drain-delay", "500ms", "-log-level", "debug"))
	}
	listen := freeAddr(t)
	startNginx(t, listen, "", replicas)
	c, err := httprpc.NewClient("http://"+listen+"/RPC2", jsoncodec.New())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ms int64
				if err := c.Call(ctx, "demo.sleep", &ms, (g+i)%5); err != nil || ms != int64((g+i)%5) {
					if failed.Add(1) <= 3 {
						t.Errorf("a call failed while a replica drained: %d, %v", ms, err)
					}
				}
				done.Add(1)
			}
		})
	}
	for done.Load() < 300 {
		time.Sleep(10 * time.Millisecond)
	}
	replicas[1].stop()
	at := done.Load()
	for done.Load() < at+600 {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls through nginx; replica 2 served %d; %d failed", done.Load(), replicas[1].calls("demo.sleep"), failed.Load())
	if failed.Load() > 0 {
		t.Logf("nginx: %s", nginxLog(t))
	}
}

var nginxLogs func() string

func nginxLog(t *testing.T) string { return nginxLogs() }

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
