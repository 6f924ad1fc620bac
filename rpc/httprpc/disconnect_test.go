package httprpc_test

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestClientGivesUpCancelsCall: a call whose client gives up (its context
// ends, and the transport drops the connection) ends on the server too:
// the method's context is canceled, instead of the method running on for a
// reply nobody reads.
func TestClientGivesUpCancelsCall(t *testing.T) {
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	s := newRPCServer(t, map[string]any{"slow": func(ctx context.Context) error {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(20 * time.Second):
			ended <- errors.New("the context did not end")
		}
		return ctx.Err()
	}})
	url := serve(t, newHandler(t, s))
	c := newClient(t, url, lineCodec{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "slow", nil) }()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("the call: %v, want context.Canceled", err)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the method's context: %v, want context.Canceled", err)
	}
}
