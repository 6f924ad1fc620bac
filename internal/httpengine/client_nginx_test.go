package httpengine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// nginxPath is where Debian installs nginx; NGINX overrides it.
func nginxPath() string {
	if p := os.Getenv("NGINX"); p != "" {
		return p
	}
	return "/usr/sbin/nginx"
}

// startNginx runs nginx in the foreground, as a reverse proxy on 127.0.0.1
// to upstream with kept-alive upstream connections, closing each client
// connection after keepaliveRequests requests (keepalive_requests, whose
// default was 100 before nginx 1.19.10, and is Apache's
// MaxKeepAliveRequests default). It returns nginx's address, and skips the
// test if nginx is not installed.
func startNginx(t *testing.T, upstream string, keepaliveRequests int) string {
	t.Helper()
	bin := nginxPath()
	if _, err := exec.LookPath(bin); err != nil {
		t.Skipf("nginx is not installed (%v): set NGINX to its path to run this test", err)
	}
	dir := t.TempDir()
	// nginx takes no port 0: it gets a free port, and another if that one
	// was taken meanwhile.
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream polyrpc {
		server %[2]s;
		keepalive 64;
	}
	server {
		listen %[3]s;
		keepalive_requests %[4]d;
		location / {
			proxy_pass http://polyrpc;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
`, dir, upstream, addr, keepaliveRequests)
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting nginx: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitListening(addr, exited); err != nil {
			cmd.Process.Kill()
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			if try < 3 && strings.Contains(string(log)+stderr.String(), "in use") {
				continue
			}
			t.Fatalf("nginx did not start: %v\n%s%s", err, stderr.String(), log)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
			if log, _ := os.ReadFile(filepath.Join(dir, "error.log")); len(log) > 0 {
				t.Logf("nginx's error log:\n%s", log)
			}
		})
		return addr
	}
}

// waitListening waits until addr accepts connections, or the process
// exits.
func waitListening(addr string, exited <-chan error) error {
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("nginx exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

// serveEcho runs an httpengine.Server answering every request with its
// body, on 127.0.0.1, and returns its address.
func serveEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpengine.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	})}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return ln.Addr().String()
}

// nginxCalls is how many calls TestClientPipelineThroughNginx makes;
// NGINX_CALLS overrides it.
func nginxCalls(t *testing.T) int {
	if s := os.Getenv("NGINX_CALLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("NGINX_CALLS: %v", err)
		}
		return n
	}
	if testing.Short() {
		return 4000
	}
	return 40000
}

// TestClientPipelineThroughNginx makes 40,000 pipelined calls from 64
// goroutines through a real nginx that closes each client connection after
// 100 (then 1000) requests, announcing it with Connection: close on the
// last response: the requests pipelined behind that response, which nginx
// does not serve, must go again on another connection, and every call get
// its own reply. Before they went again only once, 13 to 28 calls in 40,000
// failed with keepalive_requests 100.
func TestClientPipelineThroughNginx(t *testing.T) {
	upstream := serveEcho(t)
	for _, keepalive := range []int{100, 1000} {
		t.Run(fmt.Sprintf("keepalive_requests=%d", keepalive), func(t *testing.T) {
			addr := startNginx(t, upstream, keepalive)
			rt := &httpengine.RoundTripper{Pipeline: 16}
			defer rt.CloseIdleConnections()
			url := "http://" + addr + "/RPC2"
			const goroutines = 64
			calls := nginxCalls(t)
			var next, failed atomic.Int64
			var mu sync.Mutex
			var errs []string
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(calls) {
							return
						}
						want := fmt.Sprintf("call %d %s", i, strings.Repeat("x", int(i%200)))
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						got, err := pipePost(ctx, rt, url, want)
						cancel()
						if err == nil && got != want {
							err = fmt.Errorf("reply %.40q to call %.40q", got, want)
						}
						if err != nil {
							failed.Add(1)
							mu.Lock()
							if len(errs) < 10 {
								errs = append(errs, err.Error())
							}
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%d calls through nginx with keepalive_requests %d: %d failed", calls, keepalive, failed.Load())
			if n := failed.Load(); n > 0 {
				t.Errorf("%d of %d calls failed, the first ones with:\n%s", n, calls, strings.Join(errs, "\n"))
			}
		})
	}
}
