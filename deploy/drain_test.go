package deploy

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// TestDrainBehindHAProxy: a replica told to stop (SIGTERM) behind HAProxy
// says 503 on /readyz, keeps serving while HAProxy's check takes it out of
// the rotation (-drain-delay), finishes its calls and exits: a client that
// does not retry loses no call of any kind.
func TestDrainBehindHAProxy(t *testing.T) {
	var replicas []*replica
	for range 3 {
		replicas = append(replicas, startReplica(t, "127.0.0.1:0", "", "-drain-delay", "1s", "-log-level", "debug"))
	}
	listen := freeAddr(t)
	startHAProxy(t, listen, haproxyHTTP(listen, replicas))
	c, err := httprpc.NewClient("http://"+listen+"/RPC2", jsoncodec.New())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ms int64
				// demo.sleep of a few ms: calls are in flight when the
				// replica is told to stop.
				if err := c.Call(ctx, "demo.sleep", &ms, (g+i)%5); err != nil || ms != int64((g+i)%5) {
					if failed.Add(1) <= 3 {
						t.Errorf("a call failed while a replica drained: %d, %v", ms, err)
					}
				}
				done.Add(1)
			}
		})
	}
	for done.Load() < 300 {
		time.Sleep(10 * time.Millisecond)
	}
	before := replicas[1].calls("demo.sleep")
	replicas[1].stop() // SIGTERM, and wait until it exited
	at := done.Load()
	for done.Load() < at+600 {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls; replica 2 served %d before SIGTERM, %d in all; %d failed", done.Load(), before, replicas[1].calls("demo.sleep"), failed.Load())
	if replicas[0].calls("demo.sleep") == 0 || replicas[2].calls("demo.sleep") == 0 {
		t.Error("the other replicas served nothing")
	}
}
