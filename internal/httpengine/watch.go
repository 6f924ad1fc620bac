package httpengine

import (
	"errors"
	"os"
	"time"
)

// A handler that runs a while with its request read whole has a background
// read put on its connection, which notices a client that goes away: its
// end of the connection closes or resets, the read fails, and the request's
// context is canceled, so that the call stops instead of computing a reply
// nobody will read. Quick handlers cost nothing for this: a watcher
// goroutine per server looks every watchTick at the connections and starts
// the background read only for a handler that has been waiting watchAfter.
// A byte that the background read gets instead (the client's next request,
// pipelined) is kept for the connection's reader.
const (
	watchTick  = 50 * time.Millisecond
	watchAfter = 50 * time.Millisecond
)

// watchLoop runs while the server has connections.
func (s *Server) watchLoop() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for range t.C {
		now := time.Now().UnixNano()
		s.mu.Lock()
		if len(s.conns) == 0 {
			s.watching = false
			s.mu.Unlock()
			return
		}
		for c := range s.conns {
			if since := c.watchable.Load(); since != 0 && now-since >= int64(watchAfter) {
				c.startWatch()
			}
		}
		s.mu.Unlock()
	}
}

// setWatchable marks the handler as waiting with its request read whole,
// unless more requests wait in the reader already (the client is there).
// Called by the connection's goroutine, or the handler's.
func (c *serverConn) setWatchable() {
	if c.br.Buffered() == 0 && c.watchable.Load() == 0 {
		c.watchable.Store(time.Now().UnixNano())
	}
}

// startWatch starts the background read, once per request.
func (c *serverConn) startWatch() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.watched || c.watchable.Load() == 0 {
		return
	}
	c.watched = true
	c.watchDone = make(chan struct{})
	c.nc.SetReadDeadline(time.Time{}) // the request was read: no more limit
	go c.backgroundRead(c.watchDone)
}

func (c *serverConn) backgroundRead(done chan struct{}) {
	defer close(done)
	n, err := c.nc.Read(c.peekByte[:])
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	switch {
	case n == 1:
		c.peeked = true
	case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
		// The client closed or reset the connection (or the server
		// closed it): cancel the request.
		c.gone = true
		c.cancel()
	}
}

// stopWatch ends the background read of the request whose handler
// returned, and reports whether the client went away. The connection's
// goroutine calls it before it reads the connection again.
func (c *serverConn) stopWatch() (gone bool) {
	c.watchable.Store(0)
	c.watchMu.Lock()
	watched, done := c.watched, c.watchDone
	if watched {
		c.nc.SetReadDeadline(longAgo) // interrupts the read
	}
	c.watchMu.Unlock()
	if !watched {
		return false
	}
	<-done
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	c.watched, c.watchDone = false, nil
	c.nc.SetReadDeadline(time.Time{})
	return c.gone
}
