// Package python holds the Python standard-library client examples; this
// test runs them against polyrpc servers with every installed Python.
package python_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	_ "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// startTCP serves the demo methods over authenticated TCP.
func startTCP(t *testing.T, key auth.Key, allowMD5 bool) (host, port string) {
	t.Helper()
	s := must(rpc.NewServer())
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	srv := must(tcprpc.NewServer(s, tcprpc.WithHandshake(must(auth.NewServer(keys, auth.WithAllowMD5(allowMD5))).Handshake)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port
}

func TestTCPClientExample(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "rpc.key")
	if err := os.WriteFile(keyFile, []byte("example secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			legacy := py.Minor() == "3.11"
			host, port := startTCP(t, key, legacy)
			out := py.RunFile(t, time.Minute, "tcp_client.py", host, port, keyFile)
			for _, want := range []string{
				"examples.getStateName(41) = South Dakota",
				"demo.add(2**62, 2**62 - 1) = 9223372036854775807",
				"subtract(42, 23) = 19",
				"demo.divide(1, 0) failed: fault 1001: division by zero",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// must returns v, or panics with err: for constructors whose options are
// known to be valid, as template.Must does.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
