package tcprpc

import (
	"context"
	"fmt"
	"math"
	"net"

	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// The memory a connection holds is counted in the server's budget
// (rpc.Server.Budget, rpc.WithMaxMemory), by a wire.Holder that the
// connections from one source address share: one host holds at most a
// holder's share of the budget, however many connections it opens. The
// reader takes a message's cost from the budget before it reads the
// payload; when the budget (or the source's share) is spent it waits, and
// the connection is not read meanwhile: backpressure on the peers that
// send the most, while the others are served. Once the message is served
// its cost becomes its reply's size, held until the frame.Writer reports
// the reply written. What is still held when the connection ends is given
// back then.

// share is the holder of the connections from one source address.
type share struct {
	h     *wire.Holder
	conns int // connections using it, under Server.mu
}

// shareFor returns the holder for a new connection from addr; srv.mu is
// held. Connections whose address is not IP (Unix sockets) have one each.
func (srv *Server) shareFor(addr net.Addr) *share {
	if src := ipSource(addr); src != "" {
		sh := srv.shares[src]
		if sh == nil {
			sh = &share{h: srv.budget.Holder()}
			srv.shares[src] = sh
		}
		sh.conns++
		return sh
	}
	return &share{h: srv.budget.Holder(), conns: 1}
}

// dropShare ends the use of c's share; srv.mu is held.
func (srv *Server) dropShare(c *conn) {
	if c.share.conns--; c.share.conns == 0 {
		if src := ipSource(c.nc.RemoteAddr()); srv.shares[src] == c.share {
			delete(srv.shares, src)
		}
	}
}

// take counts n more bytes held by c, beyond the budget if need be.
func (c *conn) take(n int64) {
	c.share.h.Force(n)
	c.held.Add(n)
}

// give gives back n bytes that c held.
func (c *conn) give(n int64) {
	c.share.h.Release(n)
	c.held.Add(-n)
}

// costFactor is what a request costs while it is served, per byte: the
// message itself, what decoding makes of it, and the reply being built.
// Measured on JSON: a 4 MiB demo.echo of a string, alone or in a batch, has
// the heap grow by 2× the message while it is served, on top of the message
// (TotalAlloc 2-3×). A message of many small values decoded into `any`
// costs far more while it is decoded (a JSON array of 2M small numbers:
// ~46×), which only the codec could count.
const costFactor = 3

// rawReserve is taken before reading a message without a frame header, whose
// size is known only once it is read; the rest of its cost is taken then.
const rawReserve = 4 << 10

// canceled is a context that has ended: Acquire with it takes bytes only if
// they are free at once.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// cost is what a request of n bytes holds of the budget while it is read
// and served.
func (c *conn) cost(n int) int64 {
	k := costFactor * int64(n)
	if c.delim != nil {
		k = max(k, rawReserve)
	}
	// A wire.Budget never grants more than 7/8 of itself to a holder of
	// over 1 MiB (the last eighth is kept for small holders): a message
	// whose cost would exceed that, but which fits the budget, costs that.
	max := c.srv.budget.Max()
	return min(k, max-max/8)
}

// overBudget refuses a frame of n bytes if it is larger than the whole
// budget, as one larger than the message size limit is.
func (c *conn) overBudget(n int) error {
	if max := c.srv.budget.Max(); int64(n) > max {
		return fmt.Errorf("%w: %d bytes, over the server's memory budget of %d (rpc.WithMaxMemory)", frame.ErrTooLarge, n, max)
	}
	return nil
}

// frameSize is the bytes a reply of n bytes takes in the writer's queue.
func (c *conn) frameSize(n int) int64 {
	switch {
	case n == 0:
		return 0
	case c.delim != nil:
		return int64(n)
	case n <= math.MaxInt32:
		return int64(n) + 4
	}
	return int64(n) + frame.MaxHeaderSize
}

// settle turns what a request held (had) into what its reply holds (now).
func (c *conn) settle(had, now int64) {
	if now > had {
		c.take(now - had)
	} else {
		c.give(had - now)
	}
}

// acquire takes n bytes of the budget for the message about to be read.
// When they are not free, it sends the replies held back first, which
// frees theirs, then waits: the connection is not read meanwhile. It fails
// when the connection fails or the server stops reading meanwhile.
func (c *conn) acquire(n int64) error {
	if c.share.h.Acquire(canceled, n) == nil {
		c.held.Add(n)
		return nil // the fast path: free at once
	}
	limitHit("max_memory")
	if err := c.w.Flush(); err != nil {
		c.fail(failed("writing a reply", err))
		return err
	}
	ctx, cancel := context.WithCancel(c.srv.ctx)
	defer cancel()
	c.mu.Lock()
	closed := c.closed
	c.cancelWait = cancel
	c.mu.Unlock()
	if closed || c.stopping.Load() {
		// stopReading and fail set their flag before they look at
		// cancelWait: one of us sees the other.
		return net.ErrClosed
	}
	err := c.share.h.Acquire(ctx, n)
	c.mu.Lock()
	c.cancelWait = nil
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.held.Add(n)
	// The wait was the server's, not the peer's: the read timeout starts
	// again.
	c.nc.SetReadDeadline(deadline(c.srv.cfg.readTimeout))
	return nil
}
