package python_test

import (
	"testing"

	_ "github.com/polyrpc/polyrpc/codec/msgpack"
)

var msgpackModules = map[string]string{"msgpack": "python3-msgpack"}

// TestMsgpackClientExample runs msgpack_client.py against the demo methods
// over HTTP (application/msgpack) and over authenticated TCP frames, and
// checks every line it prints (the script also asserts each value itself).
func TestMsgpackClientExample(t *testing.T) {
	t.Parallel()
	py := systemPython(t, msgpackModules)
	keyFile, handshake := newKeyFile(t, py.legacyAuth())
	want := []string{
		"examples.getStateName(41) = South Dakota",
		"demo.echo(2**63 - 1) = 9223372036854775807 (int)",
		"demo.echo(-2**63) = -9223372036854775808 (int)",
		"demo.echo(2**64 - 1) = 18446744073709551615 (int)",
		"demo.add(2**62, 2**62 - 1) = 9223372036854775807",
		"demo.echo('héllo') = 'héllo' (str)",
		`demo.echo(b'\x00\xffbin') = b'\x00\xffbin' (bytes)`,
		"demo.echo(['a', b'a']) = ['a', b'a'] (list)",
		"demo.echo(Timestamp(1700000000, 123456789)) = Timestamp(seconds=1700000000, nanoseconds=123456789) (Timestamp)",
		"demo.echo({'list': [1, None, True, 1.5], 'map': {'k': 'v'}}) = {'list': [1, None, True, 1.5], 'map': {'k': 'v'}} (dict)",
		"demo.divide(1, 0) failed: fault 1001: division by zero",
		"demo.fail(4000, 'custom', data) failed: fault 4000: custom, data {'why': [1, 'two']}",
		"no.such.method failed with code -32601",
		"subtract(42, 23) after a notification = 19",
		"ok",
	}
	for _, mode := range []string{"http", "tcp"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var addr string
			if mode == "http" {
				addr = serveDemoHTTP(t)
			} else {
				addr = serveDemoTCP(t, handshake)
			}
			out := py.run(t, nil, "msgpack_client.py", mode, addr, keyFile)
			checkLines(t, "msgpack_client.py "+mode, out, want)
		})
	}
}

// TestMsgpackStreamClient runs msgpack_stream_client.py, a stock
// msgpack-rpc style client writing unframed msgpack objects on a plain TCP
// connection, against a TCP server without a handshake, which answers in
// kind.
func TestMsgpackStreamClient(t *testing.T) {
	t.Parallel()
	py := systemPython(t, msgpackModules)
	addr := serveDemoTCP(t)
	out := py.run(t, nil, "msgpack_stream_client.py", addr)
	checkLines(t, "msgpack_stream_client.py", out, []string{
		"examples.getStateName(41) = 'South Dakota'",
		"demo.add(4611686018427387904, 4611686018427387903) = 9223372036854775807",
		"demo.echo([18446744073709551615, 'str', b'bin', Timestamp(seconds=1, nanoseconds=2)]) = [18446744073709551615, 'str', b'bin', Timestamp(seconds=1, nanoseconds=2)]",
		"demo.divide(1, 0) failed: fault 1001: division by zero",
		"subtract(42, 23) = 19",
	})
}
