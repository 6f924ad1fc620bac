package interop_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// pyCancel is a stock client, Python's multiprocessing.connection without
// an authkey: it calls a slow method, cancels it with the notification
// $/cancelRequest (the Language Server Protocol's), and reads the reply,
// -32002; then it sends a deadline in the call's metadata and reads
// -32001, and checks that the connection still serves.
const pyCancel = `
import json, sys
from multiprocessing.connection import Client

host, port = sys.argv[1], int(sys.argv[2])
with Client((host, port)) as c:
    def send(msg):
        c.send_bytes(json.dumps(msg).encode())
    def recv():
        return json.loads(c.recv_bytes())

    send({"jsonrpc": "2.0", "method": "slow", "params": ["py-cancel"], "id": 1})
    # A cancel for a call that is not there does nothing.
    send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 99}})
    send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}})
    r = recv()
    assert r["id"] == 1 and r["error"]["code"] == -32002, r

    send({"jsonrpc": "2.0", "method": "slow", "params": ["py-deadline"], "id": "d",
          "meta": {"polyrpc-timeout-ms": "100"}})
    r = recv()
    assert r["id"] == "d" and r["error"]["code"] == -32001, r

    send({"jsonrpc": "2.0", "method": "echo", "params": ["still here"], "id": 2})
    r = recv()
    assert r == {"jsonrpc": "2.0", "result": "still here", "id": 2}, r
print("ok")
`

// TestPythonCancelRequest: a Python client cancels its call in flight with
// $/cancelRequest over a TCP connection; the handler's context ends and
// the call is answered -32002. A deadline sent in the call's metadata
// ends it with -32001.
func TestPythonCancelRequest(t *testing.T) {
	t.Parallel()
	pys := pytest.All(t)
	s := must(rpc.NewServer())
	var cancelled, deadlined atomic.Int32
	if err := s.Register("slow", func(ctx context.Context, tag string) (string, error) {
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			return "", errors.New("not cancelled within 30s")
		}
		_, hasDeadline := ctx.Deadline()
		switch {
		case strings.HasPrefix(tag, "py-cancel") && errors.Is(ctx.Err(), context.Canceled) && !hasDeadline:
			cancelled.Add(1)
		case strings.HasPrefix(tag, "py-deadline") && errors.Is(ctx.Err(), context.DeadlineExceeded) && hasDeadline:
			deadlined.Add(1)
		}
		return "", ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("echo", func(v any) (any, error) { return v, nil }); err != nil {
		t.Fatal(err)
	}
	srv := must(tcprpc.NewServer(s))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, py := range pys {
		t.Run(py.Version, func(t *testing.T) {
			before := cancelled.Load()
			if out := py.Run(t, time.Minute, pyCancel, host, port); strings.TrimSpace(out) != "ok" {
				t.Errorf("python %s: %q", py.Version, out)
			}
			if cancelled.Load() != before+1 {
				t.Errorf("python %s: the handler's context was not cancelled", py.Version)
			}
		})
	}
	if int(deadlined.Load()) != len(pys) {
		t.Errorf("%d handlers ended at the deadline Python sent, want %d", deadlined.Load(), len(pys))
	}
}
