package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// DialFunc returns the client of the endpoint at url, for the calls a Client
// sends there: it chooses the transport by the URL's scheme (httprpc for
// http and https, tcprpc for tcp, ...), and the codec. It is called once per
// endpoint, at its first call, and should not wait on the network: the
// transports' clients connect at their first call. The Client closes what
// it returns once the endpoint is gone.
type DialFunc func(ctx context.Context, url string) (*rpc.Client, error)

// Client spreads calls over the endpoints of a Resolver. It is safe for
// concurrent use.
type Client struct {
	r    Resolver
	dial DialFunc
	cfg  config

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutines that Close waits for

	eps    atomic.Pointer[[]*endpoint] // in the resolver's order
	next   atomic.Uint64               // round robin
	budget budget

	ready     chan struct{} // closed once the resolver answered first
	readyOnce sync.Once

	mu         sync.Mutex
	byURL      map[string]*endpoint
	resolveErr error // the resolver's last error, nil after a success
	closed     bool
}

// New returns a client of the endpoints r finds, each reached through a
// client from dial. It fails for a nil resolver or dial function, and for an
// invalid option. The resolver is asked at once, in the background; calls
// made before its first answer wait for it.
//
// Each call goes to an endpoint the balancer picks (WithBalancer) among
// those admitted. An endpoint whose calls fail at the transport several
// times in a row (WithEjectAfter) is ejected, and admitted again once a
// probe succeeds, after a delay that grows while it keeps failing
// (WithBackoff); WithHealthCheck probes the admitted ones too. While every
// endpoint is ejected, calls go to the ejected ones.
//
// A call that failed before it reached a server (see Call) is sent again to
// another endpoint, always; one that failed after it may have reached one
// is sent again only for the methods of WithIdempotent, at most twice, after
// a delay (WithBackoff), within the retry budget (WithRetryBudget), to
// another endpoint if there is one. A call tries every endpoint before it
// tries one again, which only a retry of an idempotent call does.
func New(r Resolver, dial DialFunc, opts ...Option) (*Client, error) {
	if r == nil {
		return nil, errors.New("cluster: New: nil resolver")
	}
	if dial == nil {
		return nil, errors.New("cluster: New: nil dial function")
	}
	cfg, err := newConfig(forClient, "New", opts)
	if err != nil {
		return nil, err
	}
	c := &Client{r: r, dial: dial, cfg: cfg, ready: make(chan struct{}), byURL: map[string]*endpoint{}}
	c.eps.Store(new([]*endpoint))
	c.budget.init(cfg.budget)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		r.Watch(c.ctx, c.update)
		c.readyOnce.Do(func() {
			c.mu.Lock()
			if c.resolveErr == nil {
				c.resolveErr = errors.New("the resolver stopped before it gave any endpoint")
			}
			c.mu.Unlock()
			close(c.ready)
		})
	}()
	if cfg.healthMethod != "" {
		c.wg.Add(1)
		go c.healthLoop()
	}
	return c, nil
}

// update takes the resolver's news.
func (c *Client) update(urls []string, err error) {
	if err != nil {
		c.mu.Lock()
		c.resolveErr = err
		c.mu.Unlock()
		c.cfg.log.Warn("cluster: the resolver failed; the endpoints found before stay", "err", err)
		c.readyOnce.Do(func() { close(c.ready) })
		return
	}
	var added, removed []string
	var gone []*endpoint
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	next := make(map[string]*endpoint, len(urls))
	list := make([]*endpoint, 0, len(urls))
	for _, u := range urls {
		if u == "" || next[u] != nil {
			continue
		}
		ep := c.byURL[u]
		if ep == nil {
			ep = &endpoint{url: u, admittedAt: time.Now()}
			added = append(added, u)
		}
		next[u] = ep
		list = append(list, ep)
	}
	for u, ep := range c.byURL {
		if next[u] == nil {
			gone = append(gone, ep)
			removed = append(removed, u)
		}
	}
	c.byURL = next
	c.eps.Store(&list)
	c.resolveErr = nil
	c.mu.Unlock()
	for _, ep := range gone {
		ep.remove()
	}
	if len(added)+len(removed) > 0 {
		c.cfg.log.Info("cluster: endpoints changed", "added", added, "removed", removed, "endpoints", len(list))
	}
	c.readyOnce.Do(func() { close(c.ready) })
}

// Close stops the client: the resolver's watch, the probes, and the clients
// of the endpoints, whose calls in flight fail. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	eps := c.byURL
	c.byURL = nil
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	for _, ep := range eps {
		ep.remove()
		ep.close()
	}
	return nil
}

// Endpoint is the state of one endpoint of a Client.
type Endpoint struct {
	URL      string
	Ejected  bool
	InFlight int // the client's calls (and probes) in flight there
}

// Endpoints returns the client's endpoints, in the resolver's order.
func (c *Client) Endpoints() []Endpoint {
	eps := *c.eps.Load()
	out := make([]Endpoint, len(eps))
	for i, ep := range eps {
		out[i] = Endpoint{URL: ep.url, Ejected: ep.ejected.Load(), InFlight: int(ep.inflight.Load())}
	}
	return out
}

// Call calls method with positional params on an endpoint, and decodes its
// result into result, a pointer (or nil to discard the result), as
// rpc.Client.Call does.
//
// A call that fails before it reached a server goes to another endpoint:
// the dial failed or was refused, the transport says it sent nothing, or
// the server answered that it is draining (an *rpc.Error with code -32000
// and message "draining", or HTTP 503). Once every endpoint failed so, the
// error matches ErrNotSent. A call that fails after it may have reached a
// server (the connection was lost) goes to another endpoint only for an
// idempotent method (WithIdempotent), within the retry budget. Any other
// error, the server's answer among them, is the call's. With no endpoint
// at all, the error matches ErrNoEndpoints.
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	return c.do(ctx, method, func(ctx context.Context, cl *rpc.Client) error {
		return cl.Call(ctx, method, result, params...)
	})
}

// CallNamed calls method with named params, given as a map with string keys
// or a struct, as Call does otherwise.
func (c *Client) CallNamed(ctx context.Context, method string, result any, params any) error {
	return c.do(ctx, method, func(ctx context.Context, cl *rpc.Client) error {
		return cl.CallNamed(ctx, method, result, params)
	})
}

// Notify sends a notification to an endpoint, sent again as Call's calls
// are.
func (c *Client) Notify(ctx context.Context, method string, params ...any) error {
	return c.do(ctx, method, func(ctx context.Context, cl *rpc.Client) error {
		return cl.Notify(ctx, method, params...)
	})
}

// do makes a call, trying one endpoint after another as its failures allow.
func (c *Client) do(ctx context.Context, method string, send func(context.Context, *rpc.Client) error) error {
	select {
	case <-c.ready:
	default:
		select {
		case <-c.ready:
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s: waiting for the resolver: %w", method, ctx.Err())
		case <-c.ctx.Done():
			return rpc.ErrClosed
		}
	}
	c.budget.deposit()
	var triedArr [4]*endpoint
	tried := triedArr[:0]
	var last, ran error // the last attempt's error; the last that may have run
	reuse := false      // the next attempt may go to an endpoint tried before
	retries := 0
	for attempts := 0; ; attempts++ {
		if c.ctx.Err() != nil {
			return rpc.ErrClosed
		}
		ep := c.pick(tried, reuse)
		if ep == nil || attempts > len(*c.eps.Load())+maxRetries {
			switch {
			case last == nil:
				return c.noEndpoints()
			case ran != nil:
				return ran
			}
			return &notSentError{err: last, tried: len(tried)}
		}
		if !slices.Contains(tried, ep) {
			tried = append(tried, ep)
		}
		err := ep.call(ctx, c, send)
		if err == nil {
			ep.succeeded()
			return nil
		}
		if ctx.Err() != nil {
			return err // the caller's end; the rpc.Client's error says so
		}
		o, drain := classify(err)
		switch o {
		case answered:
			ep.succeeded()
			return err
		case notSent:
			c.failed(ep, err, drain)
			last, reuse = err, false
			continue
		}
		c.failed(ep, err, false)
		last, ran = err, err
		if !c.cfg.idempotent[method] || retries == maxRetries || c.pick(nil, true) == nil || !c.budget.withdraw() {
			return err
		}
		retries++
		if !c.sleep(ctx, c.backoff(retries)) {
			if c.ctx.Err() != nil {
				return rpc.ErrClosed
			}
			return err
		}
		reuse = true
	}
}

// maxRetries bounds the retries of a call that may have run.
const maxRetries = 2

// noEndpoints is the error of a call with no endpoint to go to.
func (c *Client) noEndpoints() error {
	c.mu.Lock()
	err := c.resolveErr
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w (the resolver failed: %v)", ErrNoEndpoints, err)
	}
	return fmt.Errorf("%w: the resolver found none", ErrNoEndpoints)
}

// pick returns the endpoint of the next attempt, which the balancer picks
// among the first of these that has any: the admitted endpoints not tried,
// the ejected ones not tried, and when reuse is set, the admitted ones, the
// ejected ones.
func (c *Client) pick(tried []*endpoint, reuse bool) *endpoint {
	eps := *c.eps.Load()
	var arr [16]*endpoint
	cands := arr[:0]
	for pass := range 4 {
		if pass >= 2 && !reuse {
			break
		}
		ejected := pass%2 == 1
		for _, ep := range eps {
			if ep.ejected.Load() == ejected && (pass >= 2 || !slices.Contains(tried, ep)) {
				cands = append(cands, ep)
			}
		}
		if len(cands) > 0 {
			break
		}
	}
	switch len(cands) {
	case 0:
		return nil
	case 1:
		return cands[0]
	}
	if c.cfg.balancer == "rr" {
		return cands[(c.next.Add(1)-1)%uint64(len(cands))]
	}
	i := rand.IntN(len(cands))
	j := rand.IntN(len(cands) - 1)
	if j >= i {
		j++
	}
	a, b := cands[i], cands[j]
	if b.inflight.Load() < a.inflight.Load() {
		return b
	}
	return a
}

// backoff returns the nth delay (n ≥ 1): base·2ⁿ⁻¹ up to max, less a random
// part of up to half.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.backoffBase
	for i := 1; i < n && d < c.cfg.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.backoffMax)
	if half := int64(d / 2); half > 0 {
		d -= time.Duration(rand.Int64N(half + 1))
	}
	return d
}

// sleep waits for d, and reports false if ctx or the client ended first.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-c.ctx.Done():
		return false
	}
}

// budget is the retry budget: tokens in millionths of a retry.
type budget struct {
	tokens atomic.Int64
	add    int64
}

const budgetUnit = 1_000_000

func (b *budget) init(ratio float64) {
	b.add = int64(ratio * budgetUnit)
	b.tokens.Store(budgetFloor * budgetUnit)
}

func (b *budget) deposit() {
	for {
		t := b.tokens.Load()
		if t >= budgetFloor*budgetUnit {
			return
		}
		if b.tokens.CompareAndSwap(t, min(t+b.add, budgetFloor*budgetUnit)) {
			return
		}
	}
}

func (b *budget) withdraw() bool {
	for {
		t := b.tokens.Load()
		if t < budgetUnit {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-budgetUnit) {
			return true
		}
	}
}
