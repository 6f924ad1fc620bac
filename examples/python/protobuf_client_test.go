package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/polyrpc/polyrpc/codec/proto"
)

// envelopeProto is the envelope schema that codec/proto ships.
const envelopeProto = "../../codec/proto/polyrpc.proto"

// generatePythonProto runs protoc on the shipped schema into a temporary
// directory and returns it, for PYTHONPATH; it skips t where protoc or the
// well-known types it imports are missing.
func generatePythonProto(t *testing.T) string {
	t.Helper()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed (install protobuf-compiler): skipping the protobuf interop test")
	}
	src, err := filepath.Abs(envelopeProto)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(protoc, "--python_out="+out, "-I", filepath.Dir(src), src)
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(b), "google/protobuf/any.proto") {
			t.Skipf("protoc cannot find google/protobuf/any.proto (install libprotobuf-dev): skipping the protobuf interop test\n%s", b)
		}
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	if _, err := os.Stat(filepath.Join(out, "polyrpc_pb2.py")); err != nil {
		t.Fatalf("protoc made no polyrpc_pb2.py: %v", err)
	}
	return out
}

// TestProtobufClientExample runs protobuf_client.py, with the Python code
// protoc generates from the shipped schema, against the demo methods over
// HTTP (application/x-protobuf) and over authenticated TCP frames, and
// checks every line it prints (the script also asserts each value itself).
func TestProtobufClientExample(t *testing.T) {
	t.Parallel()
	py := systemPython(t, map[string]string{"google.protobuf": "python3-protobuf"})
	gen := generatePythonProto(t)
	env := []string{"PYTHONPATH=" + gen}
	keyFile, handshake := newKeyFile(t, py.legacyAuth())
	want := []string{
		"examples.getStateName(41) = South Dakota",
		"demo.echo(2**63 - 1) = 9223372036854775807 (int_value)",
		"demo.echo(-2**63) = -9223372036854775808 (int_value)",
		"demo.echo(2**53 + 1) = 9007199254740993 (int_value)",
		"demo.echo(2**64 - 1) = 18446744073709551615 (uint_value)",
		"demo.add(2**62, 2**62 - 1) = 9223372036854775807",
		"demo.echo('héllo, 世界') = 'héllo, 世界' (string_value)",
		`demo.echo(b'\x00\xffbin') = b'\x00\xffbin' (bytes_value)`,
		"demo.echo('') = '' (string_value)",
		"demo.echo([]) = [] (list_value)",
		"demo.echo({}) = {} (map_value)",
		`demo.echo(nested list/map) = {'list': [1, 'two', None, True, 2.5, [b'\x01']], 'map': {'k': {'deep': [-1]}}} (map_value)`,
		"demo.echo(2024-02-29T23:59:58.123456+05:30) = seconds 1709231398, nanos 123456000, offset 19800",
		"demo.echo(int_list [-2**63, 0, 2**63 - 1]) = [-9223372036854775808, 0, 9223372036854775807]",
		"subtract(minuend=42, subtrahend=23) = 19",
		"demo.divide(1, 0) failed: fault 1001: division by zero",
		"demo.fail(4000, 'custom', data) failed: fault 4000: custom, data {'why': [1, 'two']}",
		"no.such.method failed with code -32601",
		"examples.getStateName(1) after a notification = Alabama",
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
			out := py.run(t, env, "protobuf_client.py", mode, addr, keyFile)
			checkLines(t, "protobuf_client.py "+mode, out, want)
		})
	}
}
