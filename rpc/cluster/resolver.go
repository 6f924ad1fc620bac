package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resolver finds the endpoints of a service: URLs of any transport that
// the client's DialFunc knows. Implementations are safe for concurrent use.
type Resolver interface {
	// Resolve returns the endpoints as they are now.
	Resolve(ctx context.Context) ([]string, error)
	// Watch calls update with the endpoints at once, then again whenever
	// they change, until ctx ends; it returns then. A resolution that
	// failed calls update with a nil list and its error: the client keeps
	// the endpoints it has. Calls of update do not overlap, and update
	// does not keep the slice.
	Watch(ctx context.Context, update func(endpoints []string, err error))
}

// Static returns a resolver of a fixed list of endpoints.
func Static(urls ...string) Resolver {
	return static(slices.Clone(urls))
}

type static []string

func (s static) Resolve(context.Context) ([]string, error) { return slices.Clone(s), nil }

func (s static) Watch(ctx context.Context, update func([]string, error)) {
	update(slices.Clone(s), nil)
	<-ctx.Done()
}

// DNS returns a resolver of the endpoints that a DNS name gives, written as
// the URL of an endpoint: each address found takes the place of its host.
//
//   - tcp://rpc.example.com:9000 gives tcp://192.0.2.1:9000,
//     tcp://[2001:db8::1]:9000, ... for the A and AAAA records of
//     rpc.example.com;
//   - a host of the form _service._proto.name, as in
//     http://_rpc._tcp.example.com/rpc, is looked up as an SRV record: each
//     target and port gives an endpoint (http://192.0.2.1:8080/rpc, ...), a
//     target that is a name being looked up in turn (A and AAAA). Such a URL
//     has no port. All targets are used, whatever their priority and
//     weight.
//
// The endpoints are addresses, not names: for TLS, give the transport the
// server name to verify. The name is looked up again every 30 seconds
// (WithRefresh), with net.DefaultResolver unless WithDNSResolver gives
// another. A lookup that fails, or finds nothing, is an error, and the
// client keeps the endpoints it had. DNS fails for a target that is no such
// URL, and for an invalid option.
func DNS(target string, opts ...Option) (Resolver, error) {
	cfg, err := newConfig(forDNS, "DNS", opts)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("cluster: DNS: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("cluster: DNS(%q): not a URL with a scheme and a host", target)
	}
	d := &dnsResolver{u: u, host: u.Hostname(), port: u.Port(), look: cfg.dns, refresh: cfg.refresh, cfg: cfg}
	if strings.HasPrefix(d.host, "_") {
		if d.port != "" {
			return nil, fmt.Errorf("cluster: DNS(%q): an SRV name takes no port: the records give it", target)
		}
		if strings.Count(d.host, ".") < 2 {
			return nil, fmt.Errorf("cluster: DNS(%q): an SRV name is _service._proto.name", target)
		}
		d.srv = true
	}
	return d, nil
}

// lookuper is what a DNS resolver asks: a *net.Resolver, or a fake in tests.
type lookuper interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

type dnsResolver struct {
	u          *url.URL
	host, port string
	srv        bool
	look       lookuper
	refresh    time.Duration
	cfg        config
}

// lookupTimeout bounds one resolution, for a resolver that hangs.
const lookupTimeout = 10 * time.Second

func (d *dnsResolver) Resolve(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var urls []string
	if d.srv {
		_, srvs, err := d.look.LookupSRV(ctx, "", "", d.host)
		if err != nil {
			return nil, fmt.Errorf("cluster: DNS: %w", err)
		}
		var errs []error
		for _, s := range srvs {
			target := strings.TrimSuffix(s.Target, ".")
			if target == "" {
				continue // "." says the service is not offered
			}
			ips, err := d.ips(ctx, target)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, ip := range ips {
				urls = append(urls, d.endpoint(ip, strconv.Itoa(int(s.Port))))
			}
		}
		if len(urls) == 0 && len(errs) > 0 {
			return nil, fmt.Errorf("cluster: DNS: %s: %w", d.host, errors.Join(errs...))
		}
	} else {
		ips, err := d.ips(ctx, d.host)
		if err != nil {
			return nil, fmt.Errorf("cluster: DNS: %w", err)
		}
		for _, ip := range ips {
			urls = append(urls, d.endpoint(ip, d.port))
		}
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("cluster: DNS: %s: no addresses", d.host)
	}
	slices.Sort(urls)
	return slices.Compact(urls), nil
}

// ips returns the addresses of host: itself, if it is one.
func (d *dnsResolver) ips(ctx context.Context, host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}, nil
	}
	addrs, err := d.look.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		s := a.IP.String()
		if a.Zone != "" {
			s += "%" + a.Zone
		}
		out = append(out, s)
	}
	return out, nil
}

// endpoint is the URL template with ip, and port if any, as its host.
func (d *dnsResolver) endpoint(ip, port string) string {
	u := *d.u
	switch {
	case port != "":
		u.Host = net.JoinHostPort(ip, port)
	case strings.Contains(ip, ":"):
		u.Host = "[" + ip + "]"
	default:
		u.Host = ip
	}
	return u.String()
}

func (d *dnsResolver) Watch(ctx context.Context, update func([]string, error)) {
	var last []string
	first := true
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		urls, err := d.Resolve(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			d.cfg.log.Warn("cluster: DNS lookup failed; the endpoints found before stay", "name", d.host, "err", err)
			update(nil, err)
			first = true // tell the next answer, changed or not
		case first || !slices.Equal(urls, last):
			last, first = urls, false
			update(slices.Clone(urls), nil)
		}
		t.Reset(d.refresh)
	}
}
