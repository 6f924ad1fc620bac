package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// rpcdCall runs rpcd with args and returns stdout, stderr and the exit
// status main would use.
func rpcdCall(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := 0
	if err != nil {
		// main exits 2 on an error that names no status.
		code = 2
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		stderr.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), code
}

func tcpAddr(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	for range 500 {
		if m := tcpAddrRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no TCP address logged:\n%s", logs.String())
	return ""
}

func TestCallAndList(t *testing.T) {
	addr, _, _, logs := startRPCD(t)
	urls := map[string]string{"http": "http://" + addr + "/", "tcp": "tcp://" + tcpAddr(t, logs)}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			tests := []struct {
				args   []string
				stdout string
				stderr string
				code   int
			}{
				{[]string{"call", u, "demo.add", "2", "3"}, "5\n", "", 0},
				{[]string{"call", u, "demo.echo", `{"a":[1,"x",null,9007199254740993]}`}, "{\n  \"a\": [\n    1,\n    \"x\",\n    null,\n    9007199254740993\n  ]\n}\n", "", 0},
				{[]string{"call", u, "examples.getStateName", "41"}, "\"South Dakota\"\n", "", 0},
				{[]string{"call", u, "demo.echo", "hello world"}, "\"hello world\"\n", "", 0},
				{[]string{"call", "-named", `{"minuend": 42, "subtrahend": 23}`, u, "subtract"}, "19\n", "", 0},
				{[]string{"call", u, "demo.divide", "1", "0"}, "", "fault 1001: division by zero", 1},
				{[]string{"call", u, "nope"}, "", "fault -32601: method not found: nope", 1},
				{[]string{"call", "-codec", "nope", u, "demo.add"}, "", "unknown codec", 2},
				{[]string{"call", u}, "", "usage: rpcd call", 2},
				{[]string{"call", "-named", "[1]", u, "demo.add"}, "", "-named wants a JSON object", 2},
			}
			for _, tt := range tests {
				stdout, stderr, code := rpcdCall(t, tt.args...)
				if stdout != tt.stdout || code != tt.code || !strings.Contains(stderr, tt.stderr) {
					t.Errorf("rpcd %q:\nstdout %q, stderr %q, exit %d\nwant   %q, stderr with %q, exit %d",
						tt.args, stdout, stderr, code, tt.stdout, tt.stderr, tt.code)
				}
			}
			out, _, code := rpcdCall(t, "list", u)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) < 20 || !slices.Contains(lines, "demo.add") || !slices.Contains(lines, "system.listMethods") {
				t.Errorf("rpcd list: exit %d\n%s", code, out)
			}
			out, _, code = rpcdCall(t, "list", "-v", u)
			for _, w := range []string{
				"demo.add(a int, b int) int\n    Returns a + b; an overflow is a fault.\n",
				"subtract(minuend any, subtrahend any) any\n",
				"demo.fail(code int, message string, data ...any)\n",
				"validator1.easyStructTest({moe int, larry int, curly int}) int\n",
				"validator1.arrayOfStructsTest([]Stooges) int\n",
				"validator1.manyTypesTest(int, bool, string, float, time, bytes) []any\n",
				"\ntype Stooges {curly int, larry int, moe int}\n",
			} {
				if code != 0 || !strings.Contains(out, w) {
					t.Errorf("rpcd list -v: exit %d, output lacks %q:\n%s", code, w, out)
				}
			}
		})
	}
}

func TestCallTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, u := range []string{"http://" + addr + "/", "tcp://" + addr, "ftp://x", "tcp://nohost", "unix://"} {
		_, stderr, code := rpcdCall(t, "call", "-timeout", "5s", u, "demo.add", "1", "2")
		if code != 2 || stderr == "" {
			t.Errorf("rpcd call %s: exit %d, stderr %q; want exit 2 with a message", u, code, stderr)
		}
	}
}

// TestCallEveryCodec calls rpcd with each codec over both transports.
func TestCallEveryCodec(t *testing.T) {
	addr, _, _, logs := startRPCD(t)
	tcp := tcpAddr(t, logs)
	for _, codec := range []string{"json", "xml", "msgpack", "proto"} {
		for _, u := range []string{"http://" + addr + "/RPC2", "tcp://" + tcp} {
			out, stderr, code := rpcdCall(t, "call", "-codec", codec, u, "demo.echo", `{"n":9223372036854775807,"s":"ü","l":[1,2]}`)
			want := "{\n  \"l\": [\n    1,\n    2\n  ],\n  \"n\": 9223372036854775807,\n  \"s\": \"ü\"\n}\n"
			if code != 0 || out != want {
				t.Errorf("%s %s: exit %d, %q %q", codec, u, code, out, stderr)
			}
			if _, stderr, code := rpcdCall(t, "call", "-codec", codec, u, "demo.divide", "1", "0"); code != 1 || !strings.Contains(stderr, "fault 1001: division by zero") {
				t.Errorf("%s %s fault: exit %d, %q", codec, u, code, stderr)
			}
		}
	}
}
