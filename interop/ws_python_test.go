package interop_test

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/demo"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/wsrpc"
)

// pyWebSocket is a client of Debian's python3-websockets (10.x, asyncio):
// a JSON-RPC call with the jsonrpc subprotocol, then one without a
// subprotocol (sniffed) and a batch.
const pyWebSocket = `
import asyncio, json, sys
import websockets

async def main(url):
    async with websockets.connect(url, subprotocols=["jsonrpc"]) as ws:
        assert ws.subprotocol == "jsonrpc", ws.subprotocol
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subtract", "params": [42, 23]}))
        reply = await ws.recv()
        assert isinstance(reply, str), type(reply)
        r = json.loads(reply)
        assert r == {"jsonrpc": "2.0", "result": 19, "id": 1}, r
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps([
            {"jsonrpc": "2.0", "id": "a", "method": "sum", "params": [1, 2, 4]},
            {"jsonrpc": "2.0", "id": "b", "method": "subtract", "params": {"minuend": 5, "subtrahend": 7}},
        ]))
        rs = sorted(json.loads(await ws.recv()), key=lambda r: r["id"])
        assert [r["result"] for r in rs] == [7, -2], rs
    print("ok")

asyncio.run(main(sys.argv[1]))
`

// websocketsPython returns a python3 that imports websockets: Debian's
// /usr/bin/python3 (python3-websockets), or the one on PATH.
func websocketsPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import websockets").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with the websockets module (Debian: apt-get install python3-websockets): skipping the WebSocket interop test")
	return ""
}

func TestPythonWebSocketClient(t *testing.T) {
	py := websocketsPython(t)
	s := must(rpc.NewServer())
	if err := demo.Register(s); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", must(wsrpc.NewHandler(s)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := must(httprpc.NewServer(mux)) // polyrpc's own HTTP engine, as rpcd
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pyWebSocket, "ws://"+ln.Addr().String()+"/ws")
	cmd.Env = append(cmd.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python websockets client: %v\n%s", err, out)
	}
}
