package msgpack_test

import (
	"bytes"
	"encoding/hex"
	"io"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/tcprpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// systemPython is the interpreter whose packages include Debian's
// python3-msgpack; a pyenv python3 on PATH does not see them.
const systemPython = "/usr/bin/python3"

// skipWithoutPython skips the test when the system python3 or its msgpack
// package is missing.
func skipWithoutPython(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(systemPython, "-c", "import msgpack").CombinedOutput(); err != nil {
		t.Skipf("no msgpack package for %s (apt-get install python3-msgpack): %v %s", systemPython, err, out)
	}
}

// python runs testdata/interop.py with the system python3 and its msgpack
// package, skipping the test when either is missing.
func python(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	skipWithoutPython(t)
	cmd := exec.Command(systemPython, append([]string{filepath.Join("testdata", "interop.py")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("interop.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestPythonInterop serves requests that Python's msgpack packed, checks
// what the codec decodes from them, and has Python check the replies and a
// call that the codec packed: exact big integers, str apart from bin,
// timestamps, and errors.
func TestPythonInterop(t *testing.T) {
	t.Parallel()
	lines := strings.Fields(python(t, "", "requests"))
	if len(lines) != 7 {
		t.Fatalf("%d requests from Python, want 7", len(lines))
	}
	s, c, n := newServer(t)

	// What Go reads from Python's echo request.
	first, err := hex.DecodeString(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	var req wire.Request
	if err := c.DecodeRequest(first, &req); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := req.Params.DecodeAt(0, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"int64_max":  int64(math.MaxInt64),
		"int64_min":  int64(math.MinInt64),
		"uint64_max": uint64(math.MaxUint64),
		"big53":      int64(1<<53 + 1),
		"str":        "h\u00e9llo \U0001F600",
		"bin":        []byte{0, 0xc1, 0xff},
		"empty_str":  "",
		"empty_bin":  []byte{},
		"float":      0.1,
		"nil":        nil,
		"true":       true,
		"nested":     []any{int64(1), []any{int64(2), []any{int64(3), map[string]any{"k": []any{}}}}},
		"empty_map":  map[string]any{},
		"ts32":       time.Unix(1700000000, 0).UTC(),
		"ts64":       time.Unix(1700000000, 123456789).UTC(),
		"ts96":       time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s: got %#v, want %#v", k, got[k], want[k])
			}
		}
	}

	// The replies, and a call, for Python to check.
	var replies []string
	for _, line := range lines {
		msg, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, hex.EncodeToString(serve(s, c, msg)))
	}
	call, err := c.AppendCall(nil, &wire.Call{Method: "m\u00e9thod", ID: wire.ID{Seq: math.MaxUint64}, Args: []any{
		uint64(math.MaxUint64), int64(math.MinInt64), "s", []byte("b"), []any{}, map[string]any{}, nil, 1.5,
		time.Unix(1700000000, 5), Point{X: 1, Y: -2, Label: "p"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	replies = append(replies, hex.EncodeToString(call))
	if out := python(t, strings.Join(replies, "\n"), "check"); strings.TrimSpace(out) != "ok" {
		t.Errorf("Python: %s", out)
	}
	if got := n.list(); len(got) != 1 || got[0] != "update" {
		t.Errorf("notifications %q, want Python's update", got)
	}
}

// TestPythonStream has Python's msgpack act as a stock msgpack-rpc client
// on a stream: it writes its requests back to back, unframed, to the stream
// transport (over an in-memory connection, its stdin and stdout), and reads
// the replies with an Unpacker.
func TestPythonStream(t *testing.T) {
	t.Parallel()
	skipWithoutPython(t)
	s, _, _ := newServer(t)
	srv, err := tcprpc.NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	go srv.ServeConn(server)
	defer client.Close()
	client.SetDeadline(time.Now().Add(20 * time.Second))

	cmd := exec.Command(systemPython, filepath.Join("testdata", "interop.py"), "stream")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		io.Copy(stdin, client) // replies to Python, until client closes
		stdin.Close()
	}()
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(client, stdout) // requests from Python, until it exits
		copied <- err
	}()
	if err := <-copied; err != nil {
		t.Errorf("copying requests: %v", err)
	}
	if err := cmd.Wait(); err != nil || strings.TrimSpace(stderr.String()) != "ok" {
		t.Errorf("Python: %v\n%s", err, stderr.String())
	}
}
