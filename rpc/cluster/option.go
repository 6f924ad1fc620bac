package cluster

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"
)

// Option configures a Client (New) or a DNS resolver (DNS). Each option
// says which it applies to; given to the other, the constructor returns an
// error. Zero values mean the default; an invalid value is an error at
// construction.
type Option interface {
	apply(*config) error
}

// Whom an option configures.
const (
	forClient = 1 << iota
	forDNS
)

type config struct {
	of  int    // forClient or forDNS
	ctr string // the constructor, for errors

	log *slog.Logger

	// Client.
	balancer     string
	idempotent   map[string]bool
	budget       float64
	backoffBase  time.Duration
	backoffMax   time.Duration
	healthMethod string
	healthEvery  time.Duration
	ejectAfter   int

	// DNS.
	dns     *net.Resolver
	refresh time.Duration
}

// Defaults, documented on the options.
const (
	defaultBalancer    = "p2c"
	defaultBudget      = 0.2
	budgetFloor        = 10 // retries the budget holds at most, and starts with
	defaultBackoffBase = 100 * time.Millisecond
	defaultBackoffMax  = 10 * time.Second
	defaultHealthEvery = 5 * time.Second
	defaultEjectAfter  = 3
	defaultProbeMethod = "system.health"
	defaultRefresh     = 30 * time.Second
	probeTimeout       = 5 * time.Second
)

func newConfig(of int, ctr string, opts []Option) (config, error) {
	cfg := config{of: of, ctr: ctr}
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
	if cfg.balancer == "" {
		cfg.balancer = defaultBalancer
	}
	if cfg.budget == 0 {
		cfg.budget = defaultBudget
	}
	if cfg.backoffBase == 0 {
		cfg.backoffBase = defaultBackoffBase
	}
	if cfg.backoffMax == 0 {
		cfg.backoffMax = max(defaultBackoffMax, cfg.backoffBase)
	}
	if cfg.backoffMax < cfg.backoffBase {
		return cfg, fmt.Errorf("cluster: WithBackoff(%v, %v): the maximum is below the base", cfg.backoffBase, cfg.backoffMax)
	}
	if cfg.healthMethod != "" && cfg.healthEvery == 0 {
		cfg.healthEvery = defaultHealthEvery
	}
	if cfg.ejectAfter == 0 {
		cfg.ejectAfter = defaultEjectAfter
	}
	if cfg.dns == nil {
		cfg.dns = net.DefaultResolver
	}
	if cfg.refresh == 0 {
		cfg.refresh = defaultRefresh
	}
	return cfg, nil
}

type option struct {
	name string
	of   int
	set  func(*config) error
}

func (o option) apply(c *config) error {
	if o.of&c.of == 0 {
		what := "a DNS"
		if o.of == forClient {
			what = "a New"
		}
		return fmt.Errorf("cluster: %s is %s option, not one of %s", o.name, what, c.ctr)
	}
	return o.set(c)
}

// WithLogger gives a client or a DNS resolver a logger. A client logs at
// Warn level an endpoint it ejects, with the error that ejected it, and a
// failed resolution; at Info level an endpoint it admits again and the
// endpoints the resolver adds or removes. A DNS resolver logs at Warn level
// a failed resolution. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", forClient | forDNS, func(c *config) error { c.log = l; return nil }}
}

// WithBalancer chooses how a client picks the endpoint of each call among
// those admitted: "rr" takes them in turn (round robin); "p2c" (the
// default) picks two at random and takes the one with fewer of the client's
// calls in flight (power of two choices), which steers calls away from a
// slow endpoint.
func WithBalancer(name string) Option {
	return option{"WithBalancer", forClient, func(c *config) error {
		switch name {
		case "", "rr", "p2c":
			c.balancer = name
			return nil
		}
		return fmt.Errorf("cluster: WithBalancer(%q): not rr or p2c", name)
	}}
}

// WithIdempotent names the methods whose calls a client may send again
// after a failure that may have come after the server ran the call (the
// connection was lost while the reply was awaited): running them twice does
// no more than running them once. Calls of other methods are sent again
// only when they provably never reached a server. Options given several
// times add up.
func WithIdempotent(methods ...string) Option {
	methods = append([]string(nil), methods...)
	return option{"WithIdempotent", forClient, func(c *config) error {
		for _, m := range methods {
			if m == "" {
				return fmt.Errorf("cluster: WithIdempotent: empty method name")
			}
			if c.idempotent == nil {
				c.idempotent = map[string]bool{}
			}
			c.idempotent[m] = true
		}
		return nil
	}}
}

// WithRetryBudget caps the retries of calls that may have run (those of
// idempotent methods) at ratio of the calls, plus 10: each call adds ratio
// of a retry to the budget, which holds 10 at most and at the start, and
// each retry takes one; a call that finds less than one there fails with
// its error. Zero means the default, 0.2; ratio must be at most 1.
// Retries of calls that never reached a server are not counted: they are
// always made, on another endpoint.
func WithRetryBudget(ratio float64) Option {
	return option{"WithRetryBudget", forClient, func(c *config) error {
		if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
			return fmt.Errorf("cluster: WithRetryBudget(%v): not between 0 and 1", ratio)
		}
		c.budget = ratio
		return nil
	}}
}

// WithBackoff sets the delays of a client: before the retry of a call that
// may have run, and before an ejected endpoint is probed. The nth delay is
// base·2ⁿ⁻¹, at most max, of which a random part up to half is taken off
// (jitter). The defaults are 100ms and 10s (or base, if more); max must not
// be less than base.
//
// An ejected endpoint's delays go on growing while it keeps failing,
// flapping included: they start from base again only once it has stayed
// admitted for max.
func WithBackoff(base, max time.Duration) Option {
	return option{"WithBackoff", forClient, func(c *config) error {
		if base < 0 || max < 0 {
			return fmt.Errorf("cluster: WithBackoff(%v, %v): negative", base, max)
		}
		c.backoffBase, c.backoffMax = base, max
		return nil
	}}
}

// WithHealthCheck makes a client probe every admitted endpoint with a call
// of method (system.health, say) every interval (zero means 5s), each probe
// within that interval. A probe that fails at the transport counts as a
// failed call (see WithEjectAfter); one answered with the error -32000
// "draining" ejects the endpoint at once; any other answer, an error
// included, shows the endpoint alive. Without it, the probes that admit an
// ejected endpoint again call system.health, judged the same way, and no
// admitted endpoint is probed.
func WithHealthCheck(method string, every time.Duration) Option {
	return option{"WithHealthCheck", forClient, func(c *config) error {
		if method == "" {
			return fmt.Errorf("cluster: WithHealthCheck: empty method name")
		}
		if every < 0 {
			return fmt.Errorf("cluster: WithHealthCheck(%q, %v): negative interval", method, every)
		}
		c.healthMethod, c.healthEvery = method, every
		return nil
	}}
}

// WithEjectAfter sets how many calls in a row must fail at the transport
// (never sent, or the connection lost) before a client ejects their
// endpoint: it then gets no calls while others are admitted, and is probed
// after a delay (WithBackoff) until a probe succeeds. The default is 3. An
// endpoint that answers "draining" is ejected at once.
func WithEjectAfter(n int) Option {
	return option{"WithEjectAfter", forClient, func(c *config) error {
		if n < 0 {
			return fmt.Errorf("cluster: WithEjectAfter(%d): negative", n)
		}
		c.ejectAfter = n
		return nil
	}}
}

// WithDNSResolver makes a DNS resolver look names up with r instead of
// net.DefaultResolver: one that asks a given server, say.
func WithDNSResolver(r *net.Resolver) Option {
	return option{"WithDNSResolver", forDNS, func(c *config) error { c.dns = r; return nil }}
}

// WithRefresh sets how often a DNS resolver looks its name up again (Go's
// resolver does not tell the records' TTLs). The default is 30s.
func WithRefresh(d time.Duration) Option {
	return option{"WithRefresh", forDNS, func(c *config) error {
		if d < 0 {
			return fmt.Errorf("cluster: WithRefresh(%v): negative", d)
		}
		c.refresh = d
		return nil
	}}
}
