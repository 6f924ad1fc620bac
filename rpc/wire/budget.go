package wire

import (
	"cmp"
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Budget bounds the bytes a server holds for the messages in flight on all
// its connections: requests read and not yet answered, replies encoded and
// not yet written. A transport takes a Holder per connection (or per
// request, where a connection carries one at a time), acquires the bytes of
// a message before it reads it, and releases them once the reply is
// written. When the budget is spent, Acquire waits: the transport stops
// reading that connection, which is backpressure on its peer, and the bytes
// go first to the holders that hold the least, so that the connections
// that hold the most wait and a small call from anyone else still gets
// through.
//
// After a burst, once the bytes held fall back low, the budget gives the
// memory back to the operating system (debug.FreeOSMemory), at most once
// every few seconds.
//
// A Budget is safe for concurrent use.
type Budget struct {
	max int64

	mu      sync.Mutex
	used    int64
	peak    int64 // the most held since memory was last given back
	waiters []*budgetWaiter
	freed   time.Time // when memory was last given back
	freeing bool
}

// budgetWaiter is an Acquire waiting for its bytes.
type budgetWaiter struct {
	h       *Holder
	n       int64
	granted chan struct{} // closed once the bytes are the waiter's
}

// Holder holds bytes of a Budget for one connection (or request). Its
// methods are safe for concurrent use.
type Holder struct {
	b    *Budget
	held int64 // under b.mu
}

// ErrOverBudget is returned by Acquire for a message larger than the whole
// budget, which could never be granted.
var ErrOverBudget = errors.New("wire: message larger than the server's memory budget")

// Parts of the budget, as fractions of max.
const (
	// A holder may hold at most a quarter of the budget (or one message
	// larger than that), so that a few connections cannot take it all.
	holderShare = 4
	// The last eighth of the budget is kept for holders that hold little
	// (under smallHolder), so that a small call gets through while the
	// connections that hold the most wait.
	reserveShare = 8
	smallHolder  = 1 << 20
)

// freeEvery bounds how often memory is given back to the system.
const freeEvery = 5 * time.Second

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget {
	return &Budget{max: max}
}

// Max is the budget's size in bytes.
func (b *Budget) Max() int64 { return b.max }

// Used is the number of bytes held now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Holder returns a new holder of bytes of b.
func (b *Budget) Holder() *Holder { return &Holder{b: b} }

// Held is the number of bytes h holds.
func (h *Holder) Held() int64 {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.held
}

// fits reports whether h may take n more bytes now; b.mu is held.
func (b *Budget) fits(h *Holder, n int64) bool {
	if b.used+n > b.max {
		return false
	}
	if h.held+n <= smallHolder || b.used == 0 {
		// The reserve is there for holders like h; and a message alone
		// in the budget always fits.
		return true
	}
	return b.used+n <= b.max-b.max/reserveShare && h.held+n <= max(b.max/holderShare, n)
}

// Acquire takes n bytes for h, waiting while the budget is spent; the
// holders that hold least are served first. It returns ctx's error if ctx
// ends first, and ErrOverBudget at once for n larger than the budget.
func (h *Holder) Acquire(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	b := h.b
	if n > b.max {
		return ErrOverBudget
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(h, n) {
		b.take(h, n)
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{h: h, n: n, granted: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.grant()
	b.mu.Unlock()
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				b.mu.Unlock()
				return ctx.Err()
			}
		}
		b.mu.Unlock()
		// Granted as ctx ended: give the bytes back.
		h.Release(n)
		return ctx.Err()
	}
}

// TryAcquire takes n bytes for h if they are free now, and reports whether
// it did; it never waits.
func (h *Holder) TryAcquire(n int64) bool {
	if n <= 0 {
		return true
	}
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || !b.fits(h, n) {
		return false
	}
	b.take(h, n)
	return true
}

// Force takes n bytes for h without waiting, beyond the budget if need be:
// for memory the server holds already, such as a reply it has encoded.
// Later Acquires wait until it is released.
func (h *Holder) Force(n int64) {
	if n <= 0 {
		return
	}
	h.b.mu.Lock()
	h.b.take(h, n)
	h.b.mu.Unlock()
}

func (b *Budget) take(h *Holder, n int64) {
	h.held += n
	b.used += n
	b.peak = max(b.peak, b.used)
}

// Release gives back n bytes that h acquired or forced, and grants what
// now fits to the holders waiting, those that hold least first.
func (h *Holder) Release(n int64) {
	if n <= 0 {
		return
	}
	b := h.b
	b.mu.Lock()
	h.held -= n
	b.used -= n
	b.grant()
	// A burst is over when what is held falls under a sixteenth of the
	// budget after it reached an eighth (a quarter is what one source may
	// hold).
	free := b.used <= b.max/16 && b.peak >= b.max/reserveShare && !b.freeing && time.Since(b.freed) >= freeEvery
	if free {
		b.freeing = true
	}
	b.mu.Unlock()
	if free {
		go b.giveBack()
	}
}

// grant hands bytes to the waiters that fit, in the order of what their
// holders hold, least first; b.mu is held.
func (b *Budget) grant() {
	if len(b.waiters) == 0 {
		return
	}
	slices.SortStableFunc(b.waiters, func(x, y *budgetWaiter) int { return cmp.Compare(x.h.held, y.h.held) })
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.fits(w.h, w.n) {
			b.take(w.h, w.n)
			close(w.granted)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

// giveBack returns the memory of a burst to the operating system.
func (b *Budget) giveBack() {
	debug.FreeOSMemory()
	b.mu.Lock()
	b.freeing = false
	b.freed = time.Now()
	b.peak = b.used
	b.mu.Unlock()
}
