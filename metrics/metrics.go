package metrics

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polyrpc/polyrpc/internal/events"
	"github.com/polyrpc/polyrpc/rpc"
)

// other is the label value of whatever is outside a bounded set, as
// OpenTelemetry names it.
const other = "_OTHER"

// maxClientMethods bounds the distinct rpc_method values of a client.
const maxClientMethods = 1000

// Metrics holds the metrics of polyrpc servers and clients, registered
// with a Prometheus Registerer. Its interceptors may serve any number of
// servers and clients at once.
type Metrics struct {
	server, client side

	conns      *prometheus.GaugeVec
	limitHits  *prometheus.CounterVec
	authFailed *prometheus.CounterVec

	clientMu      sync.Mutex
	clientMethods sync.Map // method name → struct{}
	clientCount   int      // entries of clientMethods; clientMu held
}

// New returns Metrics registered with reg, and installs them as the
// process's observer of transport events (see the package's doc). It fails
// for a nil reg, an invalid option, and when reg has metrics of the same
// names already.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: New: nil Registerer")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		server: newSide("server", true, cfg),
		client: newSide("client", false, cfg),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpc_server_connections_open",
			Help: "Connections the server's transports hold open (process-wide).",
		}, []string{"transport"}),
		limitHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpc_server_limit_hits_total",
			Help: "Connections and requests held back or refused by a limit of the server's transports (process-wide).",
		}, []string{"transport", "limit"}),
		authFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpc_server_auth_failures_total",
			Help: "Failed authentications: TCP handshakes, HTTP requests with wrong credentials (process-wide).",
		}, []string{"transport"}),
	}
	cs := append(m.server.collectors(), m.client.collectors()...)
	cs = append(cs, m.conns, m.limitHits, m.authFailed)
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	// Series that exist from the start, so that rates over them begin at 0.
	for _, t := range []string{"http", "tcp"} {
		m.conns.WithLabelValues(t)
		m.authFailed.WithLabelValues(t)
		for _, l := range []string{"max_conns", "max_conns_per_ip", "max_message_size", "max_memory"} {
			m.limitHits.WithLabelValues(t, l)
		}
	}
	m.limitHits.WithLabelValues("tcp", "max_in_flight")
	events.Set(observer{m})
	return m, nil
}

// Server returns the interceptor that measures the calls a server serves.
// registered reports whether a method is registered at the time of a call,
// which bounds the rpc_method label: a call to another method counts as
// _OTHER. It is typically the server's own registry, which exists only
// once the server is made with the interceptor:
//
//	var srv *rpc.Server
//	registered := func(method string) bool { _, ok := srv.Method(method); return ok }
//	srv, err = rpc.NewServer(rpc.WithInterceptors(m.Server(registered)))
//
// A nil registered counts every call as _OTHER. Put the interceptor first
// to measure the others too.
func (m *Metrics) Server(registered func(method string) bool) rpc.Interceptor {
	return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		method := other
		if registered != nil && registered(call.Method) {
			method = call.Method
		}
		transport := other
		if p := call.Peer; p != nil && p.Transport != "" {
			transport = p.Transport
		}
		s := m.server.lookup(call.Codec, method, transport)
		return s.measure(ctx, call, next, serverCode, int(rpc.CodeInternal))
	}
}

// Client returns the interceptor that measures a client's calls. The
// calls of Client.Batch do not pass through interceptors, and are not
// measured.
func (m *Metrics) Client() rpc.Interceptor {
	return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		s := m.client.lookupKnown(call.Codec, call.Method, "")
		if s == nil {
			s = m.client.lookup(call.Codec, m.clientMethod(call.Method), "")
		}
		return s.measure(ctx, call, next, clientCode, noCode)
	}
}

// clientMethod bounds a client's method names: the first maxClientMethods
// distinct ones are their own label, the others _OTHER.
func (m *Metrics) clientMethod(name string) string {
	if _, ok := m.clientMethods.Load(name); ok {
		return name
	}
	m.clientMu.Lock()
	defer m.clientMu.Unlock()
	if _, ok := m.clientMethods.Load(name); ok {
		return name
	}
	if m.clientCount >= maxClientMethods {
		return other
	}
	m.clientMethods.Store(name, struct{}{})
	m.clientCount++
	return name
}

// side is the metrics of servers, or of clients.
type side struct {
	transport bool // the series have a transport label
	duration  *prometheus.HistogramVec
	started   *prometheus.CounterVec
	inFlight  *prometheus.GaugeVec
	reqSize   *prometheus.HistogramVec
	respSize  *prometheus.HistogramVec
	series    sync.Map // seriesKey → *series
	methods   sync.Map // rpc_method → *methodSeries, for the known systems and transports
}

// methodSeries is the series of a method, by the index of the system
// (codecIndex) and of the transport (transportIndex): a call looks its
// series up with one hash of a string.
type methodSeries [len(systemNames)][len(transportNames)]atomic.Pointer[series]

// systemNames are the rpc_system_name of the codecs that codecIndex knows.
var systemNames = [...]string{"jsonrpc", "xmlrpc", "msgpackrpc", "polyrpc", other}

// codecIndex is the index in systemNames of a codec's system, -1 for
// another.
func codecIndex(codec string) int {
	switch codec {
	case "json":
		return 0
	case "xml":
		return 1
	case "msgpack":
		return 2
	case "proto":
		return 3
	case "":
		return 4
	}
	return -1
}

// transportNames are the transport labels that transportIndex knows; a
// client's series have none ("").
var transportNames = [...]string{"", "tcp", "http", "unix", "inproc", other}

// transportIndex is the index in transportNames of a transport, -1 for
// another.
func transportIndex(t string) int {
	switch t {
	case "":
		return 0
	case "tcp":
		return 1
	case "http":
		return 2
	case "unix":
		return 3
	case "inproc":
		return 4
	case other:
		return 5
	}
	return -1
}

// lookupKnown returns the series of the labels if it was looked up
// before, nil if not.
func (s *side) lookupKnown(codec, method, transport string) *series {
	ci, ti := codecIndex(codec), transportIndex(transport)
	if ci < 0 || ti < 0 {
		return nil
	}
	if v, ok := s.methods.Load(method); ok {
		return v.(*methodSeries)[ci][ti].Load()
	}
	return nil
}

// lookup returns the series of the labels of a call: a method's name (or
// _OTHER), transport ("" on a client), and the system of its codec.
// method must be one of a bounded set.
func (s *side) lookup(codec, method, transport string) *series {
	if sr := s.lookupKnown(codec, method, transport); sr != nil {
		return sr
	}
	ci, ti := codecIndex(codec), transportIndex(transport)
	if ci < 0 || ti < 0 {
		return s.get(seriesKey{systemName(codec), method, transport})
	}
	v, ok := s.methods.Load(method)
	if !ok {
		// The method's name may share the memory of the message.
		v, _ = s.methods.LoadOrStore(strings.Clone(method), new(methodSeries))
	}
	sr := s.get(seriesKey{systemNames[ci], method, transportNames[ti]})
	v.(*methodSeries)[ci][ti].Store(sr)
	return sr
}

func newSide(name string, transport bool, cfg config) side {
	labels := []string{"rpc_system_name", "rpc_method"}
	durLabels := []string{"rpc_system_name", "rpc_method", "rpc_status_code"}
	if transport {
		labels = append(labels, "transport")
		durLabels = append(durLabels, "transport")
	}
	what := "calls a server served"
	if name == "client" {
		what = "calls a client made"
	}
	p := "rpc_" + name + "_"
	return side{
		transport: transport,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: p + "call_duration_seconds", Help: "Duration of the " + what + ", by status code.",
			Buckets: cfg.durationBuckets,
		}, durLabels),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: p + "calls_started_total", Help: "Number of the " + what + ", started.",
		}, labels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: p + "calls_in_flight", Help: "Number of the " + what + " that have started and not ended.",
		}, labels),
		reqSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: p + "request_size_bytes", Help: "Size of the requests of the " + what + ", as encoded by their codec.",
			Buckets: cfg.sizeBuckets,
		}, labels),
		respSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: p + "response_size_bytes", Help: "Size of the replies to the " + what + ", as encoded by their codec.",
			Buckets: cfg.sizeBuckets,
		}, labels),
	}
}

func (s *side) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.duration, s.started, s.inFlight, s.reqSize, s.respSize}
}

type seriesKey struct{ system, method, transport string }

// series is the metrics of calls of one label set but the status code,
// looked up once: a call then costs no label hashing.
type series struct {
	side      *side
	key       seriesKey
	started   prometheus.Counter
	inFlight  prometheus.Gauge
	reqSize   prometheus.Observer
	respSize  prometheus.Observer
	onReply   func(size int) // respSize.Observe, made once
	durations [len(statusCodes) + 1]atomic.Pointer[observer1]
}

type observer1 struct{ prometheus.Observer }

func (s *side) get(k seriesKey) *series {
	if v, ok := s.series.Load(k); ok {
		return v.(*series)
	}
	k.method = strings.Clone(k.method)
	labels := []string{k.system, k.method}
	if s.transport {
		labels = append(labels, k.transport)
	}
	sr := &series{
		side:     s,
		key:      k,
		started:  s.started.WithLabelValues(labels...),
		inFlight: s.inFlight.WithLabelValues(labels...),
		reqSize:  s.reqSize.WithLabelValues(labels...),
		respSize: s.respSize.WithLabelValues(labels...),
	}
	sr.onReply = func(n int) { sr.respSize.Observe(float64(n)) }
	v, _ := s.series.LoadOrStore(k, sr)
	return v.(*series)
}

// duration returns the duration histogram of the status code of index i
// (see codeIndex).
func (sr *series) duration(i int) prometheus.Observer {
	if o := sr.durations[i].Load(); o != nil {
		return o.Observer
	}
	labels := []string{sr.key.system, sr.key.method, codeLabel(i)}
	if sr.side.transport {
		labels = append(labels, sr.key.transport)
	}
	o := &observer1{sr.side.duration.WithLabelValues(labels...)}
	sr.durations[i].Store(o)
	return o.Observer
}

// measure runs next, measuring the call. code gives the status code of
// its error, panicCode that of a panic, which goes on up.
func (sr *series) measure(ctx context.Context, call *rpc.Call, next rpc.Handler, code func(error) int, panicCode int) (res any, err error) {
	sr.started.Inc()
	sr.inFlight.Inc()
	if !call.Notification {
		call.OnReply(sr.onReply)
	}
	start := time.Since(epoch)
	panicked := true
	defer func() {
		if panicked {
			sr.end(start, panicCode)
		}
	}()
	res, err = next(ctx, call)
	panicked = false
	sr.end(start, code(err))
	if n := call.RequestSize(); n > 0 {
		sr.reqSize.Observe(float64(n))
	}
	return res, err
}

// epoch is a time whose monotonic clock reading calls are timed from:
// time.Since(epoch) reads the monotonic clock alone, and costs less than
// time.Now, which reads the wall clock too.
var epoch = time.Now()

// end ends the measure of a call started at start, since epoch.
func (sr *series) end(start time.Duration, code int) {
	sr.inFlight.Dec()
	sr.duration(codeIndex(code)).Observe((time.Since(epoch) - start).Seconds())
}

// noCode is the status code of a call that got no answer; it is not in
// statusCodes.
const noCode = math.MinInt

// serverCode is the code a server sends for err.
func serverCode(err error) int {
	if err == nil {
		return 0
	}
	return int(rpc.AsError(err).Code)
}

// clientCode is the code of the server's answer in err, or of the
// context's end, or noCode.
func clientCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*rpc.Error](err); ok {
		return int(e.Code)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return int(rpc.CodeDeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return int(rpc.CodeCanceled)
	}
	return noCode
}

// statusCodes are the codes that are their own rpc_status_code: success,
// and the codes JSON-RPC 2.0, XML-RPC's fault-interop specification and
// polyrpc reserve.
var statusCodes = [...]int{
	0,
	-32700, -32701, -32702, // parse error; XML-RPC: unsupported encoding, invalid character
	-32600, -32601, -32602, -32603,
	-32500, -32400, -32300, // XML-RPC: application, system, transport error
	-32000, -32001, -32002, -32003, -32004, // polyrpc
}

var (
	codeLabels = func() []string {
		l := make([]string, 0, len(statusCodes)+1)
		for _, c := range statusCodes {
			l = append(l, strconv.Itoa(c))
		}
		return append(l, other)
	}()
)

// codeIndex is the index of code in statusCodes, or len(statusCodes) for
// any other code.
func codeIndex(code int) int {
	for i, c := range statusCodes {
		if c == code {
			return i
		}
	}
	return len(statusCodes)
}

func codeLabel(i int) string { return codeLabels[i] }

// systemName is the rpc_system_name of a codec.
func systemName(codec string) string {
	switch codec {
	case "json":
		return "jsonrpc"
	case "xml":
		return "xmlrpc"
	case "msgpack":
		return "msgpackrpc"
	case "proto":
		return "polyrpc"
	case "":
		return other
	}
	return codec
}

// observer counts the transports' events.
type observer struct{ m *Metrics }

func (o observer) ConnOpened(t string) { o.m.conns.WithLabelValues(t).Inc() }
func (o observer) ConnClosed(t string) { o.m.conns.WithLabelValues(t).Dec() }
func (o observer) LimitHit(t, limit string) {
	o.m.limitHits.WithLabelValues(t, limit).Inc()
}
func (o observer) AuthFailed(t string) { o.m.authFailed.WithLabelValues(t).Inc() }
