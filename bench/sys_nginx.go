package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// nginx in front of an HTTP row (issue 14, item 8): the rows "… via nginx"
// are their direct twins with nginx as a reverse proxy between client and
// server, as users deploy them. nginx runs one worker, in the foreground,
// from a configuration in a temporary directory; upstream connections are
// kept alive (64), as every proxy in production is configured.

// nginxBin is where Debian installs nginx; NGINX overrides it.
func nginxBin() string {
	if p := os.Getenv("NGINX"); p != "" {
		return p
	}
	return "/usr/sbin/nginx"
}

// startNginx runs nginx proxying to upstream and returns its address and
// what stops it.
func startNginx(ctx context.Context, upstream string) (string, func(), error) {
	bin, err := exec.LookPath(nginxBin())
	if err != nil {
		return "", nil, fmt.Errorf("nginx is not installed (%v); set NGINX to its path", err)
	}
	dir, err := os.MkdirTemp("", "bench-nginx-")
	if err != nil {
		return "", nil, err
	}
	// nginx takes no port 0: a free port, found by the system, is given to
	// it, and another if it was taken meanwhile.
	for try := 0; try < 5; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
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
	client_max_body_size 8m;
	upstream polyrpc {
		server %[2]s;
		keepalive 64;
	}
	server {
		listen %[3]s;
		keepalive_requests 10000;
		location / {
			proxy_pass http://polyrpc;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
`, dir, upstream, addr)
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
			os.RemoveAll(dir)
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-exited:
				stop = nil
			default:
			}
			if stop == nil {
				break
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return addr, stop, nil
			}
		}
		if stop != nil {
			stop()
			return "", nil, errors.New("nginx did not listen within 10 s")
		}
		if ctx.Err() != nil {
			os.RemoveAll(dir)
			return "", nil, ctx.Err()
		}
		// nginx exited: its port was taken; try another.
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	os.RemoveAll(dir)
	return "", nil, fmt.Errorf("nginx did not start: %s", log)
}
