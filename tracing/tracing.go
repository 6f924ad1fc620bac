// Package tracing traces calls with OpenTelemetry: interceptors for a
// server (Server) and a client (Client) that start a span per call and
// carry the trace context in the call's metadata (see package
// rpc/metadata), W3C Trace Context and Baggage by default: the entries
// traceparent, tracestate and baggage, which over HTTP are the headers of
// the same names, so any W3C-compliant client or proxy joins the trace.
//
//	s, err := rpc.NewServer(rpc.WithInterceptors(tracing.Server()))
//	c, err := rpc.NewClient(t, codec, rpc.WithInterceptors(tracing.Client()))
//
// A server's interceptor continues the caller's trace: its span is a child
// of the span the metadata names, and the handler's context carries it, so
// that the calls the handler makes with that context, through a client
// with Client's interceptor, belong to the same trace. Metadata that names
// no span, or a traceparent that does not parse, starts a new trace; the
// call goes on as if it had none.
//
// Spans follow OpenTelemetry's semantic conventions for RPC (release 1.44;
// schema 1.43, the latest that package semconv has, names the same):
// the span is named by the method, of kind Server or Client, with
// rpc.system.name ("jsonrpc", "xmlrpc", "msgpackrpc" or "polyrpc" for the
// protobuf codec, by the call's codec) and rpc.method; where the transport
// tells the other end's address, network.peer.address and
// network.peer.port (and on a client server.address and server.port). A
// call that fails has status Error and error.type: the call's error code
// as a decimal string, the same as rpc.response.status_code ("-32601"),
// or, for a client's call that got no answer, the Go type of its error. A
// call to a method the server does not have (-32601) ends with rpc.method
// "_OTHER" and rpc.method_original, renamed by rpc.system.name, so that
// what a caller sends does not name the spans exported.
//
// Over HTTP, the calls of a JSON-RPC batch do not see the request's
// headers, so each starts a trace of its own.
//
// What a span starts with (kind and attributes) is made once per method,
// codec and other end, and kept for up to 1000 methods, those of calls
// that did not end in "method not found"; the caller's trace context is
// read from the metadata entry by entry, and the default propagator's
// entries are written without its carrier's checks. A call then costs
// little beyond what the TracerProvider spends on its span, which for an
// unsampled span is a fraction of a sampled one's.
//
// Without a TracerProvider (WithTracerProvider, or one set with
// otel.SetTracerProvider) the spans record nothing, but a server still
// gives its handlers the caller's trace context: TraceID reports the
// caller's trace id, for logs.
package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentation is the name of the tracer the spans come from.
const instrumentation = "github.com/polyrpc/polyrpc/tracing"

// Option configures Server and Client. A zero value (nil) means the
// default.
type Option interface {
	apply(*config)
}

type option func(*config)

func (o option) apply(c *config) { o(c) }

type config struct {
	tp   trace.TracerProvider
	prop propagation.TextMapPropagator
	w3c  bool // prop is the default, which a client writes itself
}

// WithTracerProvider gives the interceptor the provider of its spans' tracer.
// By default it is OpenTelemetry's global one (otel.GetTracerProvider), as
// it is when the call is made, which records nothing until a program sets
// one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return option(func(c *config) { c.tp = tp })
}

// WithPropagator gives the interceptor the propagator that carries the trace
// context in the metadata of a call. By default it is W3C Trace Context and
// W3C Baggage (traceparent, tracestate and baggage); pass
// otel.GetTextMapPropagator() for the global one.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return option(func(c *config) { c.prop = p })
}

var defaultPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.prop == nil {
		c.prop, c.w3c = defaultPropagator, true
	}
	return c
}

// maxMethods bounds the methods an interceptor keeps the start options of
// spans for; calls of others make theirs each time.
const maxMethods = 1000

// peerSlots is the number of the other ends' addresses that the start
// options of a method's spans are kept for, one per slot, the slot chosen
// by the port.
const peerSlots = 8

// interceptor is what Server's and Client's interceptors share: the
// tracer, and what their spans start with, made once per method, codec
// and other end, not at each call.
type interceptor struct {
	tracer trace.Tracer
	kind   trace.SpanStartOption
	client bool

	mu      sync.Mutex
	methods sync.Map // method name → *methodStarts
	n       int      // entries of methods; mu held
}

func newInterceptor(cfg config, kind trace.SpanKind) *interceptor {
	return &interceptor{
		tracer: cfg.tp.Tracer(instrumentation, trace.WithSchemaURL(semconv.SchemaURL)),
		kind:   trace.WithSpanKind(kind),
		client: kind == trace.SpanKindClient,
	}
}

// methodStarts is how the spans of a method's calls start, by the index
// of their codec's system (systemIndex).
type methodStarts [len(systems)]atomic.Pointer[starts]

// starts is how the spans of the calls of a method in a codec start.
type starts struct {
	system attribute.KeyValue
	attrs  []attribute.KeyValue    // rpc.system.name, rpc.method
	opts   []trace.SpanStartOption // kind, attrs
	peers  [peerSlots]atomic.Pointer[peerStarts]
}

// peerStarts is how they start for calls with one other end.
type peerStarts struct {
	addr netip.AddrPort
	opts []trace.SpanStartOption // kind, attrs and the peer's
}

func (ic *interceptor) newStarts(codec, method string) *starts {
	system := systemName(codec)
	attrs := []attribute.KeyValue{system, semconv.RPCMethod(method)}
	return &starts{
		system: system,
		attrs:  attrs,
		opts:   []trace.SpanStartOption{ic.kind, trace.WithAttributes(attrs...)},
	}
}

// starts returns how the span of call starts, and whether that is kept.
func (ic *interceptor) starts(call *rpc.Call) (st *starts, kept bool) {
	if i := systemIndex(call.Codec); i >= 0 {
		if ms, ok := ic.methods.Load(call.Method); ok {
			if st := ms.(*methodStarts)[i].Load(); st != nil {
				return st, true
			}
		}
	}
	return ic.newStarts(call.Codec, call.Method), false
}

// keep keeps how the spans of call's method start, unless the method was
// not found (e is the call's error): what a caller names need not be a
// method, and the names kept are bounded.
func (ic *interceptor) keep(call *rpc.Call, e *rpc.Error) {
	i := systemIndex(call.Codec)
	if i < 0 || e != nil && e.Code == rpc.CodeMethodNotFound {
		return
	}
	v, ok := ic.methods.Load(call.Method)
	if !ok {
		ic.mu.Lock()
		if v, ok = ic.methods.Load(call.Method); !ok {
			if ic.n >= maxMethods {
				ic.mu.Unlock()
				return
			}
			// The method's name may share the memory of the message.
			method := strings.Clone(call.Method)
			v = new(methodStarts)
			ic.methods.Store(method, v)
			ic.n++
		}
		ic.mu.Unlock()
	}
	ms := v.(*methodStarts)
	if ms[i].Load() == nil {
		ms[i].CompareAndSwap(nil, ic.newStarts(call.Codec, strings.Clone(call.Method)))
	}
}

// options returns the start options of the span of a call of st's method
// from or to p. Those of a TCP address are kept, in the slot of its port.
func (ic *interceptor) options(st *starts, p *rpc.Peer) []trace.SpanStartOption {
	if p == nil || p.Addr == nil {
		return st.opts
	}
	a, ok := p.Addr.(*net.TCPAddr)
	if !ok {
		return ic.peerOptions(st, p)
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok || a.Zone != "" || a.Port < 0 || a.Port > 0xffff {
		return ic.peerOptions(st, p)
	}
	addr := netip.AddrPortFrom(ip, uint16(a.Port))
	slot := &st.peers[a.Port%peerSlots]
	if ps := slot.Load(); ps != nil && ps.addr == addr {
		return ps.opts
	}
	opts := ic.peerOptions(st, p)
	slot.Store(&peerStarts{addr: addr, opts: opts})
	return opts
}

func (ic *interceptor) peerOptions(st *starts, p *rpc.Peer) []trace.SpanStartOption {
	attrs := make([]attribute.KeyValue, len(st.attrs), len(st.attrs)+4)
	copy(attrs, st.attrs)
	attrs = appendPeer(attrs, p, ic.client)
	return []trace.SpanStartOption{ic.kind, trace.WithAttributes(attrs...)}
}

// Server returns an interceptor for rpc.NewServer (rpc.WithInterceptors)
// that continues the caller's trace from the call's metadata and runs the
// call in a span of kind Server. Put it before the interceptors that log
// or otherwise use the span, so that their context carries it.
func Server(opts ...Option) rpc.Interceptor {
	cfg := newConfig(opts)
	prop := cfg.prop
	if _, ok := cfg.tp.(noop.TracerProvider); ok {
		// Its spans would carry the caller's span context and nothing
		// else: carry that alone.
		return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
			return next(prop.Extract(ctx, callCarrier{call}), call)
		}
	}
	ic := newInterceptor(cfg, trace.SpanKindServer)
	return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		ctx = prop.Extract(ctx, callCarrier{call})
		st, kept := ic.starts(call)
		ctx, span := ic.tracer.Start(ctx, call.Method, ic.options(st, call.Peer)...)
		res, err := next(ctx, call)
		var e *rpc.Error
		if err != nil {
			e = rpc.AsError(err)
			failed(span, call, st.system, e, err)
		}
		span.End()
		if !kept {
			ic.keep(call, e)
		}
		return res, err
	}
}

// Client returns an interceptor for a client (rpc.WithInterceptors given
// to rpc.NewClient or rpc.NewStreamClient) that runs the call in a span of
// kind Client, a child of the span of the call's context if any, and sends
// the span's context in the call's metadata. An entry the metadata cannot
// carry (a baggage over metadata.MaxValueLen bytes, say) is left out
// rather than failing the call.
func Client(opts ...Option) rpc.Interceptor {
	cfg := newConfig(opts)
	prop, w3c := cfg.prop, cfg.w3c
	if _, ok := cfg.tp.(noop.TracerProvider); ok {
		// Its span would be the context's: send that alone.
		return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
			if w3c {
				injectW3C(ctx, trace.SpanContextFromContext(ctx), call)
			} else {
				prop.Inject(ctx, callCarrier{call})
			}
			return next(ctx, call)
		}
	}
	ic := newInterceptor(cfg, trace.SpanKindClient)
	return func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		st, kept := ic.starts(call)
		ctx, span := ic.tracer.Start(ctx, call.Method, ic.options(st, call.Peer)...)
		if w3c {
			injectW3C(ctx, span.SpanContext(), call)
		} else {
			prop.Inject(ctx, callCarrier{call})
		}
		res, err := next(ctx, call)
		var e *rpc.Error
		if err != nil {
			e = clientError(err)
			failed(span, call, st.system, e, err)
		}
		span.End()
		if !kept {
			ic.keep(call, e)
		}
		return res, err
	}
}

// TraceID returns the trace id of the span of ctx in hexadecimal (32
// digits), "" when ctx has none: for log lines.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// clientError is the code of a client's call's error: an answer's error,
// or a context that ended, has one; a transport's failure has none (nil).
func clientError(err error) *rpc.Error {
	if e, ok := errors.AsType[*rpc.Error](err); ok {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return rpc.AsError(err)
	}
	return nil
}

// failed records that the call failed: with the error code e when there is
// one, else with err's type.
func failed(span trace.Span, call *rpc.Call, system attribute.KeyValue, e *rpc.Error, err error) {
	if !span.IsRecording() {
		return
	}
	if e == nil {
		span.SetAttributes(semconv.ErrorType(err))
		span.SetStatus(codes.Error, err.Error())
		return
	}
	code := strconv.Itoa(int(e.Code))
	span.SetAttributes(semconv.RPCResponseStatusCode(code), semconv.ErrorTypeKey.String(code))
	if e.Code == rpc.CodeMethodNotFound {
		span.SetAttributes(semconv.RPCMethod("_OTHER"), semconv.RPCMethodOriginal(call.Method))
		span.SetName(system.Value.AsString())
	}
	span.SetStatus(codes.Error, e.Message)
}

// The values of rpc.system.name: JSON-RPC's is the conventions' own; the
// others' follow its form.
var (
	systemJSON    = semconv.RPCSystemNameJSONRPC
	systemXML     = semconv.RPCSystemNameKey.String("xmlrpc")
	systemMsgpack = semconv.RPCSystemNameKey.String("msgpackrpc")
	systemPolyrpc = semconv.RPCSystemNameKey.String("polyrpc")
)

// systems are the rpc.system.name of the codecs that systemIndex knows.
var systems = [...]attribute.KeyValue{systemJSON, systemXML, systemMsgpack, systemPolyrpc}

// systemIndex is the index in systems of the rpc.system.name of a call in
// the named codec, -1 for a codec it does not know.
func systemIndex(codec string) int {
	switch codec {
	case "json":
		return 0
	case "xml":
		return 1
	case "msgpack":
		return 2
	case "proto", "":
		return 3
	}
	return -1
}

// systemName is the rpc.system.name of a call in the named codec: the RPC
// protocol that codec speaks. polyrpc's protobuf envelope, and a call
// without a codec (rpc.Server.Invoke), are "polyrpc"; another codec is
// named as it names itself.
func systemName(codec string) attribute.KeyValue {
	if i := systemIndex(codec); i >= 0 {
		return systems[i]
	}
	return semconv.RPCSystemNameKey.String(codec)
}

// appendPeer appends the attributes of the other end's address: the
// network peer's, and on a client the server's too.
func appendPeer(attrs []attribute.KeyValue, p *rpc.Peer, client bool) []attribute.KeyValue {
	if p == nil || p.Addr == nil {
		return attrs
	}
	addr := p.Addr.String()
	host, port := addr, -1
	switch p.Addr.Network() {
	case "unix", "unixgram", "unixpacket":
	default:
		h, ps, err := net.SplitHostPort(addr)
		if err != nil {
			break
		}
		if n, err := strconv.Atoi(ps); err == nil {
			host, port = h, n
		}
	}
	if host == "" {
		return attrs
	}
	if client {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port >= 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	attrs = append(attrs, semconv.NetworkPeerAddress(host))
	if port >= 0 {
		attrs = append(attrs, semconv.NetworkPeerPort(port))
	}
	return attrs
}

// callCarrier reads a call's metadata for a propagator, one entry at a
// time (on a server over HTTP, from the request's headers), and writes a
// client's call's.
type callCarrier struct{ call *rpc.Call }

func (c callCarrier) Get(key string) string { return c.call.MetadataValue(key) }

func (c callCarrier) Set(key, value string) {
	key = strings.ToLower(key)
	if metadata.ValidKey(key) != nil || metadata.ValidValue(value) != nil {
		return
	}
	c.call.SetMetadata(key, value)
}

func (c callCarrier) Keys() []string {
	md := c.call.Metadata()
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// injectW3C writes into a client's call what the default propagator
// would, W3C Trace Context and Baggage, without its carrier's checks of
// what it writes itself: sc is the span context of ctx.
func injectW3C(ctx context.Context, sc trace.SpanContext, call *rpc.Call) {
	if sc.IsValid() {
		if ts := sc.TraceState().String(); ts != "" && metadata.ValidValue(ts) == nil {
			call.SetMetadata("tracestate", ts)
		}
		call.SetMetadata("traceparent", traceparent(sc))
	}
	if bag := baggage.FromContext(ctx); bag.Len() > 0 {
		if v := bag.String(); v != "" && metadata.ValidValue(v) == nil {
			call.SetMetadata("baggage", v)
		}
	}
}

// traceparent formats sc as W3C Trace Context's traceparent of version
// 00, as propagation.TraceContext does.
func traceparent(sc trace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	flags := [1]byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))}
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], flags[:])
	return string(b[:])
}
