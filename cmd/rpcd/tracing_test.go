package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
	"github.com/polyrpc/polyrpc/tracing"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

const (
	testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testSpanID  = "00f067aa0ba902b7"
)

// callLine finds the debug call line of method in logs and returns its
// trace_id, "" if it has none, and whether there is such a line.
func callLine(logs, method string) (traceID string, ok bool) {
	re := regexp.MustCompile(`(?m)^.*msg=call method=` + regexp.QuoteMeta(method) + ` .*$`)
	line := re.FindString(logs)
	if line == "" {
		return "", false
	}
	if m := regexp.MustCompile(`trace_id=([0-9a-f]{32})`).FindStringSubmatch(line); m != nil {
		return m[1], true
	}
	return "", true
}

// postJSONRPC posts one JSON-RPC call to rpcd with the given headers, as a
// client that knows nothing of polyrpc would.
func postJSONRPC(t *testing.T, url, body string, header ...string) string {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %d %s, %v", resp.StatusCode, b, err)
	}
	return string(b)
}

// A traceparent header reaches rpcd's call line, without an exporter; a
// call without one, or with one that does not parse, logs no trace id and
// is served all the same.
func TestTraceparentHeaderInCallLog(t *testing.T) {
	t.Parallel()
	addr, _, _, logs := startRPCD(t, "-log-level", "debug")
	u := "http://" + addr + "/"
	body := func(method, params string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":` + params + `}`
	}
	if got := postJSONRPC(t, u, body("demo.add", "[2,3]"), "Traceparent", "00-"+testTraceID+"-"+testSpanID+"-01"); !strings.Contains(got, `"result":5`) {
		t.Fatalf("demo.add = %s", got)
	}
	if got := postJSONRPC(t, u, body("demo.divide", "[6,3]"), "Traceparent", "00-nothex-"+testSpanID+"-01"); !strings.Contains(got, `"result":2`) {
		t.Fatalf("demo.divide with a bad traceparent = %s", got)
	}
	if got := postJSONRPC(t, u, body("demo.echo", `["x"]`)); !strings.Contains(got, `"result":"x"`) {
		t.Fatalf("demo.echo = %s", got)
	}
	l := logs.String()
	if id, ok := callLine(l, "demo.add"); id != testTraceID {
		t.Errorf("demo.add's call line (found %v) has trace_id %q, want %s (the traceparent header's):\n%s", ok, id, testTraceID, l)
	}
	for _, m := range []string{"demo.divide", "demo.echo"} {
		if id, ok := callLine(l, m); !ok || id != "" {
			t.Errorf("%s's call line (found %v) has trace_id %q, want none:\n%s", m, ok, id, l)
		}
	}
}

// The same over TCP frames: the traceparent travels in the envelope's
// metadata, in each codec whose envelope has room for it.
func TestTraceparentOverTCPInCallLog(t *testing.T) {
	t.Parallel()
	_, _, _, logs := startRPCD(t, "-log-level", "debug")
	for i, name := range []string{"json", "msgpack", "proto"} {
		codec, ok := rpc.LookupCodec(name)
		if !ok {
			t.Fatalf("codec %s not registered", name)
		}
		c, err := tcprpc.NewClient(tcpAddr(t, logs), codec)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// One trace id per codec, told apart by its last digit.
		id := testTraceID[:31] + string(rune('a'+i))
		ctx := metadata.NewOutgoingContext(context.Background(), metadata.New("traceparent", "00-"+id+"-"+testSpanID+"-01"))
		var echoed string
		if err := c.Call(ctx, "demo.echo", &echoed, name); err != nil || echoed != name {
			t.Fatalf("%s: demo.echo = %q, %v", name, echoed, err)
		}
		re := regexp.MustCompile(`msg=call method=demo.echo codec=` + name + ` .*trace_id=([0-9a-f]{32})`)
		if m := re.FindStringSubmatch(logs.String()); m == nil || m[1] != id {
			t.Errorf("%s: demo.echo's call line = %q, want trace_id=%s:\n%s", name, m, id, logs.String())
		}
	}
}

// A Python client's traceparent header shows up in rpcd's call line.
func TestPythonTraceparentInCallLog(t *testing.T) {
	t.Parallel()
	py := pytest.Default(t)
	addr, _, _, logs := startRPCD(t, "-log-level", "debug")
	const script = `
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], method="POST",
    data=json.dumps({"jsonrpc": "2.0", "id": 7, "method": "demo.echo", "params": ["traced"]}).encode(),
    headers={"Content-Type": "application/json", "traceparent": sys.argv[2]})
with urllib.request.urlopen(req, timeout=30) as resp:
    print(json.load(resp)["result"])
`
	out := py.Run(t, time.Minute, script, "http://"+addr+"/", "00-"+testTraceID+"-"+testSpanID+"-01")
	if strings.TrimSpace(out) != "traced" {
		t.Fatalf("python printed %q, want traced", out)
	}
	if id, ok := callLine(logs.String(), "demo.echo"); id != testTraceID {
		t.Errorf("demo.echo's call line (found %v) has trace_id %q, want %s (Python %s's traceparent):\n%s", ok, id, testTraceID, py.Version, logs.String())
	}
}

// hopServer is a server built as rpcd builds its own (tracing, then the
// call log), tracing into tp and logging at debug level into logs.
func hopServer(t *testing.T, tp trace.TracerProvider, logs io.Writer) *rpc.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tr := &tracer{tp: tp}
	s, err := rpc.NewServer(rpc.WithInterceptors(tr.interceptor()), rpc.WithInterceptors(logCalls(log)), rpc.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// One trace through two hops: a client calls server A over HTTP, whose
// handler calls server B over TCP with its context. The in-memory
// exporter sees four spans of one trace, each the parent of the next, and
// both servers' call lines carry the trace id.
func TestTraceThroughTwoHops(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	// B: hop.b over TCP.
	var logsB, logsA syncBuffer
	sb := hopServer(t, tp, &logsB)
	if err := sb.Register("hop.b", func(ctx context.Context, s string) (string, error) {
		return s + ">b", nil
	}); err != nil {
		t.Fatal(err)
	}
	ts, err := tcprpc.NewServer(sb)
	if err != nil {
		t.Fatal(err)
	}
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(lnB)
	defer ts.Close()
	dial, err := tcprpc.Dialer(lnB.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	toB, err := rpc.NewStreamClient(dial, jsonCodec(t), rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(tp))))
	if err != nil {
		t.Fatal(err)
	}
	defer toB.Close()

	// A: hop.a over HTTP, which calls hop.b.
	sa := hopServer(t, tp, &logsA)
	if err := sa.Register("hop.a", func(ctx context.Context, s string) (string, error) {
		var r string
		err := toB.Call(ctx, "hop.b", &r, s+">a")
		return r, err
	}); err != nil {
		t.Fatal(err)
	}
	h, err := httprpc.NewHandler(sa)
	if err != nil {
		t.Fatal(err)
	}
	srvA := httptest.NewServer(h)
	defer srvA.Close()
	tr, err := httprpc.NewTransport(srvA.URL)
	if err != nil {
		t.Fatal(err)
	}
	toA, err := rpc.NewClient(tr, jsonCodec(t), rpc.WithInterceptors(tracing.Client(tracing.WithTracerProvider(tp))))
	if err != nil {
		t.Fatal(err)
	}
	defer toA.Close()

	var res string
	if err := toA.Call(context.Background(), "hop.a", &res, "c"); err != nil || res != "c>a>b" {
		t.Fatalf("hop.a = %q, %v", res, err)
	}

	// Spans end as their calls return, and the syncer exports each at its
	// end: the client's last, once Call returned.
	spans := exp.GetSpans()
	want := []struct {
		kind trace.SpanKind
		name string
	}{
		{trace.SpanKindClient, "hop.a"}, {trace.SpanKindServer, "hop.a"},
		{trace.SpanKindClient, "hop.b"}, {trace.SpanKindServer, "hop.b"},
	}
	if len(spans) != len(want) {
		t.Fatalf("%d spans, want %d: %v", len(spans), len(want), spans.Snapshots())
	}
	chain := make([]tracetest.SpanStub, len(want))
	for i, w := range want {
		for _, s := range spans {
			if s.SpanKind == w.kind && s.Name == w.name {
				chain[i] = s
			}
		}
		if !chain[i].SpanContext.IsValid() {
			t.Fatalf("no %s span %s among %v", w.kind, w.name, spans.Snapshots())
		}
	}
	id := chain[0].SpanContext.TraceID()
	if chain[0].Parent.IsValid() {
		t.Errorf("the first client span has a parent %s", chain[0].Parent.SpanID())
	}
	for i, s := range chain {
		if s.SpanContext.TraceID() != id {
			t.Errorf("%s span %s in trace %s, want %s", s.SpanKind, s.Name, s.SpanContext.TraceID(), id)
		}
		if i > 0 && s.Parent.SpanID() != chain[i-1].SpanContext.SpanID() {
			t.Errorf("%s span %s: parent %s, want the %s span %s's %s", s.SpanKind, s.Name, s.Parent.SpanID(), chain[i-1].SpanKind, chain[i-1].Name, chain[i-1].SpanContext.SpanID())
		}
	}
	for _, l := range []struct {
		logs   *syncBuffer
		method string
	}{{&logsA, "hop.a"}, {&logsB, "hop.b"}} {
		if got, ok := callLine(l.logs.String(), l.method); got != id.String() {
			t.Errorf("%s's call line (found %v) has trace_id %q, want %s:\n%s", l.method, ok, got, id, l.logs.String())
		}
	}
}

// collector is an OTLP/HTTP trace receiver: it keeps what it is sent.
type collector struct {
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
	errs []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := io.ReadAll(r.Body)
	req := new(coltracepb.ExportTraceServiceRequest)
	switch {
	case r.Method != "POST" || r.URL.Path != "/v1/traces":
		c.errs = append(c.errs, r.Method+" "+r.URL.Path)
		http.NotFound(w, r)
		return
	case err != nil:
		c.errs = append(c.errs, err.Error())
		return
	case r.Header.Get("Content-Type") != "application/x-protobuf":
		c.errs = append(c.errs, "Content-Type "+r.Header.Get("Content-Type"))
	}
	if err := proto.Unmarshal(b, req); err != nil {
		c.errs = append(c.errs, err.Error())
		http.Error(w, err.Error(), 400)
		return
	}
	c.reqs = append(c.reqs, req)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// With -otlp-endpoint, rpcd exports its server spans, and what it holds
// when it stops is flushed: the span of a call is at the collector once
// rpcd returned, named by the method, a child of the caller's span, from
// service rpcd.
func TestOTLPExport(t *testing.T) {
	t.Parallel()
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	// No path: rpcd adds /v1/traces.
	addr, stop, done, _ := startRPCD(t, "-otlp-endpoint", srv.URL)
	postJSONRPC(t, "http://"+addr+"/", `{"jsonrpc":"2.0","id":1,"method":"demo.add","params":[2,3]}`,
		"traceparent", "00-"+testTraceID+"-"+testSpanID+"-01")
	stop()
	if err := <-done; err != nil {
		t.Fatalf("rpcd: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.errs) > 0 {
		t.Errorf("collector: %q", col.errs)
	}
	found := false
	for _, req := range col.reqs {
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if s.Name != "demo.add" {
						continue
					}
					found = true
					if got := trace.TraceID(s.TraceId).String(); got != testTraceID {
						t.Errorf("span in trace %s, want %s", got, testTraceID)
					}
					if got := trace.SpanID(s.ParentSpanId).String(); got != testSpanID {
						t.Errorf("span's parent %s, want %s", got, testSpanID)
					}
					if service != "rpcd" {
						t.Errorf("service.name %q, want rpcd", service)
					}
					if s.Kind.String() != "SPAN_KIND_SERVER" {
						t.Errorf("span kind %v, want server", s.Kind)
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no demo.add span among the %d export requests", len(col.reqs))
	}
}

func TestOTLPEndpointFlag(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"localhost:4318", "ftp://collector/v1/traces", "http://", "http://user:pw@collector/", "%zz"} {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"-otlp-endpoint", bad}, io.Discard, &stderr)
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "otlp-endpoint") {
			t.Errorf("-otlp-endpoint %q: %v (%#v), want a usage error (exit 2) naming the flag", bad, err, err)
		}
	}
	for in, want := range map[string]string{
		"http://collector:4318":             "http://collector:4318/v1/traces",
		"https://collector/":                "https://collector/",
		"http://127.0.0.1:4318/custom/path": "http://127.0.0.1:4318/custom/path",
	} {
		var c config
		if err := c.setOTLPEndpoint(in); err != nil || c.otlpEndpoint != want {
			t.Errorf("-otlp-endpoint %q = %q, %v; want %q", in, c.otlpEndpoint, err, want)
		}
	}
}
