package tcprpc_test

import (
	"context"
	"net"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// TestCloseCancelsCallsInFlight: a peer that closes its connection (Python's
// multiprocessing.connection does, when its caller gives up) has its calls
// in flight cancelled: their handlers' contexts end, though nothing
// releases them, and the server goes on serving.
func TestCloseCancelsCallsInFlight(t *testing.T) {
	e := startFault(t)
	for _, how := range []string{"close", "reset"} {
		t.Run(how, func(t *testing.T) {
			nc, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			var msg []byte
			for id := range 3 {
				msg = frame.Append(msg, []byte(`{"jsonrpc":"2.0","method":"fault.hold","params":[7],"id":`+string(rune('1'+id))+`}`))
			}
			if _, err := nc.Write(msg); err != nil {
				t.Fatal(err)
			}
			if !waitFor(func() bool { return e.running.Load() == 3 }) {
				t.Fatalf("%d calls running, want 3", e.running.Load())
			}
			if how == "reset" {
				nc.(*net.TCPConn).SetLinger(0)
			}
			nc.Close()
			if !waitFor(func() bool { return e.running.Load() == 0 }) {
				t.Fatalf("%d calls still running after the peer left", e.running.Load())
			}
		})
	}
	c := newClient(t, e.addr, jsonCodec(t))
	var n int
	if err := c.Call(context.Background(), "demo.add", &n, 1, 2); err != nil || n != 3 {
		t.Errorf("after: demo.add = %d, %v", n, err)
	}
}
