package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/polyrpc/polyrpc/auth"
	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/internal/events"
	"github.com/polyrpc/polyrpc/metrics"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// value returns the value of the series of name with labels (name=value
// pairs, all of the series'), and whether there is one: a counter's or
// gauge's value, a histogram's sample count and sum.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (v, sum float64, ok bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				t.Fatalf("%s has labels %v, want %v", name, m.GetLabel(), want)
			}
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), 0, true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), 0, true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), m.Histogram.GetSampleSum(), true
			}
		}
	}
	return 0, 0, false
}

// labelValues returns the values label takes in the series of name.
func labelValues(t *testing.T, reg prometheus.Gatherer, name, label string) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out[lp.GetValue()] = true
				}
			}
		}
	}
	return out
}

func expect(t *testing.T, reg prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	got, _, ok := value(t, reg, name, labels...)
	if !ok {
		t.Errorf("no series %s%v", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// sizes is a Transport that adds up the bytes it carries, per method.
type sizes struct {
	rpc.Transport
	mu         sync.Mutex
	sent, recv map[string]int
}

func (s *sizes) Exchange(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	reply, err := s.Transport.Exchange(ctx, c, msg, oneway)
	// The method, read from a JSON-RPC request: JSON is the one codec of
	// these tests.
	method := ""
	if i := strings.Index(string(msg), `"method":"`); i >= 0 {
		rest := string(msg[i+len(`"method":"`):])
		method = rest[:strings.IndexByte(rest, '"')]
	}
	s.mu.Lock()
	s.sent[method] += len(msg)
	s.recv[method] += len(reply)
	s.mu.Unlock()
	return reply, err
}

type fixture struct {
	reg    *prometheus.Registry
	m      *metrics.Metrics
	srv    *rpc.Server
	client *rpc.Client
	tr     *sizes
	block  chan struct{} // demo.block waits on it
	inside chan struct{} // demo.block tells it is running
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry(), block: make(chan struct{}), inside: make(chan struct{}, 1)}
	var err error
	if f.m, err = metrics.New(f.reg); err != nil {
		t.Fatal(err)
	}
	var srv *rpc.Server
	registered := func(method string) bool { _, ok := srv.Method(method); return ok }
	srv, err = rpc.NewServer(rpc.WithCodecs(jsoncodec.New()), rpc.WithInterceptors(f.m.Server(registered)))
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil }))
	must(srv.Register("demo.fail", func(code int64) error { return rpc.NewError(rpc.Code(code), "failed") }))
	must(srv.Register("demo.plain", func() error { return errors.New("plain") }))
	must(srv.Register("demo.panic", func() error { panic("boom") }))
	must(srv.Register("demo.block", func() error {
		f.inside <- struct{}{}
		<-f.block
		return nil
	}))
	f.tr = &sizes{Transport: rpc.InProcess(srv), sent: map[string]int{}, recv: map[string]int{}}
	if f.client, err = rpc.NewClient(f.tr, jsoncodec.New(), rpc.WithInterceptors(f.m.Client())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.client.Close() })
	return f
}

const (
	srvDur   = "rpc_server_call_duration_seconds"
	cliDur   = "rpc_client_call_duration_seconds"
	srvStart = "rpc_server_calls_started_total"
	cliStart = "rpc_client_calls_started_total"
)

// TestCountsPerMethodAndCode: every call counts once, under its method and
// code, on the server and on the client; unregistered methods and codes
// outside the fixed set count as _OTHER on the server.
func TestCountsPerMethodAndCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for range 3 {
		var n int64
		if err := f.client.Call(ctx, "demo.add", &n, 2, 3); err != nil || n != 5 {
			t.Fatalf("demo.add = %d, %v", n, err)
		}
	}
	for range 2 {
		if err := f.client.Call(ctx, "demo.fail", nil, -32001); err == nil {
			t.Fatal("demo.fail succeeded")
		}
	}
	for _, code := range []int{12345, -32099, 7} { // codes outside the set
		if err := f.client.Call(ctx, "demo.fail", nil, code); err == nil {
			t.Fatal("demo.fail succeeded")
		}
	}
	for _, m := range []string{"no.such", "another.unknown", strings.Repeat("x", 300)} {
		if err := f.client.Call(ctx, m, nil); err == nil {
			t.Fatalf("%s succeeded", m)
		}
	}
	if err := f.client.Call(ctx, "demo.plain", nil); err == nil {
		t.Fatal("demo.plain succeeded")
	}
	if err := f.client.Call(ctx, "demo.panic", nil); err == nil {
		t.Fatal("demo.panic succeeded")
	}
	if err := f.client.Notify(ctx, "demo.add", 1, 1); err != nil {
		t.Fatal(err)
	}

	r := f.reg
	sys, tr := "jsonrpc", "inproc"
	expect(t, r, 4, srvStart, "rpc_system_name", sys, "rpc_method", "demo.add", "transport", tr)
	expect(t, r, 4, srvDur, "rpc_system_name", sys, "rpc_method", "demo.add", "rpc_status_code", "0", "transport", tr)
	expect(t, r, 2, srvDur, "rpc_system_name", sys, "rpc_method", "demo.fail", "rpc_status_code", "-32001", "transport", tr)
	expect(t, r, 3, srvDur, "rpc_system_name", sys, "rpc_method", "demo.fail", "rpc_status_code", "_OTHER", "transport", tr)
	expect(t, r, 3, srvDur, "rpc_system_name", sys, "rpc_method", "_OTHER", "rpc_status_code", "-32601", "transport", tr)
	expect(t, r, 3, srvStart, "rpc_system_name", sys, "rpc_method", "_OTHER", "transport", tr)
	expect(t, r, 1, srvDur, "rpc_system_name", sys, "rpc_method", "demo.plain", "rpc_status_code", "-32500", "transport", tr)
	expect(t, r, 1, srvDur, "rpc_system_name", sys, "rpc_method", "demo.panic", "rpc_status_code", "-32603", "transport", tr)

	// The client counts under the names it called, and the codes it got.
	expect(t, r, 4, cliDur, "rpc_system_name", sys, "rpc_method", "demo.add", "rpc_status_code", "0") // a notification included
	expect(t, r, 1, cliDur, "rpc_system_name", sys, "rpc_method", "no.such", "rpc_status_code", "-32601")
	expect(t, r, 3, cliDur, "rpc_system_name", sys, "rpc_method", "demo.fail", "rpc_status_code", "_OTHER")
	expect(t, r, 1, cliDur, "rpc_system_name", sys, "rpc_method", "demo.panic", "rpc_status_code", "-32603")
	expect(t, r, 4, cliStart, "rpc_system_name", sys, "rpc_method", "demo.add")

	// Nothing a client sent became a label but through the bounded sets.
	want := map[string]bool{"demo.add": true, "demo.fail": true, "demo.plain": true, "demo.panic": true, "_OTHER": true}
	for _, name := range []string{srvDur, srvStart, "rpc_server_calls_in_flight", "rpc_server_request_size_bytes", "rpc_server_response_size_bytes"} {
		for v := range labelValues(t, r, name, "rpc_method") {
			if !want[v] {
				t.Errorf("%s has rpc_method %q", name, v)
			}
		}
	}
	codes := labelValues(t, r, srvDur, "rpc_status_code")
	for _, c := range []string{"12345", "-32099", "7"} {
		if codes[c] {
			t.Errorf("%s has rpc_status_code %q", srvDur, c)
		}
	}

	// In flight: back to 0, the panic's included.
	for _, m := range []string{"demo.add", "demo.fail", "demo.panic", "_OTHER"} {
		expect(t, r, 0, "rpc_server_calls_in_flight", "rpc_system_name", sys, "rpc_method", m, "transport", tr)
	}
	expect(t, r, 0, "rpc_client_calls_in_flight", "rpc_system_name", sys, "rpc_method", "demo.panic")
}

// TestSizes: the size histograms add up the bytes of the messages, on both
// sides, and a notification has no response size.
func TestSizes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i := range 4 {
		var n int64
		if err := f.client.Call(ctx, "demo.add", &n, i, 1000*i); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.client.Call(ctx, "demo.fail", nil, 5); err == nil {
		t.Fatal("demo.fail succeeded")
	}
	f.tr.mu.Lock()
	sent, recv := f.tr.sent, f.tr.recv
	f.tr.mu.Unlock()
	for _, m := range []string{"demo.add", "demo.fail"} {
		calls := 4.0
		if m == "demo.fail" {
			calls = 1
		}
		for _, c := range []struct {
			name  string
			bytes int
			ls    []string
		}{
			{"rpc_server_request_size_bytes", sent[m], []string{"rpc_system_name", "jsonrpc", "rpc_method", m, "transport", "inproc"}},
			{"rpc_server_response_size_bytes", recv[m], []string{"rpc_system_name", "jsonrpc", "rpc_method", m, "transport", "inproc"}},
			{"rpc_client_request_size_bytes", sent[m], []string{"rpc_system_name", "jsonrpc", "rpc_method", m}},
			{"rpc_client_response_size_bytes", recv[m], []string{"rpc_system_name", "jsonrpc", "rpc_method", m}},
		} {
			n, sum, ok := value(t, f.reg, c.name, c.ls...)
			if !ok || n != calls || sum != float64(c.bytes) || c.bytes == 0 {
				t.Errorf("%s{%s}: %v messages of %v bytes in all, want %v of %d", c.name, m, n, sum, calls, c.bytes)
			}
		}
	}

	if err := f.client.Notify(ctx, "demo.add", 1, 2); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := value(t, f.reg, "rpc_server_request_size_bytes", "rpc_system_name", "jsonrpc", "rpc_method", "demo.add", "transport", "inproc"); n != 5 {
		t.Errorf("request sizes after a notification: %v, want 5", n)
	}
	if n, _, _ := value(t, f.reg, "rpc_server_response_size_bytes", "rpc_system_name", "jsonrpc", "rpc_method", "demo.add", "transport", "inproc"); n != 4 {
		t.Errorf("response sizes after a notification: %v, want still 4", n)
	}
}

// TestInFlight: a call running is in flight on both sides, and is no more
// once it ended.
func TestInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	done := make(chan error, 1)
	go func() { done <- f.client.Call(context.Background(), "demo.block", nil) }()
	<-f.inside
	expect(t, f.reg, 1, "rpc_server_calls_in_flight", "rpc_system_name", "jsonrpc", "rpc_method", "demo.block", "transport", "inproc")
	expect(t, f.reg, 1, "rpc_client_calls_in_flight", "rpc_system_name", "jsonrpc", "rpc_method", "demo.block")
	close(f.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect(t, f.reg, 0, "rpc_server_calls_in_flight", "rpc_system_name", "jsonrpc", "rpc_method", "demo.block", "transport", "inproc")
	expect(t, f.reg, 0, "rpc_client_calls_in_flight", "rpc_system_name", "jsonrpc", "rpc_method", "demo.block")
}

// broken is a transport that never reaches a server.
type broken struct{}

func (broken) Exchange(context.Context, rpc.Codec, []byte, bool) ([]byte, error) {
	return nil, errors.New("connection refused")
}
func (broken) Close() error { return nil }

// TestClientBounds: a client's calls that got no answer count as _OTHER,
// or as the context's code; its method names count as themselves up to
// 1000 of them, and as _OTHER beyond.
func TestClientBounds(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.NewClient(broken{}, jsoncodec.New(), rpc.WithInterceptors(m.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1010 {
		if err := c.Call(ctx, fmt.Sprintf("m%d", i), nil); err == nil {
			t.Fatal("a call over a broken transport succeeded")
		}
	}
	if err := c.Call(ctx, "m3", nil); err == nil { // known already
		t.Fatal("a call over a broken transport succeeded")
	}
	methods := labelValues(t, reg, cliStart, "rpc_method")
	if len(methods) != 1001 || !methods["_OTHER"] || !methods["m999"] || methods["m1000"] {
		t.Errorf("%d method labels (m999 %v, m1000 %v, _OTHER %v), want the first 1000 and _OTHER", len(methods), methods["m999"], methods["m1000"], methods["_OTHER"])
	}
	expect(t, reg, 10, cliDur, "rpc_system_name", "jsonrpc", "rpc_method", "_OTHER", "rpc_status_code", "_OTHER")
	expect(t, reg, 2, cliDur, "rpc_system_name", "jsonrpc", "rpc_method", "m3", "rpc_status_code", "_OTHER")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Call(cctx, "m4", nil); err == nil {
		t.Fatal("a call over a broken transport succeeded")
	}
	expect(t, reg, 1, cliDur, "rpc_system_name", "jsonrpc", "rpc_method", "m4", "rpc_status_code", "-32002")
}

// TestSeriesByCodecAndTransport: a call counts under its codec's system
// and its transport, known or not, however the calls of a method mix
// them.
func TestSeriesByCodecAndTransport(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Set(nil)
	srv, cli := m.Server(func(string) bool { return true }), m.Client()
	next := func(context.Context, *rpc.Call) (any, error) { return nil, nil }
	ctx := context.Background()
	codecs := map[string]string{"json": "jsonrpc", "xml": "xmlrpc", "msgpack": "msgpackrpc", "proto": "polyrpc", "": "_OTHER", "yaml": "yaml"}
	transports := map[string]string{"tcp": "tcp", "http": "http", "unix": "unix", "inproc": "inproc", "": "_OTHER", "_OTHER": "_OTHER", "quic": "quic"}
	for round := range 3 {
		for codec := range codecs {
			for tr := range transports {
				for range round + 1 {
					call := &rpc.Call{Method: "demo.add", Codec: codec, Peer: &rpc.Peer{Transport: tr}}
					if _, err := srv(ctx, call, next); err != nil {
						t.Fatal(err)
					}
				}
			}
			call := &rpc.Call{Method: "demo.add", Codec: codec}
			if _, err := cli(ctx, call, next); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, sys := range codecs {
		for _, label := range transports {
			n := 6.0
			if label == "_OTHER" {
				n = 12 // "" and "_OTHER"
			}
			expect(t, reg, n, srvStart, "rpc_system_name", sys, "rpc_method", "demo.add", "transport", label)
		}
		expect(t, reg, 3, cliStart, "rpc_system_name", sys, "rpc_method", "demo.add")
	}
}

// TestNew: what New refuses.
func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := metrics.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	for _, o := range []metrics.Option{
		metrics.WithDurationBuckets(1, 0.5),
		metrics.WithDurationBuckets(-1),
		metrics.WithSizeBuckets(1, 1),
		nil,
	} {
		if _, err := metrics.New(prometheus.NewRegistry(), o); err == nil {
			t.Errorf("New with an invalid option succeeded")
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.WithDurationBuckets(), metrics.WithSizeBuckets(10, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg); err == nil {
		t.Error("a second New on the same registry succeeded")
	}
}

// TestTransportEvents: connections, limits and authentication failures
// reported by the transports are counted by the last Metrics made. Not
// parallel: the observer is the process's.
func TestTransportEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Set(nil)
	events.LimitHit("http", "max_memory")
	events.LimitHit("http", "max_memory")
	events.AuthFailed("tcp")
	expect(t, reg, 2, "rpc_server_limit_hits_total", "transport", "http", "limit", "max_memory")
	expect(t, reg, 0, "rpc_server_limit_hits_total", "transport", "tcp", "limit", "max_in_flight")
	expect(t, reg, 1, "rpc_server_auth_failures_total", "transport", "tcp")
	expect(t, reg, 0, "rpc_server_auth_failures_total", "transport", "http")

	// A real connection, counted where tcprpc's limiter counts it.
	s, err := rpc.NewServer(rpc.WithCodecs(jsoncodec.New()), rpc.WithInterceptors(m.Server(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("add", func(a, b int) (int, error) { return a + b, nil }); err != nil {
		t.Fatal(err)
	}
	ts, err := tcprpc.NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(ln)
	defer ts.Close()
	c, err := tcprpc.NewClient(ln.Addr().String(), jsoncodec.New())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.Call(context.Background(), "add", &n, 1, 2); err != nil || n != 3 {
		t.Fatalf("add = %d, %v", n, err)
	}
	expect(t, reg, 1, "rpc_server_connections_open", "transport", "tcp")
	// Server(nil): every method is _OTHER.
	expect(t, reg, 1, srvStart, "rpc_system_name", "jsonrpc", "rpc_method", "_OTHER", "transport", "tcp")
	c.Close()
	// The server notices the close in its own time: poll, with a hang guard.
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, _, _ := value(t, reg, "rpc_server_connections_open", "transport", "tcp")
		if v == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections open = %v long after the client closed", v)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A newer Metrics takes the events over.
	reg2 := prometheus.NewRegistry()
	if _, err := metrics.New(reg2); err != nil {
		t.Fatal(err)
	}
	events.AuthFailed("tcp")
	expect(t, reg, 1, "rpc_server_auth_failures_total", "transport", "tcp")
	expect(t, reg2, 1, "rpc_server_auth_failures_total", "transport", "tcp")
}

// eventually waits for the series to reach want: a transport counts in
// its own goroutines. The deadline only stops a hang.
func eventually(t *testing.T, reg prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _, _ := value(t, reg, name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTransportsReport: the transports report their limits hit and the
// authentication failures where they log them. Not parallel: the observer
// is the process's.
func TestTransportsReport(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	defer events.Set(nil)
	s, err := rpc.NewServer(rpc.WithCodecs(jsoncodec.New()))
	if err != nil {
		t.Fatal(err)
	}
	key := auth.Key{ID: "k", Secret: []byte("the server's secret")}
	wrong := auth.Key{ID: "k", Secret: []byte("another secret")}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}

	// HTTP: a body over the limit gets 413; wrong credentials get 401.
	h, err := httprpc.NewHandler(s, httprpc.WithMaxMessageSize(64))
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(h)
	defer plain.Close()
	resp, err := http.Post(plain.URL, "application/json", strings.NewReader(strings.Repeat(" ", 1000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the limit: %s", resp.Status)
	}
	expect(t, reg, 1, "rpc_server_limit_hits_total", "transport", "http", "limit", "max_message_size")
	ah, err := auth.NewHTTPHandler(h, keys)
	if err != nil {
		t.Fatal(err)
	}
	authed := httptest.NewServer(ah)
	defer authed.Close()
	hc := &http.Client{Transport: wrong.SignHTTP(nil)}
	resp, err = hc.Post(authed.URL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","method":"x","id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a request signed with the wrong key: %s", resp.Status)
	}
	// The challenge to the first, unsigned, request is no failure.
	expect(t, reg, 1, "rpc_server_auth_failures_total", "transport", "http")

	// TCP: a frame over the limit ends its connection; a handshake with
	// the wrong key fails.
	ts, err := tcprpc.NewServer(s, tcprpc.WithMaxMessageSize(64))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(ln)
	defer ts.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{0, 0x10, 0, 0}); err != nil { // a 1 MiB frame's header
		t.Fatal(err)
	}
	eventually(t, reg, 1, "rpc_server_limit_hits_total", "transport", "tcp", "limit", "max_message_size")

	as, err := auth.NewServer(keys)
	if err != nil {
		t.Fatal(err)
	}
	ats, err := tcprpc.NewServer(s, tcprpc.WithHandshake(as.Handshake))
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ats.Serve(aln)
	defer ats.Close()
	ac, err := auth.NewClient(wrong)
	if err != nil {
		t.Fatal(err)
	}
	aconn, err := net.Dial("tcp", aln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer aconn.Close()
	if err := ac.Handshake(context.Background(), aconn); err == nil {
		t.Fatal("a handshake with the wrong key succeeded")
	}
	eventually(t, reg, 1, "rpc_server_auth_failures_total", "transport", "tcp")
}

// BenchmarkServerInterceptor is the cost of the server's interceptor
// around a call that does nothing.
func BenchmarkServerInterceptor(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer events.Set(nil)
	ic := m.Server(func(string) bool { return true })
	next := func(context.Context, *rpc.Call) (any, error) { return nil, nil }
	call := &rpc.Call{Method: "demo.add", Codec: "json", Peer: &rpc.Peer{Transport: "tcp"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		*call = rpc.Call{Method: "demo.add", Codec: "json", Peer: call.Peer}
		if _, err := ic(ctx, call, next); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientInterceptor is the cost of the client's interceptor
// around a call that does nothing.
func BenchmarkClientInterceptor(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer events.Set(nil)
	ic := m.Client()
	next := func(context.Context, *rpc.Call) (any, error) { return nil, nil }
	call := &rpc.Call{Method: "demo.add", Codec: "msgpack"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		*call = rpc.Call{Method: "demo.add", Codec: "msgpack"}
		if _, err := ic(ctx, call, next); err != nil {
			b.Fatal(err)
		}
	}
}
