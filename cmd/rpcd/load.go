package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// loadValue is what each call of rpcd load echoes: unique to its client and
// call number, with a random nonce and padding, so that a reply can be told
// from any other call's.
type loadValue struct {
	Client int64  `json:"client"`
	Call   int64  `json:"call"`
	Nonce  int64  `json:"nonce"`
	Pad    string `json:"pad"`
}

// loadConfig is what the load flags say.
type loadConfig struct {
	clients     int
	calls       int
	codecs      []string
	urls        []string
	concurrency int
	pipeline    int
	timeout     time.Duration
	maxPad      int
	cf          clientFlags // TLS and authentication; codec set per client

	target     *multiTarget // -target of several endpoints; nil for -urls
	idempotent []string     // of the target's clients: demo.echo if the server says so
	spread     *spread      // the target's calls, by endpoint
}

// loadStats are the counts of one run, or of one codec and URL of it.
type loadStats struct {
	calls, lost, duplicated, mismatched int64
	cancelled                           int64 // in flight when the run was interrupted: not made, not lost
	lat                                 []time.Duration
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rpcd load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadConfig
	var codecs, urls string
	fs.IntVar(&cfg.clients, "clients", 10, "number of clients, each with its own connection")
	fs.IntVar(&cfg.calls, "calls", 100, "calls per client")
	fs.StringVar(&codecs, "codecs", "json,msgpack,proto,xml", "comma-separated `codecs`, assigned to clients in turn")
	fs.StringVar(&urls, "urls", "tcp://127.0.0.1:9000,http://127.0.0.1:8000/", "comma-separated server `URLs` (http, https, tcp, tls, unix), assigned to clients in turn")
	target := fs.String("target", "", "call every client's calls through this `target` instead of -urls: a URL, or several endpoints that each client balances over (see below)")
	fs.IntVar(&cfg.concurrency, "concurrency", 1, "calls in flight per client")
	fs.IntVar(&cfg.pipeline, "pipeline", 0, "HTTP: pipeline up to `N` calls per connection (httprpc.WithPipelining); 0 or 1: none")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "deadline of each call")
	fs.IntVar(&cfg.maxPad, "payload", 64, "longest random padding of each echoed value, in `characters`")
	cfg.cf.registerSecurity(fs)
	cfg.cf.cluster.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rpcd load [flags]\n\n"+
			"Runs clients × calls calls of demo.echo, each of a value unique to its client\n"+
			"and call, over the URLs in the codecs given, and checks every reply against\n"+
			"its request. Shows progress on stderr: a bar on a terminal, else a line\n"+
			"every 5s. Prints calls/s, latency percentiles and the replies lost (the\n"+
			"call failed), duplicated (a reply seen twice) and mismatched (not the\n"+
			"request's value). SIGINT (Ctrl-C) or SIGTERM stops the run: calls in\n"+
			"flight are cancelled, none is started, and the summary counts the calls\n"+
			"made, over the time they took. Exit status: 0 when every call was made\n"+
			"and none failed, 1 when any failed or the run was interrupted, 2 on usage\n"+
			"errors or when a codec or URL does not work at all.\n\n"+
			"-target takes the URL forms of rpcd call. With several endpoints, each\n"+
			"client is a balancing client of them all, and the summary adds the calls\n"+
			"each endpoint answered. demo.echo is sent again after a lost connection\n"+
			"only if the server's rpc.discover marks it idempotent (or -idempotent).\n\n"+
			"%s\n\nflags:\n", targetForms)
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return helpDone(err)
	}
	if len(rest) > 0 {
		return usageError("load: unexpected argument %q", rest[0])
	}
	cfg.codecs, cfg.urls = splitList(codecs), splitList(urls)
	if *target != "" {
		urlsSet := false
		fs.Visit(func(f *flag.Flag) { urlsSet = urlsSet || f.Name == "urls" })
		if urlsSet {
			return usageError("load: give -target or -urls, not both")
		}
		if cfg.target, err = parseMultiTarget(*target); err != nil {
			return err
		}
		if cfg.target == nil {
			// One URL: as -urls of one.
			if _, err := parseTarget(*target); err != nil {
				return err
			}
			cfg.urls = []string{*target}
		} else {
			if err := cfg.cf.cluster.check(); err != nil {
				return err
			}
			cfg.urls = []string{cfg.target.raw}
			cfg.spread = &spread{}
		}
	}
	switch {
	case cfg.clients <= 0 || cfg.calls <= 0 || cfg.concurrency <= 0:
		return usageError("load: -clients, -calls and -concurrency must be positive")
	case cfg.timeout <= 0:
		return usageError("load: -timeout must be positive")
	case cfg.maxPad < 0:
		return usageError("load: -payload must not be negative")
	case cfg.pipeline < 0:
		return usageError("load: -pipeline must not be negative")
	case len(cfg.codecs) == 0 || len(cfg.urls) == 0:
		return usageError("load: no codec or no URL")
	}
	for _, name := range cfg.codecs {
		if _, ok := rpc.LookupCodec(name); !ok {
			return usageError("load: unknown codec %q", name)
		}
	}

	// One call per codec and URL first: a combination that does not work
	// at all is a configuration error, not a million lost calls.
	for _, u := range cfg.urls {
		for _, name := range cfg.codecs {
			if err := loadProbe(ctx, &cfg, u, name); err != nil {
				if ctx.Err() != nil {
					return exitError{code: 1, msg: "rpcd load: interrupted before the first call"}
				}
				return err
			}
		}
	}
	planned := int64(cfg.clients) * int64(cfg.calls)
	fmt.Fprintf(stdout, "load: %d clients × %d calls = %d calls (concurrency %d per client), codecs %s, URLs %s\n",
		cfg.clients, cfg.calls, planned, cfg.concurrency, strings.Join(cfg.codecs, ","), strings.Join(cfg.urls, ","))
	total, byCombo, wall, err := loadRun(ctx, cfg, newProgress(stderr, planned))
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(byCombo)) {
		st := byCombo[k]
		fmt.Fprintf(stdout, "  %-40s calls=%d p50=%v p99=%v lost=%d duplicated=%d mismatched=%d\n",
			k, st.calls, percentile(st.lat, 50), percentile(st.lat, 99), st.lost, st.duplicated, st.mismatched)
	}
	if cfg.spread != nil {
		cfg.spread.print(stdout)
	}
	fmt.Fprintf(stdout, "calls=%d wall=%v calls/s=%.0f p50=%v p99=%v max=%v\n",
		total.calls, wall.Round(time.Millisecond), float64(total.calls)/wall.Seconds(),
		percentile(total.lat, 50), percentile(total.lat, 99), percentile(total.lat, 100))
	fmt.Fprintf(stdout, "lost=%d duplicated=%d mismatched=%d\n", total.lost, total.duplicated, total.mismatched)
	interrupted := ""
	if notStarted := planned - total.calls - total.cancelled; total.calls < planned {
		interrupted = fmt.Sprintf("interrupted: %d of %d calls made, %d cancelled in flight, %d not started",
			total.calls, planned, total.cancelled, notStarted)
		fmt.Fprintln(stdout, interrupted)
	}
	switch {
	case total.lost+total.duplicated+total.mismatched > 0:
		msg := fmt.Sprintf("rpcd load: %d lost, %d duplicated, %d mismatched of %d calls",
			total.lost, total.duplicated, total.mismatched, total.calls)
		if interrupted != "" {
			msg += " (" + interrupted + ")"
		}
		return exitError{code: 1, msg: msg}
	case interrupted != "":
		return exitError{code: 1, msg: "rpcd load: " + interrupted}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// loadDial makes the client of one load client: as rpcd call does, but an
// HTTP client keeps a connection per call in flight alive, and pipelines
// with -pipeline. With a -target of several endpoints, it is a balancing
// client, whose endpoints' clients are made so, and which counts the calls
// each endpoint answers when count is set (not for the probes).
func loadDial(cfg loadConfig, rawURL, codec string, count bool) (caller, error) {
	if cfg.target != nil {
		d, err := cfg.cf.newEndpointDialer(cfg.target, codec)
		if err != nil {
			return nil, err
		}
		d.http = []httprpc.Option{httprpc.WithMaxIdleConns(max(cfg.concurrency, 2)), httprpc.WithPipelining(cfg.pipeline)}
		if count {
			d.rpc = cfg.spread.options
		}
		return cfg.cf.newBalanced(cfg.target, d, cfg.idempotent)
	}
	cf := cfg.cf
	cf.codec = codec
	t, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	if t.scheme != "http" && t.scheme != "https" {
		return cf.dial(rawURL)
	}
	c, err := lookupCodec(codec)
	if err != nil {
		return nil, err
	}
	tlsConf, err := cf.tlsConfig()
	if err != nil {
		return nil, err
	}
	auth, err := cf.authenticator()
	if err != nil {
		return nil, err
	}
	opts := append(httpOptions(tlsConf, auth), httprpc.WithMaxIdleConns(max(cfg.concurrency, 2)), httprpc.WithPipelining(cfg.pipeline))
	cl, err := httprpc.NewClient(t.url, c, opts...)
	if err != nil {
		return nil, usageError("load: %v", err)
	}
	return cl, nil
}

// loadProbe makes one call of demo.echo in codec at rawURL. For a target
// of several endpoints, it first learns whether demo.echo is idempotent
// (cfg.idempotent).
func loadProbe(ctx context.Context, cfg *loadConfig, rawURL, codec string) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	var c caller
	var err error
	if cfg.target != nil {
		var d *endpointDialer
		if d, err = cfg.cf.newEndpointDialer(cfg.target, codec); err != nil {
			return err
		}
		c, cfg.idempotent, err = cfg.cf.openBalanced(ctx, cfg.target, d, []string{"demo.echo"})
	} else {
		c, err = loadDial(*cfg, rawURL, codec, false)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	want := loadValue{Client: -1, Call: -1, Nonce: 1, Pad: "probe"}
	var got loadValue
	if err := c.Call(ctx, "demo.echo", &got, want); err != nil {
		err = blameTimeout(ctx, err, cfg.timeout)
		return exitError{code: 2, msg: sanitize(fmt.Sprintf("rpcd load: codec %s at %s does not work: %v", codec, rawURL, err))}
	}
	if got != want {
		return exitError{code: 2, msg: sanitize(fmt.Sprintf("rpcd load: codec %s at %s: demo.echo(%+v) = %+v", codec, rawURL, want, got))}
	}
	return nil
}

// padChars are the padding's characters: some that codecs must escape.
const padChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 <>&\"'\\/é€"

// loadRun runs the calls, until they are all made or ctx ends, counting
// them in p as they finish. It returns the totals, the stats per codec and
// URL, and the wall time of the calls.
func loadRun(ctx context.Context, cfg loadConfig, p *progress) (loadStats, map[string]*loadStats, time.Duration, error) {
	padRunes := []rune(padChars)
	clients := make([]caller, cfg.clients)
	combos := make([]string, cfg.clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		codec := cfg.codecs[i%len(cfg.codecs)]
		u := cfg.urls[(i/len(cfg.codecs))%len(cfg.urls)]
		c, err := loadDial(cfg, u, codec, true)
		if err != nil {
			return loadStats{}, nil, 0, err
		}
		clients[i], combos[i] = c, codec+" "+u
	}

	// seen marks the replies received, by client and call: a reply that
	// names a call already answered is a duplicate.
	seen := make([]atomic.Bool, cfg.clients*cfg.calls)
	var errShown atomic.Int64
	showErr := func(format string, args ...any) {
		if errShown.Add(1) <= 10 {
			p.println(sanitize(fmt.Sprintf("rpcd load: "+format, args...)))
		}
	}

	// Each worker gathers its own stats; no lock on the hot path.
	workers := make([]loadStats, cfg.clients*cfg.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	p.start = start
	stopProgress, progressDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(progressDone)
		p.run(stopProgress)
	}()
	for i, c := range clients {
		for w := range cfg.concurrency {
			st := &workers[i*cfg.concurrency+w]
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), uint64(w)^uint64(start.UnixNano())))
				var pad []rune
				for call := w; call < cfg.calls && ctx.Err() == nil; call += cfg.concurrency {
					pad = pad[:0]
					for range rng.IntN(cfg.maxPad + 1) {
						pad = append(pad, padRunes[rng.IntN(len(padRunes))])
					}
					want := loadValue{Client: int64(i), Call: int64(call), Nonce: rng.Int64(), Pad: string(pad)}
					var got loadValue
					cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
					t0 := time.Now()
					err := c.Call(cctx, "demo.echo", &got, want)
					d := time.Since(t0)
					if err != nil && ctx.Err() != nil {
						cancel()
						st.cancelled++ // interrupted, not lost
						break
					}
					err = blameTimeout(cctx, err, cfg.timeout)
					cancel()
					st.calls++
					p.done.Add(1)
					if err != nil {
						st.lost++
						p.failed.Add(1)
						showErr("client %d (%s) call %d: %v", i, combos[i], call, err)
						continue
					}
					st.lat = append(st.lat, d)
					if got.Client >= 0 && got.Client < int64(cfg.clients) && got.Call >= 0 && got.Call < int64(cfg.calls) &&
						seen[got.Client*int64(cfg.calls)+got.Call].Swap(true) {
						st.duplicated++
						p.failed.Add(1)
						showErr("client %d (%s) call %d: duplicated reply %+v", i, combos[i], call, got)
						continue
					}
					if got != want {
						st.mismatched++
						p.failed.Add(1)
						showErr("client %d (%s) call %d: sent %+v, got %+v", i, combos[i], call, want, got)
					}
				}
			})
		}
	}
	wg.Wait()
	wall := time.Since(start)
	close(stopProgress)
	<-progressDone
	if n := errShown.Load(); n > 10 {
		p.println(fmt.Sprintf("rpcd load: ... %d more failures not shown", n-10))
	}

	var total loadStats
	byCombo := map[string]*loadStats{}
	for i := range clients {
		k := combos[i]
		if byCombo[k] == nil {
			byCombo[k] = &loadStats{}
		}
		for w := range cfg.concurrency {
			st := &workers[i*cfg.concurrency+w]
			for _, agg := range []*loadStats{&total, byCombo[k]} {
				agg.calls += st.calls
				agg.lost += st.lost
				agg.duplicated += st.duplicated
				agg.mismatched += st.mismatched
				agg.cancelled += st.cancelled
				agg.lat = append(agg.lat, st.lat...)
			}
		}
	}
	slices.Sort(total.lat)
	for _, st := range byCombo {
		slices.Sort(st.lat)
	}
	return total, byCombo, wall, nil
}

// percentile returns the p-th percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)].Round(time.Microsecond)
}

// spread counts the calls of demo.echo that each endpoint of a -target
// answered (a result or a fault: not a call lost on its way), for the
// summary of rpcd load.
type spread struct {
	mu    sync.Mutex
	byURL map[string]*atomic.Int64
}

// options are the options of the client of the endpoint at url: an
// interceptor that counts its calls answered.
func (s *spread) options(url string) []rpc.Option {
	s.mu.Lock()
	if s.byURL == nil {
		s.byURL = map[string]*atomic.Int64{}
	}
	n := s.byURL[url]
	if n == nil {
		n = new(atomic.Int64)
		s.byURL[url] = n
	}
	s.mu.Unlock()
	return []rpc.Option{rpc.WithInterceptors(func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		res, err := next(ctx, call)
		if call.Method == "demo.echo" && (err == nil || isFault(err)) {
			n.Add(1)
		}
		return res, err
	})}
}

// print writes the calls of each endpoint, and their share.
func (s *spread) print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for _, n := range s.byURL {
		total += n.Load()
	}
	for _, u := range slices.Sorted(maps.Keys(s.byURL)) {
		n := s.byURL[u].Load()
		share := 0.0
		if total > 0 {
			share = 100 * float64(n) / float64(total)
		}
		fmt.Fprintf(w, "  endpoint %-40s calls=%d (%.1f%%)\n", u, n, share)
	}
}
