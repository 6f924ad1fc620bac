package wire_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

func TestBudgetWaitsAndServesTheSmallestHolderFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := wire.NewBudget(64 << 20)
		ctx := context.Background()
		hog, small := b.Holder(), b.Holder()
		// A holder gets at most a quarter of the budget.
		for range 4 {
			if err := hog.Acquire(ctx, 4<<20); err != nil {
				t.Fatal(err)
			}
		}
		blocked := make(chan error, 1)
		go func() { blocked <- hog.Acquire(ctx, 4<<20) }()
		synctest.Wait()
		select {
		case err := <-blocked:
			t.Fatalf("a holder took more than a quarter of the budget: %v", err)
		default:
		}
		// Others fill the budget up to its reserve, an eighth.
		others := make([]*wire.Holder, 10)
		for i := range others {
			others[i] = b.Holder()
			if err := others[i].Acquire(ctx, 4<<20); err != nil {
				t.Fatal(err)
			}
		}
		if got := b.Used(); got != 56<<20 {
			t.Fatalf("used %d", got)
		}
		late := make(chan error, 1)
		go func() { late <- b.Holder().Acquire(ctx, 4<<20) }()
		synctest.Wait()
		select {
		case err := <-late:
			t.Fatalf("a 4 MiB message went into the reserve: %v", err)
		default:
		}
		// The reserve still takes a small call.
		if err := small.Acquire(ctx, 64<<10); err != nil {
			t.Fatal(err)
		}
		small.Release(64 << 10)
		// Memory freed goes to the waiter that holds least, not to the
		// hog, which is over its share anyway.
		others[0].Release(4 << 20)
		synctest.Wait()
		if err := <-late; err != nil {
			t.Fatal(err)
		}
		select {
		case <-blocked:
			t.Fatal("the hog was served beyond its share")
		default:
		}
		others[1].Release(4 << 20)
		hog.Release(4 << 20)
		synctest.Wait()
		if err := <-blocked; err != nil {
			t.Fatal(err)
		}
		if hog.Held() != 16<<20 {
			t.Errorf("hog holds %d", hog.Held())
		}
	})
}

func TestBudgetRefusesAndCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := wire.NewBudget(8 << 20)
		h := b.Holder()
		if err := h.Acquire(context.Background(), 9<<20); !errors.Is(err, wire.ErrOverBudget) {
			t.Errorf("over the whole budget: %v", err)
		}
		h.Force(8 << 20) // a reply encoded already
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.Holder().Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("acquire on a spent budget: %v", err)
		}
		h.Release(8 << 20)
		if b.Used() != 0 {
			t.Errorf("used %d after every release", b.Used())
		}
	})
}

// TestBudgetLargeMessageAlone: a message between the reserve and the whole
// budget is granted once nothing else is held, never refused for good.
func TestBudgetLargeMessageAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := wire.NewBudget(16 << 20)
		small := b.Holder()
		small.Force(1 << 10)
		h := b.Holder()
		if h.TryAcquire(15 << 20) {
			t.Fatal("15 of 16 MiB granted beside another holder, into the reserve")
		}
		got := make(chan error, 1)
		go func() { got <- h.Acquire(context.Background(), 15<<20) }()
		synctest.Wait()
		small.Release(1 << 10)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if !b.Holder().TryAcquire(512 << 10) {
			t.Error("a small message refused while the reserve is free")
		}
	})
}
