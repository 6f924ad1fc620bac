package cluster_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// tcpDial reaches tcp:// endpoints with tcprpc, as a program would.
func tcpDial(ctx context.Context, u string) (*rpc.Client, error) {
	addr, ok := strings.CutPrefix(u, "tcp://")
	if !ok {
		return nil, fmt.Errorf("not a tcp:// URL: %q", u)
	}
	return tcprpc.NewClient(addr, codec)
}

// startTCP serves a server answering svc.who with i on a new port.
func startTCP(t *testing.T, i int, runs *atomic.Int64) (*tcprpc.Server, string) {
	t.Helper()
	s, err := rpc.NewServer(rpc.WithCodecs(codec))
	must(t, err)
	must(t, s.Register("svc.who", func() (int, error) { runs.Add(1); return i, nil }, rpc.Idempotent()))
	srv, err := tcprpc.NewServer(s)
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, "tcp://" + ln.Addr().String()
}

// Three tcprpc servers: the calls reach all; one closed under load costs
// no idempotent call, and is ejected.
func TestTCPFailover(t *testing.T) {
	t.Parallel()
	var runs [3]atomic.Int64
	srvs := make([]*tcprpc.Server, 3)
	urls := make([]string, 3)
	for i := range srvs {
		srvs[i], urls[i] = startTCP(t, i, &runs[i])
	}
	c := newClient(t, cluster.Static(urls...), tcpDial, fast, cluster.WithIdempotent("svc.who"))
	got := whoCounts(t, c, 3, 90)
	for i, n := range got {
		if n == 0 {
			t.Fatalf("endpoint %d got no call: %v", i, got)
		}
	}

	var wg sync.WaitGroup
	var failed atomic.Int64
	start := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			<-start
			for range 200 {
				if err := c.Call(context.Background(), "svc.who", nil); err != nil {
					failed.Add(1)
					t.Errorf("svc.who: %v", err)
				}
			}
		})
	}
	close(start)
	srvs[1].Close()
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d idempotent calls failed", failed.Load())
	}
	whoCounts(t, c, 3, 30)
	eps := c.Endpoints()
	if !eps[1].Ejected || eps[0].Ejected || eps[2].Ejected {
		t.Errorf("endpoints = %+v, want the closed one ejected alone", eps)
	}
}
