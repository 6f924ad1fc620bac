package conformance_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	_ "github.com/polyrpc/polyrpc/codec/json"
	_ "github.com/polyrpc/polyrpc/codec/msgpack"
	_ "github.com/polyrpc/polyrpc/codec/proto"
	_ "github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// codecs are the codecs every case runs through, in the order of the README
// table's columns.
var codecs = []string{"json", "xml", "msgpack", "proto"}

// callTimeout is the server's rpc.WithCallTimeout. Only the methods that wait
// on their context (slow.wait, counter.wait) ever meet it; the echo methods
// ignore their context, so a loaded machine cannot make them time out.
const callTimeout = 50 * time.Millisecond

// hmacKey is the shared secret of the "tcp+hmac" transport.
var hmacKey = auth.Key{ID: "conformance", Secret: []byte("the conformance suite's secret")}

// transport is one way of reaching the server.
type transport struct {
	name string
	// identity is the rpc.Peer identity the server must see.
	identity string
	// client returns a client of the server over this transport.
	client func(t *testing.T, c rpc.Codec) *rpc.Client
}

// TestConformance runs every case of the table through every codec and
// every transport: subtests transport/codec/case.
func TestConformance(t *testing.T) {
	transports := startServers(t)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range codecs {
				t.Run(name, func(t *testing.T) {
					codec, ok := rpc.LookupCodec(name)
					if !ok {
						t.Fatalf("codec %q is not registered", name)
					}
					c := tr.client(t, codec)
					t.Cleanup(func() { c.Close() })
					t.Run("peer", func(t *testing.T) { checkPeer(t, c, tr) })
					for i := range cases {
						tc := &cases[i]
						t.Run(tc.name, func(t *testing.T) {
							t.Parallel()
							tc.run(t, c, tr.name, name)
						})
					}
				})
			}
		})
	}
}

// checkPeer checks that the server saw the call come over the transport,
// authenticated as it should be: the handshake really ran.
func checkPeer(t *testing.T, c *rpc.Client, tr transport) {
	ctx, cancel := callContext(t)
	defer cancel()
	var got map[string]string
	if err := c.Call(ctx, "peer.info", &got); err != nil {
		t.Fatal(err)
	}
	if got["identity"] != tr.identity || got["transport"] == "" {
		t.Errorf("peer %v; want identity %q", got, tr.identity)
	}
}

// callContext bounds a case generously: it only keeps a broken case from
// hanging the run and never decides an outcome.
func callContext(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), time.Minute)
}

// run runs the case over client c, speaking codec over transport.
func (tc *tcase) run(t *testing.T, c *rpc.Client, transport, codec string) {
	for _, key := range []string{codec, transport + "/" + codec} {
		if bug := tc.knownBug[key]; bug != "" {
			t.Skip("known bug: " + bug)
		}
	}
	e := tc.expectFor(codec)
	ctx, cancel := callContext(t)
	defer cancel()
	var got any
	var err error
	if tc.call != nil {
		got, err = tc.call(t, ctx, c, e)
	} else {
		dst := tc.dst()
		if tc.named != nil {
			err = c.CallNamed(ctx, tc.method, dst, tc.named)
		} else {
			err = c.Call(ctx, tc.method, dst, tc.params...)
		}
		got = reflect.ValueOf(dst).Elem().Interface()
	}
	if ctx.Err() != nil {
		t.Fatalf("the test's own context ended (%v): the outcome says nothing", ctx.Err())
	}
	if msg := e.check(tc, got, err); msg != "" {
		t.Errorf("%s [%s]: %s", tc.name, e.cell, msg)
	}
}

// dst returns a new pointer for the result: the case's own (which may hold
// a sentinel that a null must clear), or a zero value of the expected type.
func (tc *tcase) dst() any {
	if tc.into != nil {
		return tc.into()
	}
	if tc.want == nil {
		return new(any)
	}
	return reflect.New(reflect.TypeOf(tc.want)).Interface()
}

// check returns what is wrong with the outcome (got, err), or "".
func (e expect) check(tc *tcase, got any, err error) string {
	var re *rpc.Error
	isRPC := errors.As(err, &re)
	switch {
	case e.clientErr:
		switch {
		case err == nil:
			return fmt.Sprintf("call succeeded with %s; want a client-side encoding error", show(got))
		case isRPC:
			return fmt.Sprintf("server answered %v (data %s); want a client-side encoding error", err, show(re.Data))
		case !strings.HasPrefix(err.Error(), "rpc: encoding "):
			// rpc.Client wraps the codec's encoding error as "rpc: encoding
			// METHOD: ..."; anything else (a lost connection, say) is not
			// the outcome the case is about.
			return fmt.Sprintf("got %v; want a client-side encoding error", err)
		}
		return ""
	case e.code != 0:
		if !isRPC {
			return fmt.Sprintf("got %v (result %#v); want an *rpc.Error with code %d", err, got, e.code)
		}
		var msgs []string
		if re.Code != e.code {
			msgs = append(msgs, fmt.Sprintf("code %d, want %d", re.Code, e.code))
		}
		if e.message != "" && re.Message != e.message {
			msgs = append(msgs, fmt.Sprintf("message %q, want %q", re.Message, e.message))
		}
		if e.checkData {
			if d := diff(re.Data, e.data); d != "" {
				msgs = append(msgs, "data: "+d)
			}
		}
		if e.is != nil && !errors.Is(err, e.is) {
			msgs = append(msgs, fmt.Sprintf("errors.Is(err, %v) is false", e.is))
		}
		if len(msgs) > 0 {
			return fmt.Sprintf("%v: %v", err, msgs)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("call failed: %v; want %s", err, show(tc.want))
	}
	want := tc.want
	if e.hasWant {
		want = e.want
	}
	if e.equal != nil {
		return e.equal(got, want)
	}
	return diff(got, want)
}

// diff compares exactly: float64s bit for bit (so -0 is not 0) with every
// NaN equal to every other, time.Times as the same instant in the same zone
// offset (no wire carries a zone's name), anything else with
// reflect.DeepEqual. It returns "" when got is want.
func diff(got, want any) string {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		if ok && (math.Float64bits(g) == math.Float64bits(w) || math.IsNaN(g) && math.IsNaN(w)) {
			return ""
		}
	case time.Time:
		g, ok := got.(time.Time)
		if ok && g.Equal(w) && offset(g) == offset(w) {
			return ""
		}
	default:
		if reflect.DeepEqual(got, want) {
			return ""
		}
	}
	return fmt.Sprintf("got %s, want %s", show(got), show(want))
}

func offset(t time.Time) int {
	_, off := t.Zone()
	return off
}

// show prints a value for a failure message, briefly.
func show(v any) string {
	var s string
	switch x := v.(type) {
	case time.Time:
		s = x.Format(time.RFC3339Nano)
	case float64:
		s = fmt.Sprintf("%v (bits %#x)", x, math.Float64bits(x))
	default:
		s = fmt.Sprintf("%#v", v)
	}
	s = fmt.Sprintf("%T %s", v, s)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// sameInstantUTC is the comparison of a codec that carries a time.Time as an
// instant: the same instant, nanoseconds included, decoded in UTC.
func sameInstantUTC(got, want any) string {
	g, ok := got.(time.Time)
	w := want.(time.Time)
	if ok && g.Equal(w) && g.Location() == time.UTC {
		return ""
	}
	return fmt.Sprintf("got %s, want the instant %s in UTC", show(got), show(want))
}

// sameSecondUTC is the comparison of XML-RPC's dateTime.iso8601: the
// instant truncated to whole seconds, decoded in UTC.
func sameSecondUTC(got, want any) string {
	g, ok := got.(time.Time)
	w := want.(time.Time).UTC().Truncate(time.Second)
	if ok && g.Equal(w) && g.Location() == time.UTC {
		return ""
	}
	return fmt.Sprintf("got %s, want %s (whole seconds, UTC)", show(got), show(w))
}

// startServers starts one rpc.Server with the methods of the table, and
// serves it on 127.0.0.1:0 over every transport.
func startServers(t *testing.T) []transport {
	t.Helper()
	s := must(rpc.NewServer(rpc.WithCallTimeout(callTimeout)))
	registerMethods(t, s)

	certs := testcert.New(t)
	serverTLS := serverTLSConfig(t, certs)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	serveHTTP := func(ln net.Listener) {
		hs := must(httprpc.NewServer(must(httprpc.NewHandler(s))))
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
	}
	serveTCP := func(ln net.Listener, opts ...tcprpc.Option) {
		ts := must(tcprpc.NewServer(s, opts...))
		go ts.Serve(ln)
		t.Cleanup(func() { ts.Close() })
	}

	httpLn := listen()
	serveHTTP(httpLn)
	httpsLn := listen()
	serveHTTP(tls.NewListener(httpsLn, serverTLS))
	tcpLn := listen()
	serveTCP(tcpLn)
	keys, err := auth.NewKeySet(hmacKey)
	if err != nil {
		t.Fatal(err)
	}
	hmacLn := listen()
	serveTCP(hmacLn, tcprpc.WithHandshake(must(auth.NewServer(keys)).Handshake))
	tlsLn := listen()
	serveTCP(tls.NewListener(tlsLn, serverTLS))

	return []transport{
		{name: "http", client: func(t *testing.T, c rpc.Codec) *rpc.Client {
			return must(httprpc.NewClient("http://"+httpLn.Addr().String()+"/", c))
		}},
		{name: "https", client: func(t *testing.T, c rpc.Codec) *rpc.Client {
			return must(httprpc.NewClient("https://"+httpsLn.Addr().String()+"/", c,
				httprpc.WithTLSConfig(certs.ClientConfig(t, true))))
		}},
		{name: "tcp", client: func(t *testing.T, c rpc.Codec) *rpc.Client {
			return must(tcprpc.NewClient(tcpLn.Addr().String(), c))
		}},
		{name: "tcp+hmac", identity: hmacKey.ID, client: func(t *testing.T, c rpc.Codec) *rpc.Client {
			ac, err := auth.NewClient(hmacKey)
			if err != nil {
				t.Fatal(err)
			}
			return must(tcprpc.NewClient(hmacLn.Addr().String(), c, tcprpc.WithClientHandshake(ac.Handshake)))
		}},
		{name: "tls", client: func(t *testing.T, c rpc.Codec) *rpc.Client {
			return must(tcprpc.NewClient(tlsLn.Addr().String(), c, tcprpc.WithTLS(certs.ClientConfig(t, true))))
		}},
	}
}

// serverTLSConfig is mutual TLS with the test CA's certificates.
func serverTLSConfig(t *testing.T, certs testcert.Files) *tls.Config {
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in " + certs.CA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
}

// counters count notifications by key (each subtest uses its own name), so
// that a following call can wait for a notification to have been served:
// over TCP, calls on one connection run concurrently, so the notification
// may still be in flight when the next call arrives.
type counters struct {
	mu      sync.Mutex
	n       map[string]int64
	changed chan struct{} // closed and replaced at every change
}

func newCounters() *counters {
	return &counters{n: map[string]int64{}, changed: make(chan struct{})}
}

func (c *counters) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[key]++
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *counters) get(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// wait returns the count of key once it reaches n, or the context's error.
func (c *counters) wait(ctx context.Context, key string, n int64) (int64, error) {
	for {
		c.mu.Lock()
		v, ch := c.n[key], c.changed
		c.mu.Unlock()
		if v >= n {
			return v, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}

// registerMethods registers the typed echo methods and the methods of the
// outcome cases.
func registerMethods(t *testing.T, s *rpc.Server) {
	t.Helper()
	counts := newCounters()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Register("echo.int64", func(v int64) (int64, error) { return v, nil }))
	must(s.Register("echo.int32", func(v int32) (int32, error) { return v, nil }))
	must(s.Register("echo.uint64", func(v uint64) (uint64, error) { return v, nil }))
	must(s.Register("echo.float64", func(v float64) (float64, error) { return v, nil }))
	must(s.Register("echo.string", func(v string) (string, error) { return v, nil }))
	must(s.Register("echo.bytes", func(v []byte) ([]byte, error) { return v, nil }))
	must(s.Register("echo.time", func(v time.Time) (time.Time, error) { return v, nil }))
	must(s.Register("echo.bool", func(v bool) (bool, error) { return v, nil }))
	must(s.Register("echo.ints", func(v []int64) ([]int64, error) { return v, nil }))
	must(s.Register("echo.map", func(v map[string]any) (map[string]any, error) { return v, nil }))
	must(s.Register("echo.any", func(v any) (any, error) { return v, nil }))
	must(s.Register("echo.struct", func(v Record) (Record, error) { return v, nil }))
	must(s.Register("echo.nilptr", func() (*Record, error) { return nil, nil }))
	must(s.Register("named.sub", func(a, b int64) (int64, error) { return a - b, nil },
		rpc.WithParamNames("minuend", "subtrahend")))

	// result.NAME returns the value of the case NAME's result, for the
	// values that only a server encodes.
	for i := range cases {
		if tc := &cases[i]; tc.result != nil {
			v := tc.result
			must(s.Register(tc.method, func() (any, error) { return v, nil }))
		}
	}

	must(s.Register("fail.fault", func() error {
		return &rpc.Error{Code: 4242, Message: "application fault", Data: faultData()}
	}))
	must(s.Register("fail.faultNaN", func() error {
		return &rpc.Error{Code: 4242, Message: "application fault", Data: math.NaN()}
	}))
	must(s.Register("fail.plain", func() error { return errors.New("plain failure") }))
	must(s.Register("fail.panic", func() error { panic("the handler panicked") }))
	must(s.Register("slow.wait", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	must(s.Register("counter.add", func(key string) error { counts.add(key); return nil }))
	must(s.Register("counter.get", func(key string) (int64, error) { return counts.get(key), nil }))
	must(s.Register("counter.wait", func(ctx context.Context, key string, n int64) (int64, error) {
		return counts.wait(ctx, key, n)
	}))
	must(s.Register("peer.info", func(ctx context.Context) (map[string]string, error) {
		p, ok := rpc.PeerFromContext(ctx)
		if !ok {
			return nil, errors.New("no peer in the context")
		}
		return map[string]string{"transport": p.Transport, "identity": p.Identity}, nil
	}))
}

// must returns v, or panics with err: for constructors whose options are
// known to be valid, as template.Must does.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
