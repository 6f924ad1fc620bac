package netutil

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/netlimit"
)

// Refused connections are logged as tcprpc logs the connections that fail:
// a source address's first refusal of a kind at once, the others counted
// and each count logged once per logEvery with the last error as an
// example, so that a flood of bad connections cannot fill the log.

// logEvery is the least time between two lines of one source and kind.
const logEvery = 10 * time.Second

// maxLogKeys bounds the sources and kinds remembered: past it, the
// refusals of new sources are counted together, under the source "other".
const maxLogKeys = 256

type logKey struct{ source, kind string }

type logCount struct {
	logged time.Time // the last line
	n      int       // refusals since, not logged
	last   error     // the last of them
}

// refusals logs the connections a listener refused; safe for concurrent
// use.
type refusals struct {
	log *slog.Logger

	mu     sync.Mutex
	counts map[logKey]*logCount
	timer  *time.Timer
	closed bool
}

func newRefusals(l *slog.Logger) *refusals {
	return &refusals{log: l, counts: map[logKey]*logCount{}}
}

// refused logs, or counts, the connection from remote refused for err, a
// refusal of the kind given.
func (l *refusals) refused(remote net.Addr, kind string, err error) {
	k := logKey{source(remote), kind}
	now := time.Now()
	l.mu.Lock()
	c, ok := l.counts[k]
	if !ok && len(l.counts) >= maxLogKeys {
		k.source = "other"
		c, ok = l.counts[k]
	}
	if ok && now.Sub(c.logged) < logEvery {
		c.n++
		c.last = err
		l.mu.Unlock()
		return
	}
	if !ok {
		c = &logCount{}
		l.counts[k] = c
	}
	c.logged = now
	more := c.n
	c.n, c.last = 0, nil
	if l.timer == nil && !l.closed {
		l.timer = time.AfterFunc(logEvery, l.tick)
	}
	l.mu.Unlock()
	attrs := []any{"remote", remote.String(), "reason", kind, "err", err}
	if more > 0 {
		attrs = append(attrs, "more_alike", more)
	}
	l.log.Warn("netutil: PROXY protocol: connection refused", attrs...)
}

// tick logs the counts that are due and forgets the sources quiet for a
// while; it runs every logEvery while there are any.
func (l *refusals) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush(time.Now(), false)
	if len(l.counts) > 0 && !l.closed {
		l.timer.Reset(logEvery)
	} else {
		l.timer = nil
	}
}

// flush logs the counts due at now, or all of them; l.mu is held.
func (l *refusals) flush(now time.Time, all bool) {
	for k, c := range l.counts {
		due := now.Sub(c.logged) >= logEvery
		switch {
		case c.n > 0 && (due || all):
			l.log.Warn("netutil: PROXY protocol: connections refused alike", "source", k.source, "reason", k.kind,
				"count", c.n, "since", c.logged.Format(time.RFC3339), "err", c.last)
			c.logged, c.n, c.last = now, 0, nil
		case c.n == 0 && due:
			delete(l.counts, k)
		}
	}
}

// close logs the counts not logged yet, when the listener closes.
func (l *refusals) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.flush(time.Now(), true)
	clear(l.counts)
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// source is the address refusals are counted under: an IPv4 address or an
// IPv6 /64, as the limits per source count them, or the network's name.
func source(addr net.Addr) string {
	if p := netlimit.Source(addr); p.IsValid() {
		if p.Addr().Is4() {
			return p.Addr().String()
		}
		return p.String()
	}
	if addr == nil {
		return "unknown"
	}
	return addr.Network()
}
