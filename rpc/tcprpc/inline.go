package tcprpc

import (
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// Serving calls in the reading goroutine.
//
// A caller that waits for each reply before sending its next call (the
// common case, and every Python client) gains most when the goroutine that
// read its call also serves it and writes the reply: no hand-off to another
// goroutine, whose wake-up costs more than the call itself on a loopback
// connection. But while the reader serves a call, nothing reads the
// connection: a second call sent meanwhile would wait behind the first, and
// a call that waits for another call of the same connection would wait
// forever. So a watcher goroutine per server looks at the connections every
// watchTick; a call served by its reader that has run for a whole tick has
// the reading taken from it: a new goroutine reads on, and the call
// finishes as a worker would. The connection then gives its next calls to
// workers for a while (afterTakeover calls), since it has shown that its
// calls can be long. The watcher looks only at connections whose readers
// served a call since its last look, and runs only while there are some.

// watchTick is the watcher's period: a call served by its connection's
// reader holds up the calls behind it for at most two ticks.
const watchTick = time.Millisecond

// afterTakeover is how many calls a connection gives to workers after the
// watcher took its reading over, or after a slow call.
const afterTakeover = 1024

// slowCall is how long a call served by its reader may take, while other
// calls wait in the buffer behind it, before the connection gives its next
// calls to workers.
const slowCall = 100 * time.Microsecond

// inline is a connection's state for calls served by its reader.
type inline struct {
	// state is 2n+1 while the reader serves its nth call itself, and even
	// while it reads. Whoever moves it from 2n+1 to 2n+2 first decides:
	// the reader when the call is done (it reads on), or the watcher (a
	// new goroutine reads on). Each call served has its own n, so a call
	// whose reading was taken can never take it back.
	state atomic.Uint64
	// n counts the calls served by the reader; only the reading goroutine
	// uses it and toWorkers, which counts down the calls given to workers
	// after a takeover.
	n         uint64
	toWorkers int
	// seen is state at the watcher's last look; only the watcher uses it.
	seen uint64
	// listed is set while c is on the watcher's list.
	listed atomic.Bool
}

// mayInline reports whether the reader may serve its next call itself.
func (c *conn) mayInline() bool {
	if c.toWorkers > 0 {
		c.toWorkers--
		return false
	}
	return true
}

// serveInline serves the call in bp in the reading goroutine. It reports
// whether this goroutine still has the reading when the call is done;
// otherwise another goroutine reads on, and this one must stop.
func (c *conn) serveInline(codec rpc.Codec, bp *[]byte) bool {
	c.n++
	serving := 2*c.n + 1
	c.state.Store(serving)
	if !c.listed.Load() {
		c.srv.list(c)
	}
	start := time.Now()
	c.call(codec, bp, true)
	if !c.state.CompareAndSwap(serving, serving+1) {
		// The new reader may be waiting for input already: write the
		// reply before the call counts as done, since the connection may
		// close as soon as it is.
		c.w.Flush()
		c.release(bp)
		return false
	}
	c.release(bp)
	if c.r.Buffered() > 0 && time.Since(start) > slowCall {
		// Calls were held up behind a slow one: calls this slow are
		// better run in parallel by workers. (A caller that waits for
		// each reply loses nothing to a slow call served here.)
		c.toWorkers = afterTakeover
	}
	return true
}

// takeOver gives the reading of c to a new goroutine if its reader has been
// serving the same call since the watcher's last look. It reports whether
// the reader serves a call or served one since that look.
func (c *conn) takeOver() (busy bool) {
	s := c.state.Load()
	stuck := s == c.seen && s%2 == 1
	busy = s != c.seen || s%2 == 1
	c.seen = s
	if stuck && c.state.CompareAndSwap(s, s+1) {
		// The reader's goroutine finishes its call as a worker would.
		c.toWorkers = afterTakeover
		go c.readOn()
	}
	return busy
}

// list puts c on the watcher's list of connections whose readers serve
// calls, and makes sure the watcher runs.
func (srv *Server) list(c *conn) {
	srv.activeMu.Lock()
	if c.listed.CompareAndSwap(false, true) {
		srv.active = append(srv.active, c)
	}
	srv.activeMu.Unlock()
	if !srv.watching.Load() && srv.watching.CompareAndSwap(false, true) {
		go srv.watchLoop()
	}
}

// watchLoop looks at the listed connections every tick, and ends when none
// is left.
func (srv *Server) watchLoop() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-srv.ctx.Done():
			srv.watching.Store(false)
			return
		}
		if srv.lookAtConns() > 0 {
			continue
		}
		// None left: stop, unless a reader listed its connection just
		// before the flag went down and counts on us.
		srv.watching.Store(false)
		if srv.lookAtConns() == 0 || !srv.watching.CompareAndSwap(false, true) {
			return
		}
	}
}

// lookAtConns takes the reading over where a call has held it for a tick,
// takes the connections whose readers served nothing since the last look
// off the list, and returns how many are left on it. Only connections with
// calls in the last tick or so are looked at, however many are open.
func (srv *Server) lookAtConns() int {
	srv.activeMu.Lock()
	defer srv.activeMu.Unlock()
	kept := srv.active[:0]
	for _, c := range srv.active {
		if !c.takeOver() {
			// Off the list, unless a call began meanwhile: the reader
			// sets state before it looks at listed, and this clears
			// listed before it looks at state again.
			c.listed.Store(false)
			if c.state.Load() == c.seen {
				continue
			}
			c.listed.Store(true)
		}
		kept = append(kept, c)
	}
	clear(srv.active[len(kept):])
	srv.active = kept
	return len(kept)
}
