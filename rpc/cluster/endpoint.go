package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// endpoint is one endpoint of a Client and its state.
type endpoint struct {
	url      string
	inflight atomic.Int64 // calls and probes
	failures atomic.Int64 // transport failures in a row
	ejected  atomic.Bool
	removed  atomic.Bool // the resolver dropped it: close once idle

	mu         sync.Mutex
	client     *rpc.Client // dialed at the first call
	closed     bool
	ejections  int       // in a row, for the backoff
	admittedAt time.Time // when last admitted
}

// rpcClient returns the endpoint's client, dialing it if need be.
func (ep *endpoint) rpcClient(ctx context.Context, dial DialFunc) (*rpc.Client, error) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed {
		return nil, rpc.ErrClosed
	}
	if ep.client == nil {
		cl, err := dial(ctx, ep.url)
		if err == nil && cl == nil {
			err = errors.New("the dial function returned no client and no error")
		}
		if err != nil {
			return nil, &dialError{url: ep.url, err: err}
		}
		ep.client = cl
	}
	return ep.client, nil
}

// dialError is the error of a DialFunc: the call was not sent.
type dialError struct {
	url string
	err error
}

func (e *dialError) Error() string { return fmt.Sprintf("cluster: dialing %s: %v", e.url, e.err) }
func (e *dialError) Unwrap() error { return e.err }
func (e *dialError) NotSent() bool { return true }

// call sends one attempt of a call to the endpoint.
func (ep *endpoint) call(ctx context.Context, c *Client, send func(context.Context, *rpc.Client) error) error {
	ep.inflight.Add(1)
	defer ep.release()
	cl, err := ep.rpcClient(ctx, c.dial)
	if err != nil {
		return err
	}
	return send(ctx, cl)
}

func (ep *endpoint) release() {
	if ep.inflight.Add(-1) == 0 && ep.removed.Load() {
		ep.close()
	}
}

// remove marks the endpoint dropped by the resolver, and closes it unless
// calls are in flight there: the last of them closes it.
func (ep *endpoint) remove() {
	ep.removed.Store(true)
	if ep.inflight.Load() == 0 {
		ep.close()
	}
}

func (ep *endpoint) close() {
	ep.mu.Lock()
	cl := ep.client
	ep.closed, ep.client = true, nil
	ep.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}

func (ep *endpoint) succeeded() {
	if ep.failures.Load() != 0 {
		ep.failures.Store(0)
	}
}

// failed counts a transport failure of ep, and ejects it after enough in a
// row, or at once when it is draining.
func (c *Client) failed(ep *endpoint, err error, drain bool) {
	n := ep.failures.Add(1)
	if !drain && n < int64(c.cfg.ejectAfter) || ep.removed.Load() {
		return
	}
	if !ep.ejected.CompareAndSwap(false, true) {
		return
	}
	ep.mu.Lock()
	if time.Since(ep.admittedAt) >= c.cfg.backoffMax {
		ep.ejections = 0 // it had stayed long enough to start afresh
	}
	ep.ejections++
	ep.mu.Unlock()
	if drain {
		c.cfg.log.Warn("cluster: endpoint draining: ejected", "endpoint", ep.url)
	} else {
		c.cfg.log.Warn("cluster: endpoint failing: ejected", "endpoint", ep.url, "failures", n, "err", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go c.readmit(ep)
}

// readmit probes an ejected endpoint after each delay until a probe
// succeeds, and admits it again then.
func (c *Client) readmit(ep *endpoint) {
	defer c.wg.Done()
	for {
		ep.mu.Lock()
		n := ep.ejections
		ep.mu.Unlock()
		if !c.sleep(c.ctx, c.backoff(n)) || ep.removed.Load() {
			return
		}
		if ok, _, err := c.probe(ep); !ok {
			c.cfg.log.Debug("cluster: probe of an ejected endpoint failed", "endpoint", ep.url, "err", err)
			ep.mu.Lock()
			ep.ejections++
			ep.mu.Unlock()
			continue
		}
		ep.mu.Lock()
		ep.admittedAt = time.Now()
		ep.mu.Unlock()
		ep.failures.Store(0)
		ep.ejected.Store(false)
		c.cfg.log.Info("cluster: endpoint admitted again", "endpoint", ep.url)
		return
	}
}

// probe calls the health method on ep: ok unless the call failed at the
// transport or the server answered that it is draining.
func (c *Client) probe(ep *endpoint) (ok, drain bool, err error) {
	method, timeout := defaultProbeMethod, probeTimeout
	if c.cfg.healthMethod != "" {
		method, timeout = c.cfg.healthMethod, c.cfg.healthEvery
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	err = ep.call(ctx, c, func(ctx context.Context, cl *rpc.Client) error {
		return cl.Call(ctx, method, nil)
	})
	if err == nil {
		return true, false, nil
	}
	var re *rpc.Error
	if errors.As(err, &re) {
		if isDraining(re) {
			return false, true, err
		}
		return true, false, nil // it answered
	}
	return false, false, err
}

// healthLoop probes the admitted endpoints every interval.
func (c *Client) healthLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.healthEvery)
	defer t.Stop()
	var wg sync.WaitGroup
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		for _, ep := range *c.eps.Load() {
			if ep.ejected.Load() {
				continue // readmit probes it
			}
			wg.Go(func() {
				ok, drain, err := c.probe(ep)
				switch {
				case ok:
					ep.succeeded()
				case c.ctx.Err() == nil:
					c.failed(ep, fmt.Errorf("health probe: %w", err), drain)
				}
			})
		}
		wg.Wait()
	}
}
