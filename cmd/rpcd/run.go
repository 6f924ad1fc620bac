package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	msgpackcodec "github.com/polyrpc/polyrpc/codec/msgpack"
	protocodec "github.com/polyrpc/polyrpc/codec/proto"
	xmlcodec "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// config is what the serve flags say.
type config struct {
	health          *health      // made by serve
	tracer          *tracer      // made by serve
	metrics         *rpcdMetrics // made by serve
	metricsAddr     string
	otlpEndpoint    string
	httpAddr        string
	httpEngine      string
	tcpAddr         string
	maxMessage      int
	demo            bool
	callTimeout     time.Duration
	shutdownTimeout time.Duration
	drainDelay      time.Duration
	logLevel        slog.Level
	logFormat       string
	version         bool
	authKeyFiles    stringList
	authAllowMD5    bool

	authAllowInsecurePerms bool
	tlsCert                string
	tlsKey                 string
	tlsClientCA            string

	maxBatch         int
	maxDepth         int
	maxConns         int
	maxConnsPerIP    int
	maxMemory        int64
	allowOrigins     stringList
	maxInFlight      int
	handshakeTimeout time.Duration
	idleTimeout      time.Duration
	readTimeout      time.Duration
	writeTimeout     time.Duration

	maxConnAge    time.Duration
	proxyFrom     []netip.Prefix // -proxy-protocol-from
	registerURL   string
	registerEtcd  *multiTarget // -register, parsed
	registerTTL   time.Duration
	advertiseHost string
}

// usage is rpcd's usage, without the serve flags.
const usage = `usage: rpcd [serve] [flags]                     serve methods until SIGINT or SIGTERM
       rpcd call [flags] URL METHOD [PARAM...]  call a method, print its result as JSON
       rpcd list [flags] URL                    list a server's methods (-v: signatures)
       rpcd load [flags]                        load-test servers with demo.echo calls
       rpcd version                             print rpcd's version
       rpcd help [COMMAND]                      print this, or a command's usage

rpcd COMMAND -help prints the command's flags.
`

// run is rpcd's whole program but for process details, so that tests run it
// in-process: it serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "call":
			return runCall(ctx, args[1:], stdout, stderr)
		case "list":
			return runList(ctx, args[1:], stdout, stderr)
		case "load":
			return runLoad(ctx, args[1:], stdout, stderr)
		case "version":
			if len(args) > 1 {
				return usageError("version: unexpected argument %q", args[1])
			}
			_, err := fmt.Fprintln(stdout, version(debug.ReadBuildInfo()))
			return err
		case "help":
			return runHelp(ctx, args[1:], stdout)
		case "serve":
			args = args[1:]
		}
	}
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2, msg: err.Error()}
	}
	if cfg.version {
		_, err := fmt.Fprintln(stdout, version(debug.ReadBuildInfo()))
		return err
	}
	var lh slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel})
	if cfg.logFormat == "json" {
		lh = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel})
	}
	log := slog.New(lh)
	return serve(ctx, cfg, log)
}

// runHelp prints rpcd's usage, or a command's, on stdout.
func runHelp(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	if len(args) > 1 {
		return usageError("help: give one command")
	}
	switch args[0] {
	case "call", "list", "load", "serve":
		return run(ctx, []string{args[0], "-help"}, stdout, stdout)
	case "version", "help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	return usageError("help: unknown command %q (have serve, call, list, load, version, help)", args[0])
}

func parseServeFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("rpcd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.httpAddr, "http", "127.0.0.1:8000", "HTTP listen `address` (POST / and /RPC2); empty disables HTTP")
	fs.StringVar(&cfg.httpEngine, "http-engine", "polyrpc", "HTTP `engine` of the HTTP listener: polyrpc (its own HTTP/1.1, HTTP/2 by net/http) or net/http")
	fs.StringVar(&cfg.tcpAddr, "tcp", "127.0.0.1:9000", "TCP listen `address` for length-prefixed frames (any codec); empty disables TCP")
	fs.IntVar(&cfg.maxMessage, "max-message", 4<<20, "largest request message in `bytes`")
	fs.BoolVar(&cfg.demo, "demo", true, "serve the demo methods (JSON-RPC examples, validator1, demo.*)")
	fs.DurationVar(&cfg.callTimeout, "call-timeout", 0, "deadline of every call (`duration`); 0 means none")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long graceful shutdown waits for calls in flight")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", 0, "on shutdown, answer /readyz with 503 and keep serving at least this long before the listeners close")
	fs.Var(&cfg.authKeyFiles, "auth-key-file", "require HMAC authentication on every listener with the key in this `[NAME=]file` (its exact bytes, mode 0600; the callers' identity is NAME, else an ID derived from the key; repeat for several keys)")
	fs.BoolVar(&cfg.authAllowInsecurePerms, "auth-allow-insecure-key-perms", false, "accept key files that their group or others may read or write")
	fs.BoolVar(&cfg.authAllowMD5, "auth-allow-md5", false, "also accept the legacy HMAC-MD5 handshake of Python 3.11 and older")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve TLS on every listener with this certificate PEM `file`")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the TLS private key PEM `file`")
	fs.StringVar(&cfg.tlsClientCA, "tls-client-ca", "", "require client certificates signed by the CAs in this PEM `file` (mutual TLS)")
	fs.IntVar(&cfg.maxBatch, "max-batch", 1000, "most calls in one JSON-RPC batch or system.multicall")
	fs.IntVar(&cfg.maxDepth, "max-depth", 128, "deepest nesting of arrays and objects a message may have")
	fs.IntVar(&cfg.maxConns, "max-conns", 10000, "most connections served at once, per listener (HTTP and TCP); more wait in the listen backlog")
	fs.IntVar(&cfg.maxConnsPerIP, "max-conns-per-ip", 256, "most connections from one source address (IPv4, or IPv6 /64), per listener; more are closed at once")
	fs.Int64Var(&cfg.maxMemory, "max-memory", 256<<20, "most `bytes` held for the messages in flight on all connections; beyond it the connections that hold the most are not read")
	fs.Var(&cfg.allowOrigins, "allow-origin", "let web pages of this `origin` (scheme://host[:port]) call the HTTP listener; repeat for several")
	fs.IntVar(&cfg.maxInFlight, "max-in-flight", 128, "most calls of one TCP connection running at once; beyond it the connection is not read")
	fs.DurationVar(&cfg.handshakeTimeout, "handshake-timeout", 10*time.Second, "time a TCP connection has to authenticate")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", 5*time.Minute, "close connections idle this long (TCP with no call running; HTTP keep-alive)")
	fs.DurationVar(&cfg.readTimeout, "read-timeout", 30*time.Second, "time to read one message once it started (TCP frame; HTTP request)")
	fs.DurationVar(&cfg.writeTimeout, "write-timeout", 30*time.Second, "time a TCP reply, or 64 KiB of an HTTP response, may take to write before the peer is dropped")
	fs.Func("otlp-endpoint", otlpUsage, cfg.setOTLPEndpoint)
	fs.DurationVar(&cfg.maxConnAge, "max-conn-age", 0, "close connections older than this `duration` once their calls are done, so that long-lived clients spread over new replicas; 0 means never")
	fs.Func("proxy-protocol-from", "read the PROXY protocol header (v1 or v2) on both listeners from connections of these comma-separated `CIDRs` (address ranges of your balancers), and honour X-Forwarded-For from them; a header from any other address closes the connection", cfg.setProxyFrom)
	fs.StringVar(&cfg.registerURL, "register", "", "register the listeners' URLs in etcd at `etcd://host:port/prefix`, under a lease kept alive while rpcd serves and revoked when it starts draining")
	fs.DurationVar(&cfg.registerTTL, "register-ttl", 10*time.Second, "TTL of the -register lease: how long the keys of an instance that died stay in etcd")
	fs.StringVar(&cfg.advertiseHost, "advertise", "", "the `host` (name or address) -register puts in the URLs, with each listener's port; needed when a listener is on 0.0.0.0 or ::")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at GET /metrics on this listen `address` of its own (plain HTTP, no authentication: keep it on loopback or a private network); empty disables")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log `level`: debug (every call), info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log `format`: text (logfmt-like key=value) or json (one JSON object per line)")
	fs.BoolVar(&cfg.version, "version", false, "print rpcd's version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\nserve flags:\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		if len(args) > 0 && args[0] == fs.Arg(0) {
			return cfg, fmt.Errorf("rpcd: unknown command %q (rpcd help lists them)", fs.Arg(0))
		}
		return cfg, fmt.Errorf("rpcd: unexpected argument %q: serve takes flags only", fs.Arg(0))
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return cfg, fmt.Errorf("rpcd: -log-format must be text or json, not %q", cfg.logFormat)
	}
	if cfg.maxMessage <= 0 {
		return cfg, fmt.Errorf("rpcd: -max-message must be positive")
	}
	if cfg.maxMemory < 2*int64(cfg.maxMessage) {
		return cfg, fmt.Errorf("rpcd: -max-memory must hold at least two messages of -max-message bytes")
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"-max-batch", cfg.maxBatch}, {"-max-depth", cfg.maxDepth}, {"-max-conns", cfg.maxConns}, {"-max-conns-per-ip", cfg.maxConnsPerIP}, {"-max-in-flight", cfg.maxInFlight}} {
		if n.v <= 0 {
			return cfg, fmt.Errorf("rpcd: %s must be positive", n.name)
		}
	}
	if cfg.httpAddr == "" && cfg.tcpAddr == "" {
		return cfg, fmt.Errorf("rpcd: no listener: -http and -tcp are both empty")
	}
	if cfg.maxConnAge < 0 {
		return cfg, fmt.Errorf("rpcd: -max-conn-age must not be negative")
	}
	if cfg.registerURL != "" {
		var err error
		if cfg.registerEtcd, err = parseRegister(cfg.registerURL); err != nil {
			return cfg, err
		}
		if cfg.registerTTL < time.Second {
			return cfg, fmt.Errorf("rpcd: -register-ttl must be at least 1s (etcd counts leases in seconds)")
		}
	}
	if cfg.advertiseHost != "" && cfg.registerURL == "" {
		return cfg, fmt.Errorf("rpcd: -advertise is what -register registers: give -register too")
	}
	if strings.ContainsAny(cfg.advertiseHost, "/:[]") && net.ParseIP(cfg.advertiseHost) == nil {
		return cfg, fmt.Errorf("rpcd: -advertise wants a host name or an IP address, without a port: %q", cfg.advertiseHost)
	}
	return cfg, nil
}

func newServer(cfg config, log *slog.Logger) (*rpc.Server, error) {
	s, err := rpc.NewServer(
		rpc.WithCodecs(codecs(cfg)...),
		rpc.WithCallTimeout(cfg.callTimeout),
		rpc.WithMaxBatch(cfg.maxBatch),
		rpc.WithMaxMemory(cfg.maxMemory),
		rpc.WithInterceptors(cfg.metrics.interceptors()...),
		rpc.WithInterceptors(cfg.tracer.interceptor()),
		rpc.WithInterceptors(logCalls(log)),
		rpc.WithInterceptors(cfg.health.count),
		rpc.WithLogger(log),
	)
	if err != nil {
		return nil, err
	}
	if err := cfg.health.register(s); err != nil {
		return nil, err
	}
	if err := introspect.Register(s, introspect.WithMaxMulticall(cfg.maxBatch)); err != nil {
		return nil, err
	}
	if cfg.demo {
		if err := demo.Register(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// codecs are the wire formats rpcd serves, with its limits.
func codecs(cfg config) []rpc.Codec {
	return []rpc.Codec{
		jsoncodec.New(jsoncodec.WithMaxDepth(cfg.maxDepth)),
		msgpackcodec.New(msgpackcodec.WithMaxDepth(cfg.maxDepth)),
		protocodec.New(protocodec.WithMaxDepth(cfg.maxDepth)),
		xmlcodec.New(xmlcodec.WithMaxDepth(cfg.maxDepth)),
	}
}

// logCalls logs every call at debug level as it starts, and once it ended
// with its method, codec, transport, the caller's address and
// authenticated identity, how long it took and its error code (0 for
// success).
func logCalls(log *slog.Logger) rpc.Interceptor {
	return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		if !log.Enabled(ctx, slog.LevelDebug) {
			return next(ctx, call)
		}
		start := time.Now()
		log.DebugContext(ctx, "call started", "method", call.Method)
		res, err := next(ctx, call)
		attrs := make([]slog.Attr, 0, 9)
		attrs = append(attrs, slog.String("method", call.Method), slog.String("codec", call.Codec))
		if p := call.Peer; p != nil {
			attrs = append(attrs, slog.String("transport", p.Transport))
			if p.Addr != nil {
				attrs = append(attrs, slog.String("remote", p.Addr.String()))
			}
			if p.Identity != "" {
				attrs = append(attrs, slog.String("identity", p.Identity))
			}
		}
		attrs = append(attrs, slog.Duration("duration", time.Since(start)))
		if e := rpc.AsError(err); e != nil {
			attrs = append(attrs, slog.Int("code", int(e.Code)), slog.String("error", e.Message))
		} else {
			attrs = append(attrs, slog.Int("code", 0))
		}
		attrs = appendTraceID(ctx, attrs)
		log.LogAttrs(ctx, slog.LevelDebug, "call", attrs...)
		return res, err
	}
}

// memoryHeadroom is what rpcd's Go memory limit adds to -max-memory for
// what is not messages: buffers, goroutines, the runtime.
const memoryHeadroom = 64 << 20

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit, so that the garbage collector keeps up under a
		// burst instead of letting the heap double; GOMEMLIMIT overrides.
		debug.SetMemoryLimit(cfg.maxMemory + memoryHeadroom)
	}
	cfg.health = newHealth()
	tr, err := startTracing(cfg.otlpEndpoint, log)
	if err != nil {
		return err
	}
	defer tr.stop(cfg.shutdownTimeout, log)
	cfg.tracer = tr
	if cfg.metrics, err = startMetrics(cfg.metricsAddr, log); err != nil {
		return err
	}
	defer cfg.metrics.stop()
	s, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	cfg.metrics.bind(s)
	names := make([]string, 0)
	for _, c := range s.Codecs() {
		names = append(names, c.Name())
	}

	keys, err := serverAuth(cfg)
	if err != nil {
		return err
	}
	if keys != nil {
		log.Info("authentication on", "keys", keys.IDs(), "nonces_issued_under", keys.IDs()[0])
	}
	tlsConf, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	security := "none"
	switch {
	case keys != nil && tlsConf != nil:
		security = "tls+hmac"
	case keys != nil:
		security = "hmac"
	case tlsConf != nil:
		security = "tls"
	}

	// Listen on everything first, so that a bad address fails before
	// anything is served.
	var hs *httprpc.Server
	var httpLn, tcpLn net.Listener
	if cfg.httpAddr != "" {
		if httpLn, err = net.Listen("tcp", cfg.httpAddr); err != nil {
			return err
		}
		defer httpLn.Close()
		if httpLn, err = wrapListener(cfg, httpLn, log); err != nil {
			return err
		}
		defer httpLn.Close()
		if hs, err = newHTTPServer(cfg, s, keys, tlsConf, log); err != nil {
			return err
		}
	}
	var ts *tcprpc.Server
	if cfg.tcpAddr != "" {
		if tcpLn, err = net.Listen("tcp", cfg.tcpAddr); err != nil {
			return err
		}
		defer tcpLn.Close()
		if tcpLn, err = wrapListener(cfg, tcpLn, log); err != nil {
			return err
		}
		defer tcpLn.Close()
		if tlsConf != nil {
			tcpLn = tls.NewListener(tcpLn, tlsConf)
		}
		if ts, err = newTCPServer(cfg, s, keys, log); err != nil {
			return err
		}
	}

	// Registered once the listeners listen, so that a client that finds
	// this instance can connect; calls wait in the backlog for Serve.
	reg, err := registerListeners(cfg, httpLn, tcpLn, tlsConf != nil, log)
	if err != nil {
		return err
	}
	defer reg.leave()

	errc := make(chan error, 2)
	// Serve returns only at Shutdown or Close, or on a listener's failure.
	if hs != nil {
		log.Info("serving HTTP", "addr", httpLn.Addr().String(), "security", security, "codecs", names, "methods", len(s.Methods()))
		go func() { errc <- hs.Serve(httpLn) }()
	}
	if ts != nil {
		log.Info("serving TCP", "addr", tcpLn.Addr().String(), "security", security, "codecs", names, "methods", len(s.Methods()))
		go func() { errc <- ts.Serve(tcpLn) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", cfg.shutdownTimeout, "in_flight", cfg.health.inFlight.Load())
	// Leave etcd as the drain starts: clients that watch it stop sending
	// calls here while the listeners still serve those that come.
	go reg.leave()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	cfg.health.drain(sctx, cfg.drainDelay)
	var httpErr, tcpErr error
	var wg sync.WaitGroup
	if hs != nil {
		wg.Go(func() { httpErr = hs.Shutdown(sctx) })
	}
	if ts != nil {
		wg.Go(func() { tcpErr = ts.Shutdown(sctx) })
	}
	for _, f := range cfg.health.shutdowns {
		// Connections that left the servers (WebSocket upgrades) finish
		// their calls and close.
		wg.Go(func() { f(sctx) })
	}
	wg.Wait()
	if httpErr != nil || tcpErr != nil {
		return fmt.Errorf("rpcd: shutdown: %w", errors.Join(httpErr, tcpErr))
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer builds the HTTP listener's server: s at / and /RPC2, behind
// authentication when keys are given, over TLS when tlsConf is.
func newHTTPServer(cfg config, s *rpc.Server, keys *auth.KeySet, tlsConf *tls.Config, log *slog.Logger) (*httprpc.Server, error) {
	h, err := httprpc.NewHandler(s, httprpc.WithMaxMessageSize(cfg.maxMessage),
		httprpc.WithAllowOrigin(cfg.allowOrigins...), httprpc.WithLogger(log))
	if err != nil {
		return nil, err
	}
	var handler http.Handler = h
	if keys != nil {
		if handler, err = auth.NewHTTPHandler(h, keys, auth.WithMaxMessageSize(cfg.maxMessage),
			auth.WithMemoryBudget(s.Budget()), auth.WithLogger(log)); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/{$}", handler)
	mux.Handle("/RPC2", handler)
	if err := handleWS(mux, cfg, s, keys, log); err != nil {
		return nil, err
	}
	cfg.health.routes(mux)
	var root http.Handler = forwardedFor(cfg, mux)
	opts := []httprpc.Option{
		httprpc.WithReadTimeout(cfg.readTimeout),
		httprpc.WithWriteTimeout(cfg.writeTimeout),
		httprpc.WithIdleTimeout(cfg.idleTimeout),
		httprpc.WithMaxConns(cfg.maxConns),
		httprpc.WithMaxConnsPerIP(cfg.maxConnsPerIP),
		httprpc.WithLogger(log),
		httprpc.WithEngine(cfg.httpEngine),
	}
	if tlsConf != nil {
		// A copy: the HTTP server may add its ALPN protocols, which the TCP
		// listener must not offer.
		opts = append(opts, httprpc.WithTLSConfig(tlsConf.Clone()))
	}
	return httprpc.NewServer(root, opts...)
}

// newTCPServer builds the TCP listener's server of s, which authenticates
// every connection when keys are given.
func newTCPServer(cfg config, s *rpc.Server, keys *auth.KeySet, log *slog.Logger) (*tcprpc.Server, error) {
	opts := []tcprpc.Option{
		tcprpc.WithMaxMessageSize(cfg.maxMessage),
		tcprpc.WithMaxConns(cfg.maxConns),
		tcprpc.WithMaxConnsPerIP(cfg.maxConnsPerIP),
		tcprpc.WithMaxInFlight(cfg.maxInFlight),
		tcprpc.WithHandshakeTimeout(cfg.handshakeTimeout),
		tcprpc.WithIdleTimeout(cfg.idleTimeout),
		tcprpc.WithReadTimeout(cfg.readTimeout),
		tcprpc.WithWriteTimeout(cfg.writeTimeout),
		tcprpc.WithLogger(log),
	}
	if keys != nil {
		as, err := auth.NewServer(keys, auth.WithAllowMD5(cfg.authAllowMD5), auth.WithHandshakeTimeout(cfg.handshakeTimeout), auth.WithLogger(log))
		if err != nil {
			return nil, err
		}
		opts = append(opts, tcprpc.WithHandshake(as.Handshake))
	}
	return tcprpc.NewServer(s, opts...)
}
