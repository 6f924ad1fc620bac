package rpc

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestCallContext: a call's context ends at its deadline, when its parent
// ends and when it is cancelled, whether or not Done was asked for first.
func TestCallContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The deadline, Done asked for before it.
		cc := &callContext{Context: context.Background(), deadline: time.Now().Add(time.Second)}
		done := cc.Done()
		time.Sleep(time.Second)
		<-done
		if !errors.Is(cc.Err(), context.DeadlineExceeded) {
			t.Errorf("after the deadline: %v", cc.Err())
		}
		cc.release()

		// The deadline, Done never asked for: Err alone tells.
		cc = &callContext{Context: context.Background(), deadline: time.Now().Add(time.Second)}
		if cc.Err() != nil {
			t.Error("ended early")
		}
		time.Sleep(2 * time.Second)
		if !errors.Is(cc.Err(), context.DeadlineExceeded) {
			t.Errorf("after the deadline, without Done: %v", cc.Err())
		}
		select {
		case <-cc.Done():
		default:
			t.Error("Done asked for after the deadline is not closed")
		}

		// The parent's end, and its earlier deadline.
		parent, cancel := context.WithTimeout(context.Background(), time.Minute)
		cc = &callContext{Context: parent, deadline: time.Now().Add(time.Hour)}
		if d, _ := cc.Deadline(); !d.Equal(time.Now().Add(time.Minute)) {
			t.Errorf("deadline %v, want the parent's", d)
		}
		done = cc.Done()
		cancel()
		<-done
		if !errors.Is(cc.Err(), context.Canceled) {
			t.Errorf("after the parent's cancel: %v", cc.Err())
		}
		cc.release()

		// Cancel, and the watchers are stopped by release.
		cc = &callContext{Context: context.Background()}
		stop := context.AfterFunc(cc, func() {})
		cc.Cancel()
		synctest.Wait()
		if stop() {
			t.Error("AfterFunc on a cancelled call context did not run")
		}
		if !errors.Is(cc.Err(), context.Canceled) {
			t.Errorf("after Cancel: %v", cc.Err())
		}
		cc.release()
	})
}
