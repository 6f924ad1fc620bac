package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polyrpc/polyrpc/resolver/etcd"
)

// parseRegister reads -register: etcd://HOST:PORT[,HOST:PORT...]/PREFIX.
func parseRegister(raw string) (*multiTarget, error) {
	if !strings.HasPrefix(strings.ToLower(raw), "etcd://") {
		return nil, fmt.Errorf("rpcd: -register wants etcd://HOST:PORT/PREFIX, not %q", raw)
	}
	t, err := parseEtcdTarget(raw)
	if err != nil {
		if ee := (exitError{}); errors.As(err, &ee) {
			return nil, fmt.Errorf("rpcd: -register: %s", strings.TrimPrefix(ee.msg, "rpcd: "))
		}
		return nil, err
	}
	if t.scheme != "" {
		return nil, fmt.Errorf("rpcd: -register %q: scheme= is for clients; rpcd registers each of its listeners", raw)
	}
	return t, nil
}

// advertisedAddr is the host:port to register for a listener at addr:
// -advertise's host with the listener's port, else the listener's own
// address, unless it is unspecified (0.0.0.0, ::), which no client can
// call.
func advertisedAddr(addr net.Addr, advertise, flagName string) (string, error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "", err
	}
	if advertise != "" {
		return net.JoinHostPort(advertise, port), nil
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return "", fmt.Errorf("rpcd: -register: %s listens on %s, which is no address to call: give -advertise HOST, the name or address clients reach this instance at", flagName, addr)
	}
	return addr.String(), nil
}

// registration is rpcd's registration in etcd (-register): one key per
// listener, each under a lease kept alive until leave.
type registration struct {
	once   sync.Once
	cli    *clientv3.Client
	cancel context.CancelFunc
	done   []<-chan struct{}
	keys   []string
	log    *slog.Logger
}

// registerEtcd puts urls under the prefix of t, each under a lease of ttl kept
// alive until leave. It returns once they are all in place, or the error
// that kept one out, having removed the others.
func registerEtcd(t *multiTarget, urls []string, ttl time.Duration, log *slog.Logger) (*registration, error) {
	cli, err := newEtcdClient(t.etcd, t.user, t.password)
	if err != nil {
		return nil, fmt.Errorf("rpcd: -register: etcd at %s: %w", strings.Join(t.etcd, ","), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &registration{cli: cli, cancel: cancel, log: log}
	prefix := t.prefix
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	for _, u := range urls {
		done, err := etcd.Register(ctx, cli, prefix, u, ttl, etcd.WithLogger(log))
		if err != nil {
			r.leave()
			return nil, fmt.Errorf("rpcd: -register: %w", err)
		}
		r.done = append(r.done, done)
		r.keys = append(r.keys, prefix+u)
	}
	log.Info("registered in etcd", "etcd", strings.Join(t.etcd, ","), "keys", r.keys, "ttl", ttl)
	return r, nil
}

// leave revokes the leases, which removes the keys at once (each revoke
// bounded by 5s: else the key goes when its lease expires), and closes the
// client of etcd. It may be called more than once, and at once: every call
// returns when that is done.
func (r *registration) leave() {
	if r == nil {
		return
	}
	r.once.Do(func() {
		r.cancel()
		for _, d := range r.done {
			<-d
		}
		r.cli.Close()
		if len(r.keys) > 0 {
			r.log.Info("left etcd", "keys", r.keys)
		}
	})
}

// registerListeners registers the URLs of the listeners with -register:
// http(s)://HOST:PORT/RPC2 and tcp://HOST:PORT (tls:// with TLS). It
// returns nil, nil without -register.
func registerListeners(cfg config, httpLn, tcpLn net.Listener, withTLS bool, log *slog.Logger) (*registration, error) {
	if cfg.registerEtcd == nil {
		return nil, nil
	}
	var urls []string
	if httpLn != nil {
		addr, err := advertisedAddr(httpLn.Addr(), cfg.advertiseHost, "-http")
		if err != nil {
			return nil, err
		}
		scheme := "http"
		if withTLS {
			scheme = "https"
		}
		urls = append(urls, scheme+"://"+addr+"/RPC2")
	}
	if tcpLn != nil {
		addr, err := advertisedAddr(tcpLn.Addr(), cfg.advertiseHost, "-tcp")
		if err != nil {
			return nil, err
		}
		scheme := "tcp"
		if withTLS {
			scheme = "tls"
		}
		urls = append(urls, scheme+"://"+addr)
	}
	return registerEtcd(cfg.registerEtcd, urls, cfg.registerTTL, log)
}
