// Package etcd finds the endpoints of a service in etcd, for a balancing
// client (package rpc/cluster), and registers a server's endpoint there.
//
// Each key under a prefix holds one endpoint's URL (tcp://10.0.0.1:9000,
// http://10.0.0.2:8080/rpc, ...). A server registers its endpoint with
// Register, under a lease that it keeps alive while it runs and revokes when
// it stops, so that an endpoint leaves the list when its server stops or
// dies (the lease's TTL later). A Resolver watches the prefix and tells the
// client every change; when etcd cannot be reached, the client keeps the
// endpoints it knew.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Option configures a Resolver or a registration.
type Option interface {
	apply(*config) error
}

type config struct {
	log     *slog.Logger
	timeout time.Duration
}

type option func(*config) error

func (o option) apply(c *config) error { return o(c) }

// WithLogger gives a logger to a Resolver, which logs at Warn level the
// failures of etcd it gets over, or to Register, which logs at Warn level a
// lease it lost and registers again. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) error { c.log = l; return nil })
}

// WithTimeout bounds each request to etcd that is not a watch: a read of
// the prefix, a lease grant, a put, a revoke. The default is 5s.
func WithTimeout(d time.Duration) Option {
	return option(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("etcd: WithTimeout(%v): negative", d)
		}
		c.timeout = d
		return nil
	})
}

func newConfig(opts []Option) (config, error) {
	var cfg config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.timeout == 0 {
		cfg.timeout = 5 * time.Second
	}
	return cfg, nil
}

// normPrefix ends prefix with a slash, so that the prefix /svc/a does not
// take the keys of /svc/ab.
func normPrefix(prefix string) (string, error) {
	if prefix == "" || prefix == "/" {
		return "", errors.New("etcd: empty prefix")
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix, nil
}

// Resolver gives the endpoints registered under a prefix of etcd. It
// implements cluster.Resolver.
type Resolver struct {
	cli    *clientv3.Client
	prefix string
	cfg    config
}

// NewResolver returns a resolver of the endpoints under prefix, to which a
// slash is added if it has none. It fails for a nil client, an empty prefix
// and an invalid option.
func NewResolver(cli *clientv3.Client, prefix string, opts ...Option) (*Resolver, error) {
	if cli == nil {
		return nil, errors.New("etcd: NewResolver: nil client")
	}
	prefix, err := normPrefix(prefix)
	if err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Resolver{cli: cli, prefix: prefix, cfg: cfg}, nil
}

// Resolve returns the endpoints under the prefix now, sorted.
func (r *Resolver) Resolve(ctx context.Context) ([]string, error) {
	eps, _, err := r.get(ctx)
	if err != nil {
		return nil, err
	}
	return sorted(eps), nil
}

// get reads the prefix: the endpoints by key, and the revision read.
func (r *Resolver) get(ctx context.Context) (map[string]string, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	resp, err := r.cli.Get(ctx, r.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: reading %s: %w", r.prefix, err)
	}
	eps := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if len(kv.Value) > 0 {
			eps[string(kv.Key)] = string(kv.Value)
		}
	}
	return eps, resp.Header.Revision, nil
}

// sorted returns the distinct endpoints of eps, sorted.
func sorted(eps map[string]string) []string {
	out := make([]string, 0, len(eps))
	for _, u := range eps {
		out = append(out, u)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Watch reads the prefix, tells the endpoints, and watches the prefix for
// changes, which it tells, until ctx ends. When etcd fails (it cannot be
// reached, the watch was canceled or compacted), it tells the error and
// reads the prefix again after a delay that grows to 10s; the client keeps
// the endpoints it knew meanwhile.
func (r *Resolver) Watch(ctx context.Context, update func([]string, error)) {
	var last []string
	told := false
	for fails := 0; ; {
		eps, rev, err := r.get(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.cfg.log.Warn("etcd: resolver: reading the prefix failed; the endpoints known stay", "prefix", r.prefix, "err", err)
			update(nil, err)
			told = false
			fails++
			if !sleep(ctx, retryDelay(fails)) {
				return
			}
			continue
		}
		fails = 0
		if now := sorted(eps); !told || !slices.Equal(now, last) {
			last, told = now, true
			update(slices.Clone(now), nil)
		}
		err = r.watch(ctx, eps, rev, func(now []string) {
			if !slices.Equal(now, last) {
				last = now
				update(slices.Clone(now), nil)
			}
		})
		if ctx.Err() != nil {
			return
		}
		r.cfg.log.Warn("etcd: resolver: the watch ended; reading the prefix again", "prefix", r.prefix, "err", err)
		update(nil, err)
		told = false
		fails++
		if !sleep(ctx, retryDelay(fails)) {
			return
		}
	}
}

// watch follows the changes after rev until the watch fails.
func (r *Resolver) watch(ctx context.Context, eps map[string]string, rev int64, tell func([]string)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := r.cli.Watch(wctx, r.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("etcd: watching %s: %w", r.prefix, err)
		}
		for _, ev := range resp.Events {
			key := string(ev.Kv.Key)
			switch {
			case ev.Type == clientv3.EventTypeDelete, len(ev.Kv.Value) == 0:
				delete(eps, key)
			default:
				eps[key] = string(ev.Kv.Value)
			}
		}
		tell(sorted(eps))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("etcd: watching %s: the watch closed", r.prefix)
}

// retryDelay is the delay after the nth failure in a row: 100ms doubling
// up to 10s, less a random part up to half.
func retryDelay(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 7)
	d = min(d, 10*time.Second)
	return d - time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Register puts url under prefix (to which a slash is added if it has none),
// at the key prefix+url, with a lease of ttl (at least a second, as etcd
// counts in seconds) that it keeps alive. It returns once the key is in
// place, or the error that kept it out. When the lease is lost (etcd was
// out of reach longer than ttl), it registers again, and again, until ctx
// ends; then it revokes the lease, which removes the key at once. The
// channel returned is closed once that is done.
func Register(ctx context.Context, cli *clientv3.Client, prefix, url string, ttl time.Duration, opts ...Option) (<-chan struct{}, error) {
	if cli == nil {
		return nil, errors.New("etcd: Register: nil client")
	}
	prefix, err := normPrefix(prefix)
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, errors.New("etcd: Register: empty url")
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("etcd: Register: TTL %v under a second", ttl)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	reg := &registration{cli: cli, key: prefix + url, url: url, ttl: int64((ttl + time.Second - 1) / time.Second), cfg: cfg}
	lease, alive, err := reg.put(ctx)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		reg.keep(ctx, lease, alive)
	}()
	return done, nil
}

type registration struct {
	cli      *clientv3.Client
	key, url string
	ttl      int64
	cfg      config
}

// put grants a lease, puts the key under it and starts keeping it alive.
func (r *registration) put(ctx context.Context) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
	tctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	g, err := r.cli.Grant(tctx, r.ttl)
	if err != nil {
		return 0, nil, fmt.Errorf("etcd: Register: granting a lease: %w", err)
	}
	if _, err := r.cli.Put(tctx, r.key, r.url, clientv3.WithLease(g.ID)); err != nil {
		r.revoke(g.ID)
		return 0, nil, fmt.Errorf("etcd: Register: putting %s: %w", r.key, err)
	}
	alive, err := r.cli.KeepAlive(ctx, g.ID)
	if err != nil {
		r.revoke(g.ID)
		return 0, nil, fmt.Errorf("etcd: Register: keeping the lease alive: %w", err)
	}
	return g.ID, alive, nil
}

// keep keeps the registration until ctx ends, then revokes it.
func (r *registration) keep(ctx context.Context, lease clientv3.LeaseID, alive <-chan *clientv3.LeaseKeepAliveResponse) {
	for fails := 0; ; {
		for range alive {
		}
		// The channel closes when ctx ends, or when the lease is lost.
		if ctx.Err() != nil {
			r.revoke(lease)
			return
		}
		r.cfg.log.Warn("etcd: Register: the lease was lost; registering again", "key", r.key)
		for {
			var err error
			lease, alive, err = r.put(ctx)
			if err == nil {
				fails = 0
				break
			}
			if ctx.Err() != nil {
				return
			}
			fails++
			r.cfg.log.Warn("etcd: Register: registering again failed", "key", r.key, "err", err)
			if !sleep(ctx, retryDelay(fails)) {
				return
			}
		}
	}
}

// revoke revokes lease, on a time of its own: the context of the
// registration has ended.
func (r *registration) revoke(lease clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.timeout)
	defer cancel()
	if _, err := r.cli.Revoke(ctx, lease); err != nil {
		r.cfg.log.Warn("etcd: Register: revoking the lease failed; the key goes when it expires", "key", r.key, "err", err)
	}
}
