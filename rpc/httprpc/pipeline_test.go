package httprpc_test

import (
	"context"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// TestPipelineRPC calls an rpc.Server through NewClient with WithPipelining
// from 64 goroutines.
func TestPipelineRPC(t *testing.T) {
	s := newRPCServer(t, map[string]any{"add": func(a, b int64) (int64, error) { return a + b, nil }})
	url := serve(t, newHandler(t, s))
	c := newClient(t, url+"/RPC2", lineCodec{}, httprpc.WithPipelining(16))
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 50 {
				var sum int64
				if err := c.Call(context.Background(), "add", &sum, int64(g), int64(i)); err != nil || sum != int64(g+i) {
					t.Errorf("add(%d, %d) = %d, %v", g, i, sum, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
