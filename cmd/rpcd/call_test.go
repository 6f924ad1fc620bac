package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/polyrpc/polyrpc/introspect"
	"github.com/polyrpc/polyrpc/rpc"
)

// recorder serves echo.params, which returns its params as an array, and
// counts its calls, so that a test can tell what rpcd sent, and whether it
// sent anything.
type recorder struct {
	s     *rpc.Server
	url   string // over HTTP
	calls atomic.Int64
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{s: newRPCServer(t)}
	err := r.s.Register("echo.params", func(params ...any) ([]any, error) {
		r.calls.Add(1)
		return params, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.url = serveHTTP(t, r.s)
	return r
}

// TestCallFlagsAfterURL checks the rule of rpcd call's usage: flags go
// before the URL; one written after it is an error, never a param, and
// nothing is sent.
func TestCallFlagsAfterURL(t *testing.T) {
	r := newRecorder(t)
	key := writeKey(t, "k", "secret")
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{r.url, "echo.params", "2", "3", "-timeout", "1s"}, "flag -timeout after the URL: flags go before the URL"},
		{[]string{r.url, "-auth-key-file", key, "echo.params", "1"}, "flag -auth-key-file after the URL"},
		{[]string{r.url, "echo.params", "--timeout=1s"}, "flag --timeout=1s after the URL"},
		{[]string{r.url, "echo.params", "-named", `{"a":1}`}, "flag -named after the URL"},
		{[]string{r.url, "echo.params", "-h"}, "flag -h after the URL"},
		{[]string{r.url, "echo.params", "1", "-timout", "1s"}, "-timout after the URL looks like a flag"},
	} {
		stdout, stderr, code := rpcdCall(t, append([]string{"call"}, tt.args...)...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("rpcd call %q: stdout %q, stderr %q, exit %d; want exit 2 with %q", tt.args, stdout, stderr, code, tt.stderr)
		}
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("%d calls sent; want none", n)
	}

	// Negative numbers are params; -- ends the flags, before or after the URL.
	for _, tt := range []struct {
		args   []string
		stdout string
	}{
		{[]string{r.url, "echo.params", "-3", "-1.5", "-0", "-"}, "[\n  -3,\n  -1.5,\n  0,\n  \"-\"\n]\n"},
		{[]string{r.url, "echo.params", "--", "-timeout", "1s"}, "[\n  \"-timeout\",\n  \"1s\"\n]\n"},
		{[]string{"--", r.url, "echo.params", "-timeout", "--"}, "[\n  \"-timeout\",\n  \"--\"\n]\n"},
		{[]string{"-timeout", "10s", r.url, "echo.params", "--", "--"}, "[\n  \"--\"\n]\n"},
	} {
		stdout, stderr, code := rpcdCall(t, append([]string{"call"}, tt.args...)...)
		if code != 0 || stdout != tt.stdout {
			t.Errorf("rpcd call %q: stdout %q, stderr %q, exit %d; want %q", tt.args, stdout, stderr, code, tt.stdout)
		}
	}

	// rpcd list takes no argument after its URL either.
	if _, stderr, code := rpcdCall(t, "list", r.url, "-v"); code != 2 || !strings.Contains(stderr, "flag -v after the URL") {
		t.Errorf("rpcd list URL -v: exit %d, stderr %q", code, stderr)
	}
}

// TestCallParams checks that a param that looks like JSON is sent as JSON
// or refused, never sent as a string because it did not parse.
func TestCallParams(t *testing.T) {
	r := newRecorder(t)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, tt := range []struct {
		param  string
		stderr string
	}{
		{deep, "exceeded max depth"},
		{"1e400", "number 1e400 out of the range of a 64-bit float"},
		{"-1e400", "out of the range of a 64-bit float"},
		{"18446744073709551616", "integer 18446744073709551616 out of range"},
		{"-9223372036854775809", "integer -9223372036854775809 out of range"},
		{`[1, 99999999999999999999999]`, "integer 99999999999999999999999 out of range"},
		{`{"a": 1e999}`, "out of the range of a 64-bit float"},
		{"[1,2", "not valid JSON (unexpected EOF)"},
		{`{"a":}`, "not valid JSON (invalid character '}'"},
		{`"unterminated`, "not valid JSON"},
		{"[1] [2]", "more than one value"},
	} {
		stdout, stderr, code := rpcdCall(t, "call", r.url, "echo.params", "1", tt.param)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "param 2 ") || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("rpcd call … %s: stdout %q, stderr %q, exit %d; want exit 2 with %q", abbrev(tt.param), stdout, stderr, code, tt.stderr)
		}
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("%d calls sent; want none", n)
	}
	if _, stderr, code := rpcdCall(t, "call", "-named", `{"a":1e400}`, r.url, "echo.params"); code != 2 || !strings.Contains(stderr, "-named: number 1e400") {
		t.Errorf("rpcd call -named with 1e400: exit %d, stderr %q", code, stderr)
	}

	// What is not JSON-looking is a string, as typed.
	stdout, stderr, code := rpcdCall(t, "call", r.url, "echo.params",
		"18446744073709551615", "-9223372036854775808", "1e308", "word", "two words", "127.0.0.1", "2024-01-01", "01", "", "True")
	want := `[18446744073709551615,-9223372036854775808,1e+308,"word","two words","127.0.0.1","2024-01-01","01","","True"]`
	if got := strings.Join(strings.Fields(stdout), ""); code != 0 || got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("rpcd call: exit %d, stderr %q\n%s\nwant %s", code, stderr, stdout, want)
	}
}

// TestCallURLErrors checks the errors of URLs that name no server rpcd can
// reach, given before anything is dialled.
func TestCallURLErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, stderr string }{
		{"127.0.0.1:8000", `URL "127.0.0.1:8000" needs a scheme: http://127.0.0.1:8000/ for HTTP, tcp://127.0.0.1:8000 for TCP`},
		{"localhost:8000", `URL "localhost:8000" needs a scheme`},
		{"example.com", `URL "example.com" needs a scheme`},
		{"tcp:127.0.0.1:9000", `lacks the // after its scheme: tcp://127.0.0.1:9000`},
		{"tcp://127.0.0.1:9000/RPC2", `has a path`},
		{"tcp://127.0.0.1", `tcp URL needs host:port`},
		{"unix://tmp/x", `unix URL "unix://tmp/x" has a host part ("tmp"): write unix:///tmp/x for an absolute path, or unix:tmp/x for one relative`},
		{"unix://", `unix URL needs a path`},
		{"http:///x", `http URL needs a host`},
		{"ftp://x", `unsupported URL scheme "ftp"`},
	} {
		_, stderr, code := rpcdCall(t, "call", tt.url, "demo.add", "1", "2")
		if code != 2 || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("rpcd call %s: exit %d, stderr %q; want exit 2 with %q", tt.url, code, stderr, tt.stderr)
		}
	}
}

// TestCallUnixSocket calls a server on a Unix socket by an absolute and a
// relative path.
func TestCallUnixSocket(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Skipf("no Unix sockets: %v", err)
	}
	r := newRecorder(t)
	serveStream(t, r.s, ln)
	t.Chdir(dir)
	for _, u := range []string{"unix://" + filepath.Join(dir, "s.sock"), "unix:s.sock", "unix:./s.sock"} {
		if stdout, stderr, code := rpcdCall(t, "call", u, "echo.params", "1"); code != 0 || stdout != "[\n  1\n]\n" {
			t.Errorf("rpcd call %s: stdout %q, stderr %q, exit %d", u, stdout, stderr, code)
		}
	}
}

// TestCallTimeout checks that a call that got no reply in time is blamed on
// -timeout, over every codec and transport, and that one cut short by
// rpcd's end (Ctrl-C) says so.
func TestCallTimeout(t *testing.T) {
	addr, _, _, logs := startRPCD(t)
	for _, u := range []string{"http://" + addr + "/", "tcp://" + tcpAddr(t, logs)} {
		for _, codec := range []string{"json", "xml", "msgpack", "proto"} {
			_, stderr, code := rpcdCall(t, "call", "-codec", codec, "-timeout", "50ms", u, "demo.sleep", "60000")
			if want := "rpcd: no reply within 50ms (-timeout)"; code != 2 || !strings.Contains(stderr, want) {
				t.Errorf("%s %s: exit %d, stderr %q; want %q", codec, u, code, stderr, want)
			}
		}
	}

	s := newRPCServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Register("block", func(callCtx context.Context) error {
		cancel() // as Ctrl-C would, while the call runs
		<-callCtx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"call", serveHTTP(t, s), "block"}, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 2 || ee.msg != "rpcd: interrupted" {
		t.Errorf("interrupted call: %v (stdout %q, stderr %q); want exit 2, rpcd: interrupted", err, stdout.String(), stderr.String())
	}
}

// TestCallFaultData checks that a fault prints its data, as JSON, after
// its code and message.
func TestCallFaultData(t *testing.T) {
	addr, _, _, logs := startRPCD(t)
	for _, u := range []string{"http://" + addr + "/", "tcp://" + tcpAddr(t, logs)} {
		for _, codec := range []string{"json", "msgpack", "proto"} { // XML-RPC faults carry no data
			_, stderr, code := rpcdCall(t, "call", "-codec", codec, u, "demo.fail", "7", "boom", `{"field":"x","why":[1,2]}`)
			want := "fault 7: boom\n{\n  \"field\": \"x\",\n  \"why\": [\n    1,\n    2\n  ]\n}"
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("%s %s: exit %d, stderr %q; want %q", codec, u, code, stderr, want)
			}
			// No data, no more than the line.
			if _, stderr, code := rpcdCall(t, "call", "-codec", codec, u, "demo.fail", "7", "boom"); code != 1 || stderr != "fault 7: boom" {
				t.Errorf("%s %s without data: exit %d, stderr %q", codec, u, code, stderr)
			}
		}
	}
}

// evil is a string a hostile server sends to take over a terminal: it sets
// the window title (OSC), clears the screen (CSI, and C1's one-byte CSI),
// deletes, and reverses the text that follows (bidi override).
const evil = "\x1b]0;PWNED\x07\x1b[2J\u009b31m\x7f\u202eevil\u2066\x00"

// evilEscaped is evil as rpcd must print it in text it writes itself.
const evilEscaped = `\u001b]0;PWNED\u0007\u001b[2J\u009b31m\u007f\u202eevil\u2066\u0000`

// TestServerStringsEscaped checks that rpcd call and rpcd list print no
// character that a terminal acts on from what the server sent: fault
// messages and data, results, method names, signatures and help texts.
func TestServerStringsEscaped(t *testing.T) {
	s := newRPCServer(t)
	if err := introspect.Register(s); err != nil {
		t.Fatal(err)
	}
	err := s.Register("fault", func() error {
		return &rpc.Error{Code: 7, Message: evil + "\r\nforged line", Data: map[string]any{evil: evil}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("result", func() (any, error) { return []any{evil, map[string]any{evil: 1}}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("name"+evil, func(a int) (int, error) { return a, nil }, rpc.WithHelp("help"+evil+"\nline 2"+evil), rpc.WithParamNames("p"+evil)); err != nil {
		t.Fatal(err)
	}
	u := serveHTTP(t, s)
	check := func(what, out string) {
		t.Helper()
		for _, c := range out {
			if (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f) || bidiControl(c) {
				t.Errorf("%s prints %U:\n%q", what, c, out)
				return
			}
		}
	}

	for _, codec := range []string{"json", "msgpack", "proto", "xml"} {
		// XML 1.0 cannot carry most C0 controls: the server replaces them
		// in a fault and fails a result; what remains must be escaped.
		xml := codec == "xml"
		_, stderr, code := rpcdCall(t, "call", "-codec", codec, u, "fault")
		check("a fault in "+codec, stderr)
		if code != 1 || (!xml && !strings.HasPrefix(stderr, "fault 7: "+evilEscaped+`\u000d\u000aforged line`)) {
			t.Errorf("fault in %s: exit %d, stderr %q", codec, code, stderr)
		}
		stdout, stderr, code := rpcdCall(t, "call", "-codec", codec, u, "result")
		check("a result in "+codec, stdout)
		check("a result's error in "+codec, stderr)
		if !xml && (code != 0 || !strings.Contains(stdout, `"`+evilEscaped+`"`)) {
			t.Errorf("result in %s: exit %d, stdout %q, stderr %q", codec, code, stdout, stderr)
		}
	}
	for _, args := range [][]string{{"list", u}, {"list", "-v", u}} {
		stdout, stderr, code := rpcdCall(t, args...)
		check(strings.Join(args[:len(args)-1], " "), stdout)
		if code != 0 || !strings.Contains(stdout, "name"+evilEscaped) {
			t.Errorf("%q: exit %d, stderr %q\n%s", args, code, stderr, stdout)
		}
		if len(args) == 3 && !strings.Contains(stdout, "\n    help"+evilEscaped+"\n    line 2"+evilEscaped+"\n") {
			t.Errorf("rpcd list -v: help not shown escaped:\n%s", stdout)
		}
	}
}
