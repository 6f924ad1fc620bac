package deploy

import (
	"context"
	"fmt"
	"testing"

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
	// demo.sleep of a few ms: calls are in flight when the replica is
	// told to stop.
	l := startLoad(t, 8, func(g, i int) error {
		var ms int64
		if err := c.Call(ctx, "demo.sleep", &ms, (g+i)%5); err != nil || ms != int64((g+i)%5) {
			return fmt.Errorf("demo.sleep(%d) = %d, %v", (g+i)%5, ms, err)
		}
		return nil
	})
	l.wait(300)
	before := replicas[1].calls("demo.sleep")
	replicas[1].stop() // SIGTERM, and wait until it exited
	l.wait(600)
	l.end(fmt.Sprintf("replica 2 served %d calls before SIGTERM, %d in all", before, replicas[1].calls("demo.sleep")))
	if replicas[0].calls("demo.sleep") == 0 || replicas[2].calls("demo.sleep") == 0 {
		t.Error("the other replicas served nothing")
	}
}
