package python_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// systemPythonPath is the interpreter of Debian's python3-msgpack and
// python3-protobuf packages. pyenv's python3 (package pytest) has neither.
const systemPythonPath = "/usr/bin/python3"

// scriptTimeout only keeps a hung script from hanging the test; nothing is
// measured against it.
const scriptTimeout = 5 * time.Minute

// sysPython is the system interpreter.
type sysPython struct {
	version      string // "3.11.2"
	major, minor int
}

// legacyAuth reports whether the interpreter's multiprocessing.connection
// speaks only the legacy HMAC-MD5 handshake (Python 3.11 and older).
func (p sysPython) legacyAuth() bool { return p.major == 3 && p.minor < 12 }

// systemPython returns the system interpreter, or skips t with a message
// naming what is missing: the interpreter or one of modules (with the
// Debian package that provides it).
func systemPython(t *testing.T, modules map[string]string) sysPython {
	t.Helper()
	if _, err := os.Stat(systemPythonPath); err != nil {
		t.Skipf("%s is not installed (%v): skipping the interop test", systemPythonPath, err)
	}
	out, err := exec.Command(systemPythonPath, "-c",
		"import platform; print(platform.python_version())").Output()
	if err != nil {
		t.Skipf("%s does not run (%v): skipping the interop test", systemPythonPath, err)
	}
	p := sysPython{version: strings.TrimSpace(string(out))}
	parts := strings.Split(p.version, ".")
	if len(parts) < 2 {
		t.Fatalf("%s reports version %q", systemPythonPath, p.version)
	}
	p.major, _ = strconv.Atoi(parts[0])
	p.minor, _ = strconv.Atoi(parts[1])
	for mod, pkg := range modules {
		if out, err := exec.Command(systemPythonPath, "-c", "import "+mod).CombinedOutput(); err != nil {
			t.Skipf("%s cannot import %s (install %s): skipping the interop test\n%s",
				systemPythonPath, mod, pkg, out)
		}
	}
	return p
}

// run runs the script at path (relative to the test's directory) with args
// and extra environment variables, and returns its standard output; it fails
// t, showing standard error, when the script fails.
func (p sysPython) run(t *testing.T, env []string, path string, args ...string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPythonPath, append([]string{abs}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("python %s %s %s: %v\nstdout:\n%s\nstderr:\n%s",
			p.version, path, strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String()
}

// demoServer returns an rpc.Server with the demo methods, serving every
// codec the test binary imports.
func demoServer(t *testing.T) *rpc.Server {
	t.Helper()
	s := must(rpc.NewServer())
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// serveDemoHTTP serves the demo methods over HTTP on loopback and returns
// the URL.
func serveDemoHTTP(t *testing.T) string {
	t.Helper()
	return serveHTTP(t, must(httprpc.NewHandler(demoServer(t)))) + "/"
}

// serveHTTP serves h on loopback with httprpc.Server, as rpcd does, and
// returns the base URL.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := must(httprpc.NewServer(h))
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// serveDemoTCP serves the demo methods over TCP on loopback, with opts, and
// returns the address.
func serveDemoTCP(t *testing.T, opts ...tcprpc.Option) string {
	t.Helper()
	srv := must(tcprpc.NewServer(demoServer(t), opts...))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// newKeyFile writes a key file into a temporary directory and returns its
// path and the handshake of a server holding that key; allowMD5 admits the
// legacy handshake of Python 3.11 and older.
func newKeyFile(t *testing.T, allowMD5 bool) (string, tcprpc.Option) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rpc.key")
	if err := os.WriteFile(path, []byte("interop secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	return path, tcprpc.WithHandshake(must(auth.NewServer(keys, auth.WithAllowMD5(allowMD5))).Handshake)
}

// checkLines fails t unless out is exactly the lines of want.
func checkLines(t *testing.T, script, out string, want []string) {
	t.Helper()
	if w := strings.Join(want, "\n") + "\n"; out != w {
		t.Errorf("%s printed:\n%s\nwant:\n%s", script, out, w)
	}
}
