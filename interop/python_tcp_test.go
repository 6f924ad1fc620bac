package interop_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

var tcpKey = auth.Key{ID: "interop", Secret: []byte("interop secret")}

// startAuthTCP serves the demo methods over TCP with the handshake.
func startAuthTCP(t *testing.T, allowMD5 bool) (host, port string) {
	t.Helper()
	s := must(rpc.NewServer())
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(tcpKey)
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

// pyFrames is a multiprocessing.connection client: it authenticates, then
// sends JSON-RPC frames from many threads, each with its own connection.
const pyFrames = `
import json, sys, threading
from multiprocessing.connection import Client
from multiprocessing import AuthenticationError

host, port, key, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]

if mode == "wrong-key" or mode == "legacy-refused":
    try:
        Client((host, port), authkey=key)
    except AuthenticationError as e:
        print("refused:", e)
    else:
        print("accepted")
    sys.exit(0)

def call(c, method, params, id):
    c.send_bytes(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": id}).encode())
    return json.loads(c.recv_bytes())

errors = []
def worker(n):
    try:
        with Client((host, port), authkey=key) as c:
            for i in range(25):
                r = call(c, "demo.add", [n, i], i)
                assert r == {"jsonrpc": "2.0", "result": n + i, "id": i}, r
            r = call(c, "demo.echo", [{"big": 2**63 - 1, "s": "\u00fc"}], "x")
            assert r["result"] == {"big": 2**63 - 1, "s": "\u00fc"}, r
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
print("ok")
`

func TestPythonMultiprocessingClients(t *testing.T) {
	t.Parallel()
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			legacy := py.Minor() == "3.11"
			host, port := startAuthTCP(t, legacy)
			if out := py.Run(t, 2*time.Minute, pyFrames, host, port, string(tcpKey.Secret), "calls"); strings.TrimSpace(out) != "ok" {
				t.Errorf("16 concurrent clients: %q", out)
			}
			if out := py.Run(t, time.Minute, pyFrames, host, port, "not the key", "wrong-key"); !strings.HasPrefix(out, "refused:") {
				t.Errorf("wrong key: %q", out)
			}
			if legacy {
				strictHost, strictPort := startAuthTCP(t, false)
				if out := py.Run(t, time.Minute, pyFrames, strictHost, strictPort, string(tcpKey.Secret), "legacy-refused"); !strings.HasPrefix(out, "refused:") {
					t.Errorf("legacy handshake without MD5 allowed: %q", out)
				}
			}
		})
	}
}

// pyListener is a multiprocessing.connection Listener answering JSON-RPC
// frames: demo.add, and a fault for anything else.
const pyListener = `
import json, sys
from multiprocessing.connection import Listener
with Listener(("127.0.0.1", 0), authkey=sys.argv[1].encode()) as l:
    print(l.address[1], flush=True)
    for _ in range(int(sys.argv[2])):
        try:
            c = l.accept()
        except Exception as e:
            print("refused", e, flush=True)
            continue
        with c:
            while True:
                try:
                    req = json.loads(c.recv_bytes())
                except EOFError:
                    break
                if req["method"] == "demo.add":
                    reply = {"jsonrpc": "2.0", "result": sum(req["params"]), "id": req["id"]}
                else:
                    reply = {"jsonrpc": "2.0", "error": {"code": -32601, "message": "no " + req["method"]}, "id": req["id"]}
                c.send_bytes(json.dumps(reply).encode())
`

func TestGoClientToPythonListener(t *testing.T) {
	t.Parallel()
	codec := jsonCodec(t)
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			legacy := py.Minor() == "3.11"
			addr := "127.0.0.1:" + py.Start(t, pyListener, string(tcpKey.Secret), "3")
			client := func(allowMD5 bool, key auth.Key) *rpc.Client {
				ac, err := auth.NewClient(key, auth.WithAllowMD5(allowMD5))
				if err != nil {
					t.Fatal(err)
				}
				c := must(tcprpc.NewClient(addr, codec, tcprpc.WithClientHandshake(ac.Handshake)))
				t.Cleanup(func() { c.Close() })
				return c
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := client(legacy, tcpKey)
			var n int64
			if err := c.Call(ctx, "demo.add", &n, int64(1)<<62, 5); err != nil || n != 1<<62+5 {
				t.Errorf("demo.add through Python = %d, %v", n, err)
			}
			if err := c.Call(ctx, "nope", nil); !errors.Is(err, rpc.ErrMethodNotFound) {
				t.Errorf("Python's fault: %v", err)
			}
			c.Close()
			if legacy {
				// Without MD5 the Go client refuses the legacy server.
				if err := client(false, tcpKey).Call(ctx, "demo.add", nil, 1, 2); err == nil {
					t.Error("legacy listener accepted without -auth-allow-md5")
				}
			} else {
				if err := client(false, auth.Key{ID: "x", Secret: []byte("wrong")}).Call(ctx, "demo.add", nil, 1, 2); err == nil {
					t.Error("wrong key accepted")
				}
			}
		})
	}
}
