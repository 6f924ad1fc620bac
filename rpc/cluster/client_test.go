package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
)

// fast is a backoff that keeps the tests quick outside synctest bubbles.
var fast = cluster.WithBackoff(time.Microsecond, time.Millisecond)

func TestBalancersUseEveryEndpoint(t *testing.T) {
	t.Parallel()
	t.Run("rr", func(t *testing.T) {
		t.Parallel()
		nodes, dial, urls := newNodes(t, 3)
		c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("rr"))
		// Round robin takes the endpoints in turn: an even spread.
		if got := whoCounts(t, c, len(nodes), 300); !slices.Equal(got, []int{100, 100, 100}) {
			t.Errorf("calls per endpoint = %v, want 100 each", got)
		}
	})
	t.Run("p2c", func(t *testing.T) {
		t.Parallel()
		nodes, dial, urls := newNodes(t, 3)
		c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("p2c"))
		got := whoCounts(t, c, len(nodes), 300)
		for i, n := range got {
			if n == 0 {
				t.Errorf("endpoint %d got no call of 300: %v", i, got)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		for _, b := range []string{"rr", "p2c"} {
			nodes, dial, urls := newNodes(t, 3)
			c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer(b))
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 50 {
						if err := c.Call(context.Background(), "svc.who", nil); err != nil {
							t.Errorf("%s: %v", b, err)
							return
						}
					}
				})
			}
			wg.Wait()
			for _, nd := range nodes {
				if nd.runs.Load() == 0 {
					t.Errorf("%s: endpoint %d got no call of 400", b, nd.i)
				}
			}
		}
	})
}

// p2c sends the calls to the endpoint with fewer calls in flight.
func TestP2CAvoidsBusyEndpoint(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 2)
	c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("p2c"))
	done := make(chan error, 1)
	go func() { done <- c.Call(context.Background(), "svc.block", nil) }()
	var busy int
	select {
	case busy = <-nodes[0].blocked:
	case busy = <-nodes[1].blocked:
	}
	eps := c.Endpoints()
	if eps[busy].InFlight != 1 || eps[1-busy].InFlight != 0 {
		t.Errorf("Endpoints() = %+v, want 1 call in flight at %d", eps, busy)
	}
	got := whoCounts(t, c, 2, 50)
	if got[busy] != 0 {
		t.Errorf("calls per endpoint = %v while endpoint %d has a call in flight: want all on the other", got, busy)
	}
	close(nodes[busy].unblock)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A call that never reached a server goes to another endpoint, whatever its
// method; the endpoint is ejected after 3 such failures in a row, at once
// when it says it is draining.
func TestNotSentRetriedAlways(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   int32
		drain  bool
		method string
	}{
		{"refused", modeRefuse, false, "svc.who"},
		{"503", mode503, false, "svc.who"},
		{"transport says not sent", modeNotSent, false, "svc.who"},
		{"draining", modeOK, true, "svc.drainy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodes, dial, urls := newNodes(t, 3)
			nodes[0].mode.Store(tc.mode)
			nodes[0].draining.Store(tc.drain)
			c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("rr"))
			counts := make([]int, 3)
			for i := range 30 {
				var who int
				if err := c.Call(context.Background(), tc.method, &who); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				counts[who]++
			}
			if counts[0] != 0 || counts[1]+counts[2] != 30 {
				t.Errorf("calls served per endpoint = %v, want none by endpoint 0", counts)
			}
			if !c.Endpoints()[0].Ejected {
				t.Errorf("endpoint 0 not ejected: %+v", c.Endpoints())
			}
		})
	}
}

// The draining answer ejects at once: the first call it answers.
func TestDrainingEjectsAtOnce(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 2)
	nodes[0].draining.Store(true)
	c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("rr"))
	for range 2 { // rr reaches endpoint 0 within two calls
		var who int
		if err := c.Call(context.Background(), "svc.drainy", &who); err != nil || who != 1 {
			t.Fatalf("svc.drainy = %d, %v; want 1 from endpoint 1", who, err)
		}
	}
	if !c.Endpoints()[0].Ejected {
		t.Errorf("draining endpoint 0 not ejected after one answer: %+v", c.Endpoints())
	}
}

// When every endpoint fails before the call is sent, the call fails with
// ErrNotSent and ran nowhere.
func TestNotSentEverywhere(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 3)
	for _, nd := range nodes {
		nd.mode.Store(modeRefuse)
	}
	c := newClient(t, cluster.Static(urls...), dial)
	err := c.Call(context.Background(), "svc.who", nil)
	if !errors.Is(err, cluster.ErrNotSent) || !strings.Contains(err.Error(), "3 endpoints tried") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want ErrNotSent after 3 endpoints tried, saying connection refused", err)
	}
	if n := runs(nodes); n != 0 {
		t.Errorf("svc.who ran %d times", n)
	}
}

// A call that may have run is sent again only for an idempotent method: a
// retry never doubles a call of another method.
func TestMayHaveRunRetriedOnlyIfIdempotent(t *testing.T) {
	t.Parallel()
	for _, mode := range []int32{modeLost, mode502} {
		nodes, dial, urls := newNodes(t, 3)
		nodes[0].mode.Store(mode)
		// Endpoint 0 stays admitted, to fail many calls.
		plain := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("rr"), cluster.WithEjectAfter(1000), fast)
		const calls = 60
		failed := 0
		for range calls {
			err := plain.Call(context.Background(), "svc.who", nil)
			switch {
			case err == nil:
			case mode == modeLost && errors.Is(err, rpc.ErrConnectionLost), mode == mode502 && strings.Contains(err.Error(), "502"):
				failed++
			default:
				t.Fatalf("mode %d: unexpected error %v", mode, err)
			}
		}
		if failed == 0 || int64(failed) != nodes[0].runs.Load() {
			t.Errorf("mode %d: %d calls failed, endpoint 0 ran %d: want every call it ran failed, and some", mode, failed, nodes[0].runs.Load())
		}
		if n := runs(nodes); n != calls {
			t.Errorf("mode %d: svc.who ran %d times for %d calls: a call ran twice", mode, n, calls)
		}

		before := runs(nodes)
		lost0 := nodes[0].runs.Load()
		idem := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("rr"), cluster.WithEjectAfter(1000), fast,
			cluster.WithIdempotent("svc.who"), cluster.WithRetryBudget(1))
		for i := range calls {
			if err := idem.Call(context.Background(), "svc.who", nil); err != nil {
				t.Fatalf("mode %d: idempotent call %d: %v", mode, i, err)
			}
		}
		retried := nodes[0].runs.Load() - lost0
		if retried == 0 {
			t.Errorf("mode %d: no call went to endpoint 0", mode)
		}
		if n := runs(nodes) - before; n != calls+retried {
			t.Errorf("mode %d: svc.who ran %d times for %d calls of which %d were retried", mode, n, calls, retried)
		}
	}
}

// The retry budget caps the retries of calls that may have run at ratio of
// the calls, plus 10.
func TestRetryBudget(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 3)
	for _, nd := range nodes {
		nd.mode.Store(modeLost)
	}
	c := newClient(t, cluster.Static(urls...), dial, fast, cluster.WithIdempotent("svc.who"), cluster.WithRetryBudget(0.1))
	const calls = 300
	for range calls {
		if err := c.Call(context.Background(), "svc.who", nil); !errors.Is(err, rpc.ErrConnectionLost) {
			t.Fatalf("err = %v, want ErrConnectionLost", err)
		}
	}
	retries := runs(nodes) - calls
	t.Logf("retries: %d", retries)
	if retries < 10 || retries > calls/10+10 {
		t.Errorf("%d retries for %d calls with a budget of 0.1: want between 10 and %d", retries, calls, calls/10+10)
	}
}

// An idempotent call that may have run goes to the same endpoint again when
// it is the only one (a proxy, say).
func TestRetrySameEndpointWhenAlone(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 1)
	c := newClient(t, cluster.Static(urls...), dial, fast, cluster.WithIdempotent("svc.who"))
	nodes[0].mode.Store(modeLost)
	if err := c.Call(context.Background(), "svc.who", nil); !errors.Is(err, rpc.ErrConnectionLost) {
		t.Fatalf("err = %v, want ErrConnectionLost", err)
	}
	if n := nodes[0].runs.Load(); n != 3 {
		t.Errorf("svc.who ran %d times, want 3: the call and 2 retries", n)
	}
}

// The server's answers are the call's, never sent again, and the endpoint
// stays admitted.
func TestAnswersNotRetried(t *testing.T) {
	t.Parallel()
	_, dial, urls := newNodes(t, 2)
	c := newClient(t, cluster.Static(urls...), dial, cluster.WithIdempotent("svc.fail"), cluster.WithEjectAfter(1))
	for range 10 {
		err := c.Call(context.Background(), "svc.fail", nil)
		var re *rpc.Error
		if !errors.As(err, &re) || re.Code != rpc.CodeApplication {
			t.Fatalf("err = %v, want the server's application error", err)
		}
	}
	for _, ep := range c.Endpoints() {
		if ep.Ejected {
			t.Errorf("endpoint ejected for the server's answers: %+v", ep)
		}
	}
}

// An ejected endpoint is admitted again once a probe succeeds, after its
// backoff; while it fails, its probes are spaced by a growing backoff.
func TestEjectionAndReadmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, dial, urls := newNodes(t, 3)
		nodes[0].mode.Store(modeRefuse)
		c, err := cluster.New(cluster.Static(urls...), dial, cluster.WithBalancer("rr"),
			cluster.WithBackoff(100*time.Millisecond, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		whoCounts(t, c, 3, 30)
		if !c.Endpoints()[0].Ejected {
			t.Fatalf("endpoint 0 not ejected: %+v", c.Endpoints())
		}
		// Flapping is bounded by the backoff: over a minute, delays of
		// 50-100ms doubling up to 5-10s allow at most 19 probes.
		nodes[0].probes.Store(0)
		time.Sleep(time.Minute)
		synctest.Wait()
		t.Logf("probes in a minute: %d", nodes[0].probes.Load())
		if p := nodes[0].probes.Load(); p < 5 || p > 19 {
			t.Errorf("%d probes of the failing endpoint in a minute, want 5 to 19", p)
		}
		if !c.Endpoints()[0].Ejected {
			t.Fatalf("endpoint 0 admitted while failing")
		}
		if got := whoCounts(t, c, 3, 30); got[0] != 0 {
			t.Errorf("calls per endpoint = %v, want none to the ejected one", got)
		}

		nodes[0].mode.Store(modeOK)
		time.Sleep(10 * time.Second) // the longest delay
		synctest.Wait()
		if c.Endpoints()[0].Ejected {
			t.Fatalf("endpoint 0 not admitted again: %+v", c.Endpoints())
		}
		if got := whoCounts(t, c, 3, 30); got[0] != 10 {
			t.Errorf("calls per endpoint = %v, want 10 each once admitted again", got)
		}
	})
}

// Active health checks eject a draining endpoint before any call finds it,
// and admit it again once it is well.
func TestHealthCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, dial, urls := newNodes(t, 3)
		c, err := cluster.New(cluster.Static(urls...), dial, cluster.WithBalancer("rr"),
			cluster.WithHealthCheck("system.health", time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		whoCounts(t, c, 3, 3) // resolved
		nodes[1].draining.Store(true)
		time.Sleep(time.Second)
		synctest.Wait()
		if !c.Endpoints()[1].Ejected {
			t.Fatalf("draining endpoint not ejected by the health check: %+v", c.Endpoints())
		}
		if got := whoCounts(t, c, 3, 20); got[1] != 0 {
			t.Errorf("calls per endpoint = %v, want none to the draining one", got)
		}
		// A health check that fails at the transport counts as failed
		// calls: three in a row eject.
		nodes[2].mode.Store(modeRefuse)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if !c.Endpoints()[2].Ejected {
			t.Fatalf("endpoint failing its health checks not ejected: %+v", c.Endpoints())
		}
		nodes[1].draining.Store(false)
		nodes[2].mode.Store(modeOK)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		for _, ep := range c.Endpoints() {
			if ep.Ejected {
				t.Errorf("endpoint not admitted again: %+v", ep)
			}
		}
	})
}

// With no endpoints a call fails at once with ErrNoEndpoints, saying why,
// until the resolver finds some.
func TestNoEndpoints(t *testing.T) {
	t.Parallel()
	_, dial, urls := newNodes(t, 2)

	c := newClient(t, cluster.Static(), dial)
	err := c.Call(context.Background(), "svc.who", nil)
	if !errors.Is(err, cluster.ErrNoEndpoints) || !strings.Contains(err.Error(), "found none") {
		t.Errorf("err = %v, want ErrNoEndpoints: the resolver found none", err)
	}

	r := newFakeResolver()
	r.push(nil, errors.New("lookup svc.test: no such host"))
	c = newClient(t, r, dial)
	err = c.Call(context.Background(), "svc.who", nil)
	if !errors.Is(err, cluster.ErrNoEndpoints) || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("err = %v, want ErrNoEndpoints with the resolver's error", err)
	}
	r.push(urls, nil)
	waitFor(t, func() bool { return len(c.Endpoints()) == 2 })
	if err := c.Call(context.Background(), "svc.who", nil); err != nil {
		t.Errorf("once the resolver found endpoints: %v", err)
	}
	// The resolver fails again: the endpoints found stay.
	r.push(nil, errors.New("lookup svc.test: server misbehaving"))
	for range 10 {
		if err := c.Call(context.Background(), "svc.who", nil); err != nil {
			t.Errorf("after the resolver failed: %v", err)
		}
	}
	if len(c.Endpoints()) != 2 {
		t.Errorf("endpoints = %+v, want the 2 found before", c.Endpoints())
	}
	// It finds none: calls fail.
	r.push([]string{}, nil)
	waitFor(t, func() bool { return len(c.Endpoints()) == 0 })
	if err := c.Call(context.Background(), "svc.who", nil); !errors.Is(err, cluster.ErrNoEndpoints) {
		t.Errorf("err = %v, want ErrNoEndpoints", err)
	}
}

// Calls wait for the resolver's first answer, within their context.
func TestWaitForResolver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dial, urls := newNodes(t, 1)
		r := newFakeResolver() // no answer yet
		c, err := cluster.New(r, dial)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Call(ctx, "svc.who", nil); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for the resolver") {
			t.Errorf("err = %v, want the deadline while waiting for the resolver", err)
		}
		done := make(chan error)
		go func() { done <- c.Call(context.Background(), "svc.who", nil) }()
		synctest.Wait()
		r.push(urls, nil)
		if err := <-done; err != nil {
			t.Errorf("call waiting for the resolver: %v", err)
		}
	})
}

// A resolver's changes take effect: new endpoints get calls, removed ones
// none, and their clients are closed.
func TestResolverChanges(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 3)
	r := newFakeResolver()
	r.push(urls[:2], nil)
	c := newClient(t, r, dial, cluster.WithBalancer("rr"))
	if got := whoCounts(t, c, 3, 20); !slices.Equal(got, []int{10, 10, 0}) {
		t.Errorf("calls per endpoint = %v, want 10, 10, 0", got)
	}
	r.push([]string{urls[1], urls[2], urls[2], ""}, nil) // duplicates and empties dropped
	waitFor(t, func() bool { eps := c.Endpoints(); return len(eps) == 2 && eps[1].URL == urls[2] })
	if got := whoCounts(t, c, 3, 20); !slices.Equal(got, []int{0, 10, 10}) {
		t.Errorf("calls per endpoint = %v, want 0, 10, 10", got)
	}
	if nodes[0].closes.Load() != 1 {
		t.Errorf("the removed endpoint's client was closed %d times, want 1", nodes[0].closes.Load())
	}
	c.Close()
	if nodes[1].closes.Load() != 1 || nodes[2].closes.Load() != 1 {
		t.Errorf("Close closed the endpoints' clients %d and %d times, want 1", nodes[1].closes.Load(), nodes[2].closes.Load())
	}
	if err := c.Call(context.Background(), "svc.who", nil); !errors.Is(err, rpc.ErrClosed) {
		t.Errorf("call after Close: %v, want rpc.ErrClosed", err)
	}
}

func TestNotifyAndCallNamed(t *testing.T) {
	t.Parallel()
	nodes, dial, urls := newNodes(t, 2)
	nodes[0].mode.Store(modeRefuse)
	c := newClient(t, cluster.Static(urls...), dial, cluster.WithBalancer("rr"))
	for range 4 {
		if err := c.Notify(context.Background(), "svc.who"); err != nil {
			t.Fatal(err)
		}
		var who int
		if err := c.CallNamed(context.Background(), "svc.who", &who, map[string]any{}); err != nil || who != 1 {
			t.Fatalf("CallNamed = %d, %v", who, err)
		}
	}
	if n := nodes[1].runs.Load(); n != 8 {
		t.Errorf("endpoint 1 ran %d calls, want 8", n)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	dial := func(context.Context, string) (*rpc.Client, error) { return nil, errors.New("no") }
	r := cluster.Static("inproc://0")
	for _, tc := range []struct {
		opt  cluster.Option
		want string
	}{
		{cluster.WithBalancer("random"), "not rr or p2c"},
		{cluster.WithRetryBudget(-0.1), "not between 0 and 1"},
		{cluster.WithRetryBudget(2), "not between 0 and 1"},
		{cluster.WithBackoff(-1, 0), "negative"},
		{cluster.WithBackoff(time.Second, time.Millisecond), "below the base"},
		{cluster.WithHealthCheck("", 0), "empty method"},
		{cluster.WithHealthCheck("system.health", -1), "negative"},
		{cluster.WithEjectAfter(-1), "negative"},
		{cluster.WithIdempotent(""), "empty method"},
		{cluster.WithRefresh(time.Second), "WithRefresh is a DNS option"},
		{cluster.WithDNSResolver(nil), "WithDNSResolver is a DNS option"},
	} {
		if _, err := cluster.New(r, dial, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %v: err = %v, want %q", tc.opt, err, tc.want)
		}
	}
	if _, err := cluster.New(nil, dial); err == nil {
		t.Error("New with a nil resolver succeeded")
	}
	if _, err := cluster.New(r, nil); err == nil {
		t.Error("New with a nil dial function succeeded")
	}
	if _, err := cluster.DNS("tcp://svc.test:1", cluster.WithBalancer("rr")); err == nil || !strings.Contains(err.Error(), "WithBalancer is a New option") {
		t.Errorf("DNS with WithBalancer: %v", err)
	}
	if _, err := cluster.DNS("tcp://svc.test:1", cluster.WithRefresh(-1)); err == nil {
		t.Error("DNS with a negative refresh succeeded")
	}
	for _, target := range []string{"svc.test:1", "tcp://", "http://_rpc._tcp.svc.test:80/", "tcp://_rpc.test", "%zz"} {
		if _, err := cluster.DNS(target); err == nil {
			t.Errorf("DNS(%q) succeeded", target)
		}
	}
	// Zero values are the defaults.
	c, err := cluster.New(r, dial, cluster.WithBalancer(""), cluster.WithRetryBudget(0), cluster.WithBackoff(0, 0),
		cluster.WithEjectAfter(0), cluster.WithLogger(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A dial function that fails is an endpoint that was not sent the call.
	if err := c.Call(context.Background(), "svc.who", nil); !errors.Is(err, cluster.ErrNotSent) || !strings.Contains(err.Error(), "dialing inproc://0: no") {
		t.Errorf("err = %v, want ErrNotSent from the dial", err)
	}
	c.Close()
	c.Close()
}

// waitFor polls cond, which the resolver's goroutine makes true, with a
// guard against a hang.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
