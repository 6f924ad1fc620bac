package tracing_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"github.com/polyrpc/polyrpc/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// wireTransport hands a client's messages to a server as a network
// transport would: the server's context has nothing of the client's but
// the metadata (in a carrier, as HTTP's headers) and a peer address.
type wireTransport struct{ s *rpc.Server }

var peerAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40123}

func (t wireTransport) Exchange(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	sctx := rpc.WithPeer(context.Background(), &rpc.Peer{Transport: "tcp", Addr: peerAddr})
	if cr, ok := wire.CarrierFrom(ctx); ok {
		sctx = wire.WithCarrier(sctx, &wire.MDCarrier{Request: cr.Metadata()})
	}
	reply := t.s.ServeMessage(sctx, c, msg, nil)
	if oneway {
		return nil, nil
	}
	return reply, nil
}

func (wireTransport) Close() error { return nil }

// seen is what a handler saw of its call.
type seen struct {
	traceID     string
	md          metadata.MD
	bag         string
	traceparent string // MetadataValue("TraceParent")
}

// setup returns a server traced into tp whose method "t.echo" records
// what it saw, and "t.fail" returns err, and a client of it.
func setup(t *testing.T, stp, ctp trace.TracerProvider, client bool, err error) (*rpc.Client, *seen) {
	t.Helper()
	s, e := rpc.NewServer(rpc.WithInterceptors(tracing.Server(tracing.WithTracerProvider(stp))))
	if e != nil {
		t.Fatal(e)
	}
	got := &seen{}
	if e := s.Register("t.echo", func(ctx context.Context, v string) (string, error) {
		got.traceID = tracing.TraceID(ctx)
		if c, ok := rpc.CallFromContext(ctx); ok {
			got.md = c.Metadata().Clone()
			got.traceparent = c.MetadataValue("TraceParent")
		}
		got.bag = baggage.FromContext(ctx).Member("user").Value()
		return v, nil
	}); e != nil {
		t.Fatal(e)
	}
	if e := s.Register("t.fail", func() error { return err }); e != nil {
		t.Fatal(e)
	}
	var opts []rpc.Option
	if client {
		opts = append(opts, rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(ctp))))
	}
	c, e := rpc.NewClient(wireTransport{s}, json.New(), opts...)
	if e != nil {
		t.Fatal(e)
	}
	t.Cleanup(func() { c.Close() })
	return c, got
}

func newProvider() (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), exp
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// byKind returns the one span of each kind.
func byKind(t *testing.T, spans tracetest.SpanStubs) (server, client tracetest.SpanStub) {
	t.Helper()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2: %+v", len(spans), spans)
	}
	for _, s := range spans {
		switch s.SpanKind {
		case trace.SpanKindServer:
			server = s
		case trace.SpanKindClient:
			client = s
		}
	}
	if !server.SpanContext.IsValid() || !client.SpanContext.IsValid() {
		t.Fatalf("want a server span and a client span, got %+v", spans)
	}
	return server, client
}

func wantAttr(t *testing.T, s tracetest.SpanStub, key string, want any) {
	t.Helper()
	v, ok := attrs(s)[attribute.Key(key)]
	if !ok {
		t.Errorf("%s span %q: no attribute %s (have %v)", s.SpanKind, s.Name, key, s.Attributes)
		return
	}
	if v.AsInterface() != want {
		t.Errorf("%s span %q: %s = %v (%T), want %v", s.SpanKind, s.Name, key, v.AsInterface(), v.AsInterface(), want)
	}
}

func noAttr(t *testing.T, s tracetest.SpanStub, key string) {
	t.Helper()
	if v, ok := attrs(s)[attribute.Key(key)]; ok {
		t.Errorf("%s span: %s = %v, want none", s.SpanKind, key, v.AsInterface())
	}
}

func TestServerSpanIsChildOfClientSpan(t *testing.T) {
	tp, exp := newProvider()
	c, got := setup(t, tp, tp, true, nil)
	var res string
	if err := c.Call(context.Background(), "t.echo", &res, "hi"); err != nil || res != "hi" {
		t.Fatalf("t.echo = %q, %v", res, err)
	}
	server, client := byKind(t, exp.GetSpans())
	if server.SpanContext.TraceID() != client.SpanContext.TraceID() {
		t.Errorf("trace ids differ: server %s, client %s", server.SpanContext.TraceID(), client.SpanContext.TraceID())
	}
	if server.Parent.SpanID() != client.SpanContext.SpanID() || !server.Parent.IsRemote() {
		t.Errorf("server span's parent = %v (remote %v), want the client span %v", server.Parent.SpanID(), server.Parent.IsRemote(), client.SpanContext.SpanID())
	}
	if client.Parent.IsValid() {
		t.Errorf("client span has parent %v, want a root", client.Parent.SpanID())
	}
	if got.traceID != client.SpanContext.TraceID().String() {
		t.Errorf("handler's TraceID = %q, want %s", got.traceID, client.SpanContext.TraceID())
	}
	if tp := got.md.Get("traceparent"); !strings.Contains(tp, client.SpanContext.SpanID().String()) {
		t.Errorf("traceparent the server got = %q, want the client span's id %s", tp, client.SpanContext.SpanID())
	}
	for _, s := range []tracetest.SpanStub{server, client} {
		if s.Name != "t.echo" {
			t.Errorf("%s span named %q, want t.echo", s.SpanKind, s.Name)
		}
		wantAttr(t, s, "rpc.system.name", "jsonrpc")
		wantAttr(t, s, "rpc.method", "t.echo")
		noAttr(t, s, "rpc.response.status_code")
		noAttr(t, s, "error.type")
		if s.Status.Code != codes.Unset {
			t.Errorf("%s span status %v, want unset", s.SpanKind, s.Status)
		}
	}
	wantAttr(t, server, "network.peer.address", "192.0.2.7")
	wantAttr(t, server, "network.peer.port", int64(40123))
	noAttr(t, server, "server.address")
	noAttr(t, client, "network.peer.address")
}

func TestClientSpanIsChildOfContextSpan(t *testing.T) {
	tp, exp := newProvider()
	c, _ := setup(t, tp, tp, true, nil)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	var res string
	if err := c.Call(ctx, "t.echo", &res, "hi"); err != nil {
		t.Fatal(err)
	}
	server, client := byKind(t, exp.GetSpans())
	parent.End()
	if client.Parent.SpanID() != parent.SpanContext().SpanID() || client.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("client span's parent = %v in %v, want %v", client.Parent.SpanID(), client.SpanContext.TraceID(), parent.SpanContext().SpanID())
	}
	if server.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("server span in trace %v, want %v", server.SpanContext.TraceID(), parent.SpanContext().TraceID())
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		err      error
		code     string
		spanName string
	}{
		{"application code", "t.fail", &rpc.Error{Code: 1001, Message: "no funds"}, "1001", "t.fail"},
		{"plain error", "t.fail", errors.New("boom"), "-32500", "t.fail"},
		{"method not found", "no.such.method", nil, "-32601", "jsonrpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, exp := newProvider()
			c, _ := setup(t, tp, tp, true, tc.err)
			err := c.Call(context.Background(), tc.method, nil)
			var e *rpc.Error
			if !errors.As(err, &e) || e.Code.String() == "" {
				t.Fatalf("call = %v, want an *rpc.Error", err)
			}
			server, client := byKind(t, exp.GetSpans())
			for _, s := range []tracetest.SpanStub{server, client} {
				if s.Status.Code != codes.Error || s.Status.Description == "" {
					t.Errorf("%s span status = %+v, want Error with a description", s.SpanKind, s.Status)
				}
				wantAttr(t, s, "rpc.response.status_code", tc.code)
				wantAttr(t, s, "error.type", tc.code)
				if s.Name != tc.spanName {
					t.Errorf("%s span named %q, want %q", s.SpanKind, s.Name, tc.spanName)
				}
				if tc.spanName == "jsonrpc" {
					wantAttr(t, s, "rpc.method", "_OTHER")
					wantAttr(t, s, "rpc.method_original", tc.method)
				} else {
					wantAttr(t, s, "rpc.method", tc.method)
					noAttr(t, s, "rpc.method_original")
				}
			}
		})
	}
}

// failing is a transport whose calls never reach a server.
type failing struct{}

var errUnreachable = errors.New("unreachable")

func (failing) Exchange(context.Context, rpc.Codec, []byte, bool) ([]byte, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errUnreachable}
}
func (failing) Close() error { return nil }

func TestClientTransportError(t *testing.T) {
	tp, exp := newProvider()
	c, err := rpc.NewClient(failing{}, json.New(), rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(tp))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Call(context.Background(), "t.echo", nil, "x"); !errors.Is(err, errUnreachable) {
		t.Fatalf("call = %v, want %v", err, errUnreachable)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Status.Code != codes.Error {
		t.Errorf("status %+v, want Error", s.Status)
	}
	wantAttr(t, s, "error.type", "*net.OpError")
	noAttr(t, s, "rpc.response.status_code")

	// A context that ended has its code, as the server would have sent.
	exp.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Call(ctx, "t.echo", nil, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("call = %v, want context.Canceled", err)
	}
	if spans := exp.GetSpans(); len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	} else {
		wantAttr(t, spans[0], "rpc.response.status_code", "-32002")
		wantAttr(t, spans[0], "error.type", "-32002")
	}
}

const (
	traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan = "00f067aa0ba902b7"
)

// callWith calls t.echo with the given metadata through an untraced client.
func callWith(t *testing.T, c *rpc.Client, pairs ...string) {
	t.Helper()
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.New(pairs...))
	var res string
	if err := c.Call(ctx, "t.echo", &res, "x"); err != nil {
		t.Fatalf("call with %q: %v", pairs, err)
	}
}

func TestRemoteParent(t *testing.T) {
	tp, exp := newProvider()
	c, got := setup(t, tp, nil, false, nil)
	callWith(t, c, "traceparent", "00-"+traceID+"-"+parentSpan+"-01", "tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext.TraceID().String() != traceID || s.Parent.SpanID().String() != parentSpan || !s.Parent.IsRemote() {
		t.Errorf("server span in %s, parent %s (remote %v); want %s, %s, remote", s.SpanContext.TraceID(), s.Parent.SpanID(), s.Parent.IsRemote(), traceID, parentSpan)
	}
	if ts := s.SpanContext.TraceState().String(); ts != "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" {
		t.Errorf("server span's tracestate = %q, want the caller's", ts)
	}
	if got.traceID != traceID {
		t.Errorf("handler's TraceID = %q, want %s", got.traceID, traceID)
	}
}

func TestTracestateAndBaggageTravel(t *testing.T) {
	tp, exp := newProvider()
	c, got := setup(t, tp, tp, true, nil)
	ts, err := trace.ParseTraceState("vendor=abc,other=x")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex(traceID)
	sid, _ := trace.SpanIDFromHex(parentSpan)
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
	}))
	m, _ := baggage.NewMemberRaw("user", "ada")
	bag, _ := baggage.New(m)
	ctx = baggage.ContextWithBaggage(ctx, bag)
	var res string
	if err := c.Call(ctx, "t.echo", &res, "x"); err != nil {
		t.Fatal(err)
	}
	if v := got.md.Get("tracestate"); v != "vendor=abc,other=x" {
		t.Errorf("tracestate sent = %q, want vendor=abc,other=x", v)
	}
	if got.bag != "ada" {
		t.Errorf("handler's baggage user = %q (baggage sent %q), want ada", got.bag, got.md.Get("baggage"))
	}
	server, client := byKind(t, exp.GetSpans())
	for _, s := range []tracetest.SpanStub{server, client} {
		if s.SpanContext.TraceID().String() != traceID {
			t.Errorf("%s span in trace %s, want %s", s.SpanKind, s.SpanContext.TraceID(), traceID)
		}
		if s.SpanContext.TraceState().String() != "vendor=abc,other=x" {
			t.Errorf("%s span's tracestate = %q", s.SpanKind, s.SpanContext.TraceState())
		}
	}
}

func TestBadTraceparentIsIgnored(t *testing.T) {
	for _, tp := range []string{
		"garbage",
		"00-" + traceID + "-" + parentSpan, // no flags
		"00-00000000000000000000000000000000-" + parentSpan + "-01",              // zero trace id
		"00-" + traceID + "-0000000000000000-01",                                 // zero span id
		"ff-" + traceID + "-" + parentSpan + "-01",                               // version ff
		"00-" + strings.ToUpper(traceID) + "-" + parentSpan + "-01",              // upper case
		"00-" + traceID[:31] + "-" + parentSpan + "-01",                          // short
		"00-" + traceID + "-" + parentSpan + "-01-extra",                         // version 00 with more
		"00-" + strings.Replace(traceID, "4", "g", 1) + "-" + parentSpan + "-01", // not hex
	} {
		t.Run(tp, func(t *testing.T) {
			prov, exp := newProvider()
			c, got := setup(t, prov, nil, false, nil)
			callWith(t, c, "traceparent", tp, "tracestate", "vendor=abc")
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Parent.IsValid() {
				t.Errorf("server span has parent %s in %s, want a new root", s.Parent.SpanID(), s.Parent.TraceID())
			}
			if !s.SpanContext.IsValid() || s.SpanContext.TraceID().String() == traceID {
				t.Errorf("server span's trace id = %s, want a new one", s.SpanContext.TraceID())
			}
			if got.traceID != s.SpanContext.TraceID().String() {
				t.Errorf("handler's TraceID = %q, want the new root's %s", got.traceID, s.SpanContext.TraceID())
			}
			if s.SpanContext.TraceState().Len() != 0 {
				t.Errorf("tracestate %q kept without a traceparent", s.SpanContext.TraceState())
			}
		})
	}
}

// Without a provider that records, a server still hands the caller's trace
// id to its handler, and a client passes it on.
func TestNoopProviderCarriesTraceID(t *testing.T) {
	np := noop.NewTracerProvider()
	// Server B records what its caller, A's handler, sent on.
	b, gotB := setup(t, np, np, true, nil)
	a, err := rpc.NewServer(rpc.WithInterceptors(tracing.Server(tracing.WithTracerProvider(np))))
	if err != nil {
		t.Fatal(err)
	}
	var aTrace string
	if err := a.Register("a.hop", func(ctx context.Context) (string, error) {
		aTrace = tracing.TraceID(ctx)
		var res string
		err := b.Call(ctx, "t.echo", &res, "x")
		return res, err
	}); err != nil {
		t.Fatal(err)
	}
	ca, err := rpc.NewClient(wireTransport{a}, json.New())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.New("traceparent", "00-"+traceID+"-"+parentSpan+"-01"))
	if err := ca.Call(ctx, "a.hop", nil); err != nil {
		t.Fatal(err)
	}
	if aTrace != traceID || gotB.traceID != traceID {
		t.Errorf("TraceID in A's handler %q, in B's %q; want %s in both", aTrace, gotB.traceID, traceID)
	}
	if tp := gotB.md.Get("traceparent"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
		t.Errorf("traceparent B got = %q, want trace %s", tp, traceID)
	}
}

func TestTraceIDWithoutSpan(t *testing.T) {
	if id := tracing.TraceID(context.Background()); id != "" {
		t.Errorf("TraceID of a bare context = %q, want empty", id)
	}
	// A client with no span to send sends no traceparent.
	c, got := setup(t, noop.NewTracerProvider(), noop.NewTracerProvider(), true, nil)
	var res string
	if err := c.Call(context.Background(), "t.echo", &res, "x"); err != nil {
		t.Fatal(err)
	}
	if got.traceID != "" || got.md.Get("traceparent") != "" {
		t.Errorf("handler saw trace id %q, traceparent %q; want none", got.traceID, got.md.Get("traceparent"))
	}
}

// A baggage larger than metadata carries is left out; the call goes on.
func TestOversizedBaggageIsLeftOut(t *testing.T) {
	tp, _ := newProvider()
	c, got := setup(t, tp, tp, true, nil)
	big := strings.Repeat("a", metadata.MaxValueLen)
	m, err := baggage.NewMemberRaw("big", big)
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(m)
	if err != nil {
		t.Skipf("baggage refuses %d bytes: %v", len(big), err)
	}
	var res string
	if err := c.Call(baggage.ContextWithBaggage(context.Background(), bag), "t.echo", &res, "x"); err != nil {
		t.Fatalf("call with a big baggage: %v", err)
	}
	if got.md.Get("baggage") != "" || got.md.Get("traceparent") == "" {
		t.Errorf("metadata sent: baggage of %d bytes, traceparent %q; want no baggage and a traceparent", len(got.md.Get("baggage")), got.md.Get("traceparent"))
	}
}

// The start options of a method's spans are kept once it was found, per
// codec and other end: spans of calls from ends that share a slot, in
// codecs in turn, and of methods not found in between, each carry their
// own.
func TestKeptStartOptions(t *testing.T) {
	tp, exp := newProvider()
	s, err := rpc.NewServer(rpc.WithInterceptors(tracing.Server(tracing.WithTracerProvider(tp))))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("t.echo", func(v string) (string, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
	ctp, cexp := newProvider()
	codecs := []rpc.Codec{json.New(), msgpack.New()}
	// Ports 8 apart share a slot; an IPv6 end and a zoned one too.
	addrs := []*net.TCPAddr{
		{IP: net.IPv4(192, 0, 2, 7), Port: 40123},
		{IP: net.IPv4(192, 0, 2, 8), Port: 40131},
		{IP: net.ParseIP("2001:db8::1"), Port: 40123},
		{IP: net.ParseIP("fe80::1"), Port: 40123, Zone: "eth0"},
	}
	type want struct{ system, method, host string }
	var wants []want
	for round := 0; round < 3; round++ {
		for _, codec := range codecs {
			for _, a := range addrs {
				pt := &peerTransport{s: s, addr: a}
				c, err := rpc.NewClient(pt, codec, rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(ctp))))
				if err != nil {
					t.Fatal(err)
				}
				system := map[string]string{"json": "jsonrpc", "msgpack": "msgpackrpc"}[codec.Name()]
				host := a.IP.String()
				if a.Zone != "" {
					host += "%" + a.Zone
				}
				var res string
				if err := c.Call(context.Background(), "t.echo", &res, "x"); err != nil {
					t.Fatal(err)
				}
				wants = append(wants, want{system, "t.echo", host})
				if err := c.Call(context.Background(), "no.such", nil); err == nil {
					t.Fatal("call of no.such succeeded")
				}
				wants = append(wants, want{system, "_OTHER", host})
				c.Close()
			}
		}
	}
	spans := exp.GetSpans()
	if len(spans) != len(wants) {
		t.Fatalf("%d server spans, want %d", len(spans), len(wants))
	}
	for i, sp := range spans {
		w := wants[i]
		wantAttr(t, sp, "rpc.system.name", w.system)
		wantAttr(t, sp, "rpc.method", w.method)
		wantAttr(t, sp, "network.peer.address", w.host)
		if w.method == "_OTHER" {
			wantAttr(t, sp, "rpc.method_original", "no.such")
			if sp.Name != w.system {
				t.Errorf("span of no.such named %q, want %q", sp.Name, w.system)
			}
		} else {
			noAttr(t, sp, "rpc.method_original")
			if sp.Name != "t.echo" {
				t.Errorf("span named %q, want t.echo", sp.Name)
			}
		}
	}
	cspans := cexp.GetSpans()
	if len(cspans) != len(wants) {
		t.Fatalf("%d client spans, want %d", len(cspans), len(wants))
	}
	for i, sp := range cspans {
		wantAttr(t, sp, "rpc.system.name", wants[i].system)
		wantAttr(t, sp, "rpc.method", wants[i].method)
	}
}

// peerTransport is wireTransport from one address.
type peerTransport struct {
	s    *rpc.Server
	addr *net.TCPAddr
}

func (t *peerTransport) Exchange(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	sctx := rpc.WithPeer(context.Background(), &rpc.Peer{Transport: "tcp", Addr: t.addr})
	if cr, ok := wire.CarrierFrom(ctx); ok {
		sctx = wire.WithCarrier(sctx, &wire.MDCarrier{Request: cr.Metadata()})
	}
	reply := t.s.ServeMessage(sctx, c, msg, nil)
	if oneway {
		return nil, nil
	}
	return reply, nil
}

func (*peerTransport) Close() error { return nil }

// A client writes the traceparent that W3C Trace Context's propagator
// writes, whatever the span context's flags.
func TestTraceparentAsPropagatorWrites(t *testing.T) {
	np := noop.NewTracerProvider()
	c, got := setup(t, np, np, true, nil)
	tid, _ := trace.TraceIDFromHex(traceID)
	sid, _ := trace.SpanIDFromHex(parentSpan)
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, trace.FlagsRandom, trace.FlagsSampled | trace.FlagsRandom, 0xff} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
		want := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, want)
		var res string
		if err := c.Call(ctx, "t.echo", &res, "x"); err != nil {
			t.Fatal(err)
		}
		if tp := got.md.Get("traceparent"); tp != want.Get("traceparent") {
			t.Errorf("flags %02x: traceparent sent %q, want %q", byte(flags), tp, want.Get("traceparent"))
		}
		if got.traceparent != want.Get("traceparent") {
			t.Errorf("flags %02x: MetadataValue(\"TraceParent\") = %q, want %q", byte(flags), got.traceparent, want.Get("traceparent"))
		}
	}
}

// A propagator of one's own is given the call's metadata: here W3C Trace
// Context alone, without Baggage.
func TestWithPropagator(t *testing.T) {
	tp, exp := newProvider()
	prop := tracing.WithPropagator(propagation.TraceContext{})
	s, err := rpc.NewServer(rpc.WithInterceptors(tracing.Server(tracing.WithTracerProvider(tp), prop)))
	if err != nil {
		t.Fatal(err)
	}
	var gotBag string
	if err := s.Register("t.echo", func(ctx context.Context, v string) (string, error) {
		gotBag = baggage.FromContext(ctx).Member("user").Value()
		return v, nil
	}); err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(wireTransport{s}, json.New(), rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(tp), prop)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, _ := baggage.NewMemberRaw("user", "ada")
	bag, _ := baggage.New(m)
	var res string
	if err := c.Call(baggage.ContextWithBaggage(context.Background(), bag), "t.echo", &res, "x"); err != nil {
		t.Fatal(err)
	}
	server, client := byKind(t, exp.GetSpans())
	if server.Parent.SpanID() != client.SpanContext.SpanID() {
		t.Errorf("server span's parent = %v, want the client span %v", server.Parent.SpanID(), client.SpanContext.SpanID())
	}
	if gotBag != "" {
		t.Errorf("baggage carried without its propagator: user = %q", gotBag)
	}
}

// BenchmarkCall measures a call through a client and a server, without
// tracing, with the interceptors of a provider that records nothing (a
// traceparent carried), and with the SDK's: sampling every span, 1% of the
// traces (parent-based) and none, its spans batched to an exporter that
// drops them.
func BenchmarkCall(b *testing.B) {
	sdk := func(s sdktrace.Sampler) *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithBatcher(discardSpans{}))
	}
	for _, bc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"off", nil},
		{"noop", noop.NewTracerProvider()},
		{"sdk", sdk(sdktrace.AlwaysSample())},
		{"sdk-1%", sdk(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)))},
		{"sdk-never", sdk(sdktrace.NeverSample())},
	} {
		if p, ok := bc.tp.(*sdktrace.TracerProvider); ok {
			defer p.Shutdown(context.Background())
		}
		b.Run(bc.name, func(b *testing.B) {
			var sopts, copts []rpc.Option
			if bc.tp != nil {
				sopts = append(sopts, rpc.WithInterceptors(tracing.Server(tracing.WithTracerProvider(bc.tp))))
				copts = append(copts, rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(bc.tp))))
			}
			s, err := rpc.NewServer(sopts...)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Register("t.echo", func(v string) (string, error) { return v, nil }); err != nil {
				b.Fatal(err)
			}
			c, err := rpc.NewClient(wireTransport{s}, json.New(), copts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if bc.name == "noop" {
				ctx = metadata.NewOutgoingContext(ctx, metadata.New("traceparent", "00-"+traceID+"-"+parentSpan+"-01"))
			}
			var res string
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Call(ctx, "t.echo", &res, "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardSpans is a span exporter that drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
