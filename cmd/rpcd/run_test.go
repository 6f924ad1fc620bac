package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var addrRE = regexp.MustCompile(`msg="serving HTTP" addr=(\S+)`)

// startRPCD runs rpcd in-process and returns the HTTP address it listens on,
// a function that stops it (as SIGTERM would) and the channel of run's error.
func startRPCD(t *testing.T, args ...string) (addr string, stop func(), done <-chan error, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"-http", "127.0.0.1:0", "-tcp", "127.0.0.1:0"}, args...), &bytes.Buffer{}, logs)
	}()
	for i := 0; i < 500; i++ {
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			t.Cleanup(cancel)
			return m[1], cancel, errc, logs
		}
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("rpcd exited early: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("rpcd did not log its address:\n%s", logs.String())
	return
}

func TestRunServesAndShutsDownGracefully(t *testing.T) {
	addr, stop, done, logs := startRPCD(t, "-log-level", "debug")
	c := httpClient(t, "http://"+addr+"/")

	var state string
	if err := c.Call(context.Background(), "examples.getStateName", &state, 41); err != nil || state != "South Dakota" {
		t.Fatalf("getStateName = %q, %v", state, err)
	}

	// A slow call in flight when the shutdown starts must complete.
	type result struct {
		ms  int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		var ms int64
		err := c.Call(context.Background(), "demo.sleep", &ms, 300)
		res <- result{ms, err}
	}()
	// Stop once the call is being served, as the debug log tells.
	for !strings.Contains(logs.String(), `msg="call started" method=demo.sleep`) {
		select {
		case r := <-res:
			t.Fatalf("demo.sleep ended before it was logged: %d, %v", r.ms, r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	stop()
	r := <-res
	if r.err != nil || r.ms != 300 {
		t.Errorf("in-flight call during shutdown = %d, %v", r.ms, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("run returned %v, want nil (exit status 0)", err)
	}
	if !strings.Contains(logs.String(), `msg=stopped`) {
		t.Errorf("no stop logged:\n%s", logs.String())
	}
	// New calls are refused once it stopped.
	if err := c.Call(context.Background(), "demo.add", nil, 1, 2); err == nil {
		t.Error("a call after shutdown succeeded")
	}
}

func TestRunDemoOff(t *testing.T) {
	addr, stop, done, _ := startRPCD(t, "-demo=false")
	c := httpClient(t, "http://"+addr+"/RPC2")
	err := c.Call(context.Background(), "demo.add", nil, 1, 2)
	if !rpcCode(err, rpc.CodeMethodNotFound) {
		t.Errorf("demo.add with -demo=false: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestRunFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-max-message", "0"}, "-max-message must be positive"},
		{[]string{"-http", "", "-tcp", ""}, "no listener"},
		{[]string{"extra"}, `unknown command "extra"`},
		{[]string{"-demo=false", "extra"}, `unexpected argument "extra"`},
		{[]string{"-http", "256.0.0.1:99999"}, ""},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(context.Background(), tt.args, &bytes.Buffer{}, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.msg) {
			t.Errorf("run %v = %v (stderr %q), want an error with %q", tt.args, err, stderr.String(), tt.msg)
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-help"}, &bytes.Buffer{}, &stderr); err != nil ||
		!strings.Contains(stderr.String(), "-max-message") {
		t.Errorf("-help = %v\n%s", err, stderr.String())
	}
}

func jsonCodec(t testing.TB) rpc.Codec {
	c, ok := rpc.LookupCodec("json")
	if !ok {
		t.Fatal("json codec not registered")
	}
	return c
}

// newRPCServer is an rpc.Server with every codec rpcd serves, for tests
// that serve methods of their own.
func newRPCServer(t testing.TB) *rpc.Server {
	t.Helper()
	s, err := rpc.NewServer(rpc.WithCodecs(codecs(config{maxDepth: 128})...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveHTTP serves s over HTTP until the end of the test and returns the
// URL to call.
func serveHTTP(t testing.TB, s *rpc.Server) string {
	t.Helper()
	h, err := httprpc.NewHandler(s)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL + "/"
}

// serveStream serves s over framed streams on ln until the end of the
// test.
func serveStream(t testing.TB, s *rpc.Server, ln net.Listener) {
	t.Helper()
	ts, err := tcprpc.NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	go ts.Serve(ln)
	t.Cleanup(func() { ts.Close() })
}

// httpClient is a JSON client of an rpcd HTTP URL, closed at the end of the
// test.
func httpClient(t testing.TB, url string) *rpc.Client {
	t.Helper()
	c, err := httprpc.NewClient(url, jsonCodec(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rpcCode(err error, code rpc.Code) bool {
	e := rpc.AsError(err)
	return e != nil && e.Code == code
}

var tcpAddrRE = regexp.MustCompile(`msg="serving TCP" addr=(\S+)`)

func TestRunServesTCP(t *testing.T) {
	_, stop, done, logs := startRPCD(t)
	var m []string
	for i := 0; m == nil && i < 500; i++ {
		m = tcpAddrRE.FindStringSubmatch(logs.String())
		time.Sleep(5 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no TCP address logged:\n%s", logs.String())
	}
	c, err := tcprpc.NewClient(m[1], jsonCodec(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int64
	if err := c.Call(context.Background(), "demo.add", &n, 40, 2); err != nil || n != 42 {
		t.Errorf("demo.add over TCP = %d, %v", n, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestLimitsAnswerAndLog checks that limits hit get the protocol's answer,
// one log line each, and that the server goes on serving.
func TestLimitsAnswerAndLog(t *testing.T) {
	addr, _, _, logs := startRPCD(t, "-max-batch", "2", "-max-message", "512", "-max-depth", "8")
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	call := `{"jsonrpc":"2.0","method":"demo.add","params":[1,2],"id":1}`
	if status, body := post("[" + call + "," + call + "," + call + "]"); status != 200 || !strings.Contains(body, "-32004") {
		t.Errorf("batch over the limit: %d %s", status, body)
	}
	if status, body := post(`{"jsonrpc":"2.0","method":"demo.echo","params":[[[[[[[[[[1]]]]]]]]]],"id":2}`); status != 200 || !strings.Contains(body, "-32004") {
		t.Errorf("nesting over the limit: %d %s", status, body)
	}
	if status, _ := post(`{"jsonrpc":"2.0","method":"demo.echo","params":["` + strings.Repeat("x", 600) + `"],"id":3}`); status != http.StatusRequestEntityTooLarge {
		t.Errorf("message over the limit: %d", status)
	}
	if status, body := post(call); status != 200 || !strings.Contains(body, `"result":3`) {
		t.Errorf("after the limits: %d %s", status, body)
	}
	l := logs.String()
	if n := strings.Count(l, `msg="rpc: refused a message"`); n != 2 {
		t.Errorf("%d message refusals logged, want 2:\n%s", n, l)
	}
	if n := strings.Count(l, `msg="httprpc: refused a request" status=413`); n != 1 {
		t.Errorf("%d 413s logged, want 1:\n%s", n, l)
	}
}

// TestHelpAndVersion checks rpcd's usage, help command and version.
func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	commands := []string{"rpcd [serve] [flags]", "rpcd call [flags] URL METHOD [PARAM...]", "rpcd list [flags] URL",
		"rpcd load [flags]", "rpcd version", "rpcd help [COMMAND]"}
	for _, args := range [][]string{{"-h"}, {"-help"}, {"serve", "-h"}} {
		stdout, stderr, code := rpcdCall(t, args...)
		for _, c := range commands {
			if code != 0 || stdout != "" || !strings.Contains(stderr, c) || !strings.Contains(stderr, "-max-message") {
				t.Errorf("rpcd %v: exit %d, stdout %q, stderr lacks %q or the serve flags:\n%s", args, code, stdout, c, stderr)
			}
		}
	}
	stdout, stderr, code := rpcdCall(t, "help")
	for _, c := range commands {
		if code != 0 || stderr != "" || !strings.Contains(stdout, c) {
			t.Errorf("rpcd help: exit %d, stderr %q, stdout lacks %q:\n%s", code, stderr, c, stdout)
		}
	}
	for cmd, want := range map[string]string{
		"call": "usage: rpcd call [flags] URL METHOD [PARAM...]", "list": "usage: rpcd list [flags] URL",
		"load": "usage: rpcd load [flags]", "serve": "serve flags:", "version": "rpcd version",
	} {
		if stdout, stderr, code := rpcdCall(t, "help", cmd); code != 0 || stderr != "" || !strings.Contains(stdout, want) {
			t.Errorf("rpcd help %s: exit %d, stderr %q, stdout lacks %q:\n%s", cmd, code, stderr, want, stdout)
		}
	}
	if _, stderr, code := rpcdCall(t, "help", "nope"); code != 2 || !strings.Contains(stderr, `unknown command "nope"`) {
		t.Errorf("rpcd help nope: exit %d, stderr %q", code, stderr)
	}

	want := version(debug.ReadBuildInfo()) + "\n"
	for _, args := range [][]string{{"version"}, {"-version"}, {"--version"}} {
		stdout, stderr, code := rpcdCall(t, args...)
		if code != 0 || stderr != "" || stdout != want || !strings.HasPrefix(stdout, "rpcd ") || !strings.Contains(stdout, " go1.") {
			t.Errorf("rpcd %v: exit %d, stdout %q, stderr %q; want %q", args, code, stdout, stderr, want)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH
	for _, tt := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{nil, false, "rpcd devel " + runtime.Version() + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true, "rpcd devel go1.26.0" + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.0"}, true, "rpcd devel go1.26.0" + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.3"}}, true, "rpcd v1.2.3 go1.26.1" + platform},
	} {
		if got := version(tt.info, tt.ok); got != tt.want {
			t.Errorf("version(%+v, %v) = %q, want %q", tt.info, tt.ok, got, tt.want)
		}
	}
}
