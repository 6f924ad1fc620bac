package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/polyrpc/polyrpc/resolver/etcd"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// targetForms is the list of the targets of several endpoints, which every
// client command accepts besides one URL.
const targetForms = "URL may also name several endpoints, for a client that balances calls over\n" +
	"them (-balance), ejects failing ones and fails over:\n" +
	"  URL,URL,...                                 a list of URLs of any of the forms above\n" +
	"  URL,                                        a list of one: a balancer's URL, say\n" +
	"  dns+SCHEME://HOST:PORT[/path]               every A and AAAA address of HOST\n" +
	"  dns+SCHEME://_SERVICE._PROTO.NAME[/path]    the targets and ports of NAME's SRV records\n" +
	"  etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?scheme=S]\n" +
	"                                              the URLs registered under PREFIX (rpcd -register),\n" +
	"                                              only those of scheme S if given\n" +
	"SCHEME is http, https, tcp or tls. DNS names are looked up again every 30s."

// healthEvery is how often a balancing client probes each endpoint with
// system.health.
const healthEvery = 2 * time.Second

// clusterFlags are the flags of a target of several endpoints.
type clusterFlags struct {
	balance    string
	dnsServer  string
	idempotent string
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.balance, "balance", "p2c", "with several endpoints, how each call picks one: `rr` (round robin) or p2c (the less busy of two at random)")
	fs.StringVar(&f.dnsServer, "dns-server", "", "ask the DNS server at this `host:port` for dns+ targets, instead of the system's")
	fs.StringVar(&f.idempotent, "idempotent", "", "with several endpoints, comma-separated `methods` that may be sent again after a failure once they may have run, besides those the server's rpc.discover marks idempotent")
}

// check refuses bad cluster flags.
func (f *clusterFlags) check() error {
	if f.balance != "rr" && f.balance != "p2c" {
		return usageError("-balance must be rr or p2c, not %q", f.balance)
	}
	if f.dnsServer != "" {
		if _, _, err := net.SplitHostPort(f.dnsServer); err != nil {
			return usageError("-dns-server wants host:port: %v", err)
		}
	}
	return nil
}

// multiTarget is a target of several endpoints: a list, a DNS name or an
// etcd prefix (targetForms).
type multiTarget struct {
	raw  string
	list []string // a list

	dns     string // dns+: the URL of an endpoint with the name, for cluster.DNS
	tlsName string // dns+: the name TLS verifies

	etcd           []string // etcd: its endpoints, host:port
	prefix         string   // etcd: the prefix of the keys
	user, password string   // etcd: authentication, if any
	scheme         string   // etcd: only endpoints of this scheme
}

// schemeStart matches the start of a URL in a list: a scheme and "://", or
// unix:.
var schemeStart = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9+.-]*://|unix:)`)

// parseMultiTarget reads a target of several endpoints; it returns nil, nil
// for one URL (parseTarget's).
//
// A list is split at the commas followed by the start of a URL, so that a
// comma inside a URL (http://h/a,b) or between etcd's hosts stays there.
func parseMultiTarget(raw string) (*multiTarget, error) {
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "dns+"):
		return parseDNSTarget(raw)
	case strings.HasPrefix(lower, "etcd://"):
		return parseEtcdTarget(raw)
	}
	var list []string
	for p := range strings.SplitSeq(raw, ",") {
		if len(list) > 0 && !schemeStart.MatchString(p) && strings.TrimSpace(p) != "" {
			list[len(list)-1] += "," + p
			continue
		}
		list = append(list, p)
	}
	if len(list) < 2 {
		return nil, nil
	}
	if len(list) == 2 && strings.TrimSpace(list[1]) == "" {
		// URL, is a list of one: the balancing client's retries through a
		// balancer, which sends each attempt where it likes.
		list = list[:1]
	}
	for i, u := range list {
		u = strings.TrimSpace(u)
		if u == "" {
			return nil, usageError("empty URL in the list %q", raw)
		}
		low := strings.ToLower(u)
		if strings.HasPrefix(low, "dns+") || strings.HasPrefix(low, "etcd://") {
			return nil, usageError("%q in a list: a list holds URLs of endpoints, not dns+ or etcd:// targets", u)
		}
		if _, err := parseTarget(u); err != nil {
			return nil, err
		}
		list[i] = u
	}
	return &multiTarget{raw: raw, list: list}, nil
}

func parseDNSTarget(raw string) (*multiTarget, error) {
	rest := raw[len("dns+"):]
	u, err := url.Parse(rest)
	if err != nil {
		return nil, usageError("bad target %q: %v", raw, err)
	}
	if !slices.Contains([]string{"http", "https", "tcp", "tls"}, u.Scheme) {
		return nil, usageError("target %q: dns+ takes http, https, tcp or tls, as in dns+tcp://rpc.example.com:9000", raw)
	}
	host := u.Hostname()
	switch {
	case host == "":
		return nil, usageError("target %q needs a name to look up", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, usageError("target %q: dns+ URLs take no user, query or fragment", raw)
	case (u.Scheme == "tcp" || u.Scheme == "tls") && u.Path != "" && u.Path != "/":
		return nil, usageError("target %q has a path, which a stream server does not have", raw)
	case strings.HasPrefix(host, "_"):
		if u.Port() != "" {
			return nil, usageError("target %q: an SRV name (_service._proto.name) takes no port: its records give it", raw)
		}
	case (u.Scheme == "tcp" || u.Scheme == "tls") && u.Port() == "":
		return nil, usageError("target %q needs a port: dns+%s://NAME:PORT, or an SRV name dns+%s://_service._proto.NAME", raw, u.Scheme, u.Scheme)
	}
	t := &multiTarget{raw: raw, dns: rest, tlsName: host}
	if strings.HasPrefix(host, "_") {
		// The SRV name's domain: _rpc._tcp.example.com serves example.com.
		parts := strings.SplitN(host, ".", 3)
		if len(parts) < 3 {
			return nil, usageError("target %q: an SRV name is _service._proto.name", raw)
		}
		t.tlsName = parts[2]
	}
	if _, err := cluster.DNS(rest); err != nil {
		return nil, usageError("target %q: %v", raw, err)
	}
	return t, nil
}

func parseEtcdTarget(raw string) (*multiTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usageError("bad target %q: %v", raw, err)
	}
	raw = u.Redacted() // no password in messages
	t := &multiTarget{raw: raw, prefix: u.Path}
	for h := range strings.SplitSeq(u.Host, ",") {
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return nil, usageError("target %q: etcd's endpoints are host:port, comma-separated: etcd://127.0.0.1:2379/PREFIX", raw)
		}
		t.etcd = append(t.etcd, h)
	}
	if t.prefix == "" || t.prefix == "/" {
		return nil, usageError("target %q needs a prefix: etcd://HOST:PORT/PREFIX", raw)
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.password, _ = u.User.Password()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, usageError("target %q: bad query: %v", raw, err)
	}
	for k := range q {
		if k != "scheme" {
			return nil, usageError("target %q: unknown parameter %q (etcd targets take scheme=)", raw, k)
		}
	}
	t.scheme = q.Get("scheme")
	if t.scheme != "" && !slices.Contains([]string{"http", "https", "tcp", "tls", "unix"}, t.scheme) {
		return nil, usageError("target %q: scheme=%s is none of http, https, tcp, tls, unix", raw, t.scheme)
	}
	return t, nil
}

// checkTarget refuses a bad target, of one URL or several endpoints, with
// the usage error the command would meet.
func checkTarget(raw string) error {
	mt, err := parseMultiTarget(raw)
	if err != nil || mt != nil {
		return err
	}
	_, err = parseTarget(raw)
	return err
}

// newEtcdClient is a client of etcd's endpoints, which logs nothing: rpcd
// logs what the resolver and the registration report.
func newEtcdClient(endpoints []string, user, password string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Username:    user,
		Password:    password,
		Logger:      zap.NewNop(),
	})
}

// resolver returns the target's resolver, and what to close once done.
func (t *multiTarget) resolver(cf *clusterFlags) (cluster.Resolver, func(), error) {
	switch {
	case t.list != nil:
		return cluster.Static(t.list...), func() {}, nil
	case t.dns != "":
		var opts []cluster.Option
		if cf.dnsServer != "" {
			server := cf.dnsServer
			opts = append(opts, cluster.WithDNSResolver(&net.Resolver{
				PreferGo: true,
				Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, server)
				},
			}))
		}
		r, err := cluster.DNS(t.dns, opts...)
		if err != nil {
			return nil, nil, usageError("target %q: %v", t.raw, err)
		}
		return r, func() {}, nil
	}
	cli, err := newEtcdClient(t.etcd, t.user, t.password)
	if err != nil {
		return nil, nil, exitError{code: 2, msg: sanitize(fmt.Sprintf("rpcd: etcd at %s: %v", strings.Join(t.etcd, ","), err))}
	}
	r, err := etcd.NewResolver(cli, t.prefix)
	if err != nil {
		cli.Close()
		return nil, nil, usageError("target %q: %v", t.raw, err)
	}
	var res cluster.Resolver = r
	if t.scheme != "" {
		res = schemeFilter{r: r, scheme: t.scheme}
	}
	return res, func() { cli.Close() }, nil
}

// schemeFilter keeps the endpoints of one scheme of a resolver's.
type schemeFilter struct {
	r      cluster.Resolver
	scheme string
}

func (f schemeFilter) keep(urls []string) []string {
	out := urls[:0:0]
	for _, u := range urls {
		if strings.HasPrefix(u, f.scheme+"://") || f.scheme == "unix" && strings.HasPrefix(u, "unix:") {
			out = append(out, u)
		}
	}
	return out
}

func (f schemeFilter) Resolve(ctx context.Context) ([]string, error) {
	urls, err := f.r.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	return f.keep(urls), nil
}

func (f schemeFilter) Watch(ctx context.Context, update func([]string, error)) {
	f.r.Watch(ctx, func(urls []string, err error) {
		if err != nil {
			update(nil, err)
			return
		}
		update(f.keep(urls), nil)
	})
}

// rotated gives a resolver's endpoints rotated left by some places.
type rotated struct {
	r  cluster.Resolver
	by int
}

func (r rotated) rotate(urls []string) []string {
	if len(urls) < 2 {
		return urls
	}
	k := r.by % len(urls)
	return append(urls[k:len(urls):len(urls)], urls[:k]...)
}

func (r rotated) Resolve(ctx context.Context) ([]string, error) {
	urls, err := r.r.Resolve(ctx)
	return r.rotate(urls), err
}

func (r rotated) Watch(ctx context.Context, update func([]string, error)) {
	r.r.Watch(ctx, func(urls []string, err error) { update(r.rotate(urls), err) })
}

// caller is what the client commands call through: the *rpc.Client of one
// URL, or a balancing client.
type caller interface {
	Call(ctx context.Context, method string, result any, params ...any) error
	CallNamed(ctx context.Context, method string, result any, params any) error
	Close() error
}

// balanced is a cluster client and what its resolver needs closed.
type balanced struct {
	*cluster.Client
	closeResolver func()
}

func (b *balanced) Close() error {
	err := b.Client.Close()
	b.closeResolver()
	return err
}

// endpointDialer makes the client of each endpoint of a balancing client,
// as rpcd does for one URL, with the same codec, TLS and authentication.
type endpointDialer struct {
	codec   rpc.Codec
	tlsConf *tls.Config // nil: the transports' default
	tlsName string      // the name to verify, for endpoints found in DNS
	auth    *clientAuth
	http    []httprpc.Option // more options of HTTP clients (rpcd load's)
	rpc     func(url string) []rpc.Option
}

func (d *endpointDialer) dial(_ context.Context, rawURL string) (*rpc.Client, error) {
	t, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	tlsConf := d.tlsConf
	if d.tlsName != "" && (t.scheme == "https" || t.scheme == "tls") {
		if tlsConf == nil {
			tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			tlsConf = tlsConf.Clone()
		}
		tlsConf.ServerName = d.tlsName
	}
	var ropts []rpc.Option
	if d.rpc != nil {
		ropts = d.rpc(rawURL)
	}
	switch t.scheme {
	case "http", "https":
		opts := append(httpOptions(tlsConf, d.auth), d.http...)
		tr, err := httprpc.NewTransport(t.url, opts...)
		if err != nil {
			return nil, err
		}
		c, err := rpc.NewClient(tr, d.codec, ropts...)
		if err != nil {
			tr.Close()
			return nil, err
		}
		return c, nil
	}
	var opts []tcprpc.Option
	switch t.scheme {
	case "tls":
		if tlsConf == nil {
			tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts = append(opts, tcprpc.WithTLS(tlsConf))
	case "unix":
		opts = append(opts, tcprpc.WithNetwork("unix"))
	}
	if d.auth != nil {
		opts = append(opts, tcprpc.WithClientHandshake(d.auth.handshake))
	}
	dial, err := tcprpc.Dialer(t.addr, opts...)
	if err != nil {
		return nil, err
	}
	return rpc.NewStreamClient(dial, d.codec, ropts...)
}

// newEndpointDialer is the dialer of a balancing client's endpoints in
// codec, with the TLS and authentication of f.
func (f *clientFlags) newEndpointDialer(mt *multiTarget, codec string) (*endpointDialer, error) {
	c, err := lookupCodec(codec)
	if err != nil {
		return nil, err
	}
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	auth, err := f.authenticator()
	if err != nil {
		return nil, err
	}
	return &endpointDialer{codec: c, tlsConf: tlsConf, tlsName: mt.tlsName, auth: auth}, nil
}

// newBalanced makes a balancing client of mt's endpoints, which sends again
// after a failure that came once they may have run the calls of the methods
// idempotent names.
func (f *clientFlags) newBalanced(mt *multiTarget, d *endpointDialer, idempotent []string) (*balanced, error) {
	r, closeResolver, err := mt.resolver(&f.cluster)
	if err != nil {
		return nil, err
	}
	// Round robin starts at the first endpoint: from a random one, each
	// client (each rpcd call, each client of rpcd load) starts elsewhere.
	r = rotated{r: r, by: rand.IntN(1 << 16)}
	c, err := cluster.New(r, d.dial,
		cluster.WithBalancer(f.cluster.balance),
		cluster.WithHealthCheck("system.health", healthEvery),
		cluster.WithIdempotent(idempotent...))
	if err != nil {
		closeResolver()
		return nil, usageError("%v", err)
	}
	return &balanced{Client: c, closeResolver: closeResolver}, nil
}

// open returns the client of a target: for one URL, the client rpcd call
// has always made; for several endpoints, a balancing client. That one
// learns which of the methods it will call (uses) are idempotent from the
// server's rpc.discover, within ctx, besides those -idempotent names:
// without rpc.discover, none is.
func (f *clientFlags) open(ctx context.Context, raw string, uses ...string) (caller, error) {
	mt, err := parseMultiTarget(raw)
	if err != nil {
		return nil, err
	}
	if mt == nil {
		return f.dial(raw)
	}
	if err := f.cluster.check(); err != nil {
		return nil, err
	}
	d, err := f.newEndpointDialer(mt, f.codec)
	if err != nil {
		return nil, err
	}
	c, _, err := f.openBalanced(ctx, mt, d, uses)
	return c, err
}

// openBalanced makes the balancing client of open, and returns the
// methods of uses that it may send again (rpcd load makes its clients
// with them).
func (f *clientFlags) openBalanced(ctx context.Context, mt *multiTarget, d *endpointDialer, uses []string) (*balanced, []string, error) {
	given := splitList(f.cluster.idempotent)
	c, err := f.newBalanced(mt, d, given)
	if err != nil {
		return nil, nil, err
	}
	idempotent := given
	for _, m := range discoverIdempotent(ctx, c) {
		if slices.Contains(uses, m) && !slices.Contains(idempotent, m) {
			idempotent = append(idempotent, m)
		}
	}
	if len(idempotent) == len(given) {
		return c, idempotent, nil
	}
	// The idempotent methods are the client's options: a new client.
	c.Close()
	c, err = f.newBalanced(mt, d, idempotent)
	return c, idempotent, err
}

// discoverIdempotent returns the methods that c's server marks
// "x-idempotent": true in its rpc.discover document; none when it has no
// rpc.discover or the call fails.
func discoverIdempotent(ctx context.Context, c caller) []string {
	var doc any
	if err := c.Call(ctx, "rpc.discover", &doc); err != nil {
		return nil
	}
	root, _ := doc.(map[string]any)
	methods, _ := root["methods"].([]any)
	var out []string
	for _, mv := range methods {
		m, _ := mv.(map[string]any)
		if name, ok := m["name"].(string); ok && m["x-idempotent"] == true {
			out = append(out, name)
		}
	}
	return out
}
