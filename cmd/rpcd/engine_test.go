package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// TestHTTPEngines: rpcd serves the same calls on either -http-engine, over
// HTTP/1.1 from the Go client, over HTTP/2 with prior knowledge from the
// Go client and from curl, and gzips a large reply that curl asks for.
func TestHTTPEngines(t *testing.T) {
	for _, engine := range []string{"polyrpc", "net/http"} {
		t.Run(strings.ReplaceAll(engine, "/", "-"), func(t *testing.T) {
			addr, stop, done, _ := startRPCD(t, "-http-engine", engine)
			url := "http://" + addr + "/RPC2"
			for _, opts := range [][]httprpc.Option{nil, {httprpc.WithHTTP2()}} {
				c, err := httprpc.NewClient(url, jsonCodec(t), opts...)
				if err != nil {
					t.Fatal(err)
				}
				var n int64
				if err := c.Call(context.Background(), "demo.add", &n, 40, 2); err != nil || n != 42 {
					t.Errorf("demo.add (%d options) = %d, %v", len(opts), n, err)
				}
				c.Close()
			}
			curl, err := exec.LookPath("curl")
			if err != nil {
				t.Log("curl is not installed: its part is skipped")
			} else {
				out, err := exec.Command(curl, "-sS", "--max-time", "10", "--http2-prior-knowledge",
					"-H", "Content-Type: application/json", "-w", " %{http_version}",
					"--data-binary", `{"jsonrpc":"2.0","id":1,"method":"demo.add","params":[2,3]}`, url).CombinedOutput()
				if err != nil || string(out) != `{"jsonrpc":"2.0","result":5,"id":1} 2` {
					t.Errorf("curl --http2-prior-knowledge: %q, %v", out, err)
				}
				big := strings.Repeat("x", 20000)
				out, err = exec.Command(curl, "-sS", "--max-time", "10", "--compressed",
					"-H", "Content-Type: application/json", "-D", "-",
					"--data-binary", `{"jsonrpc":"2.0","id":1,"method":"demo.echo","params":["`+big+`"]}`, url).CombinedOutput()
				if err != nil || !strings.Contains(strings.ToLower(string(out)), "content-encoding: gzip") || !strings.Contains(string(out), big) {
					t.Errorf("curl --compressed of a 20 kB reply: gzip not used or reply wrong (%v):\n%.400s", err, out)
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
}
