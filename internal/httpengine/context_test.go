package httpengine

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// TestReqContextDerivedWithoutGoroutines: contexts derived from a
// request's context hang on it as on any context.WithCancel, not on a
// goroutine each, which is what package context does for a Context type it
// does not know.
func TestReqContextDerivedWithoutGoroutines(t *testing.T) {
	rc := &reqContext{conn: context.Background()}
	before := runtime.NumGoroutine()
	const n = 1000
	cancels := make([]context.CancelFunc, n)
	for i := range cancels {
		_, cancels[i] = context.WithCancel(rc)
	}
	if started := runtime.NumGoroutine() - before; started > n/2 {
		t.Errorf("%d goroutines for %d derived contexts", started, n)
	}
	for _, cancel := range cancels {
		cancel()
	}
}

// TestReqContextStates: Err, Done and Cause agree before and after the
// handler returns, and when the connection's context ends first, whether
// Done was called before or not.
func TestReqContextStates(t *testing.T) {
	for _, early := range []bool{false, true} {
		conn, cancelConn := context.WithCancelCause(context.Background())
		rc := &reqContext{conn: conn}
		if early {
			rc.Done()
		}
		if rc.Err() != nil {
			t.Fatalf("early Done %v: Err %v before anything ended", early, rc.Err())
		}
		gone := errors.New("client gone")
		cancelConn(gone)
		<-rc.Done()
		if !errors.Is(rc.Err(), context.Canceled) || !errors.Is(context.Cause(rc), gone) {
			t.Errorf("early Done %v, connection ended: Err %v, Cause %v", early, rc.Err(), context.Cause(rc))
		}
		rc.end()
		if !errors.Is(rc.Err(), context.Canceled) {
			t.Errorf("early Done %v, ended: Err %v", early, rc.Err())
		}
	}
	rc := &reqContext{conn: context.Background()}
	rc.end()
	if !errors.Is(rc.Err(), context.Canceled) || !errors.Is(context.Cause(rc), context.Canceled) {
		t.Errorf("ended before Done: Err %v, Cause %v", rc.Err(), context.Cause(rc))
	}
	<-rc.Done()
}
