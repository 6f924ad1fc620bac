// Package netlimit bounds the connections a server's listeners accept, in
// all and per source address, for polyrpc's TCP and HTTP servers alike.
//
// At the limit on all connections a server stops accepting (backpressure):
// new connections wait in the listen backlog instead of being accepted and
// closed, which a client would see as a reset and a proxy as a 502. A
// connection from an address that holds its share already is closed at
// once. Both are logged once per burst with a count, never once per
// connection.
package netlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/events"
)

// logEvery is how often the refusals of a burst are summed up in the log.
const logEvery = 10 * time.Second

// Limiter counts the connections of a server. It is safe for concurrent
// use; one Limiter may serve several listeners, whose connections then
// share its limits.
type Limiter struct {
	max, perSource int
	log            *slog.Logger
	what           string // "tcprpc", "http", for the log
	transport      string // what, less "rpc": for internal/events

	mu     sync.Mutex
	cond   *sync.Cond
	n      int
	bySrc  map[netip.Prefix]int
	closed bool

	// The burst at the limit on all connections, if one is under way: it
	// ends once the server has stayed below the limit for logEvery.
	fullSince time.Time
	lastFull  time.Time
	waited    int // accepts held back in this burst
	endTimer  *time.Timer

	// Connections refused per source since the last summary.
	refused     map[netip.Prefix]int
	flushTimer  *time.Timer
	lastSummary time.Time
}

// New returns a limiter of max connections in all and perSource from one
// source address (an IPv4 address, or an IPv6 /64); zero means no limit.
// It logs to log, naming the server what ("tcprpc", "httprpc"), and reports
// connections and limits hit to internal/events, naming the transport what
// less "rpc" ("tcp", "http").
func New(max, perSource int, log *slog.Logger, what string) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{max: max, perSource: perSource, log: log, what: what, transport: strings.TrimSuffix(what, "rpc"),
		bySrc: map[netip.Prefix]int{}, refused: map[netip.Prefix]int{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Wait blocks while the server holds its maximum of connections, and
// reports false once the limiter is closed. An accept loop calls it before
// each Accept.
func (l *Limiter) Wait() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.n >= l.max && !l.closed {
		if l.fullSince.IsZero() {
			l.fullSince = time.Now()
			l.log.Warn(l.what+": connection limit reached: new connections wait in the listen backlog", "limit", l.max)
		}
		l.waited++
		events.LimitHit(l.transport, "max_conns")
		for l.n >= l.max && !l.closed {
			l.cond.Wait()
		}
		l.lastFull = time.Now() // when this accept was held back until
	}
	return !l.closed
}

// Admit counts a connection accepted from addr, or reports false when its
// source holds its share of connections already: the caller closes it.
func (l *Limiter) Admit(addr net.Addr) bool {
	src := Source(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perSource > 0 && src.IsValid() && l.bySrc[src] >= l.perSource {
		l.refuse(src)
		events.LimitHit(l.transport, "max_conns_per_ip")
		return false
	}
	events.ConnOpened(l.transport)
	l.n++
	if src.IsValid() {
		l.bySrc[src]++
	}
	return true
}

// Release ends a connection from addr that Admit counted.
func (l *Limiter) Release(addr net.Addr) {
	src := Source(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	events.ConnClosed(l.transport)
	l.n--
	if src.IsValid() {
		if l.bySrc[src]--; l.bySrc[src] <= 0 {
			delete(l.bySrc, src)
		}
	}
	if l.max > 0 && l.n < l.max {
		if !l.fullSince.IsZero() && l.endTimer == nil {
			l.endTimer = time.AfterFunc(logEvery, l.endBurst)
		}
		l.cond.Signal()
	}
}

// endBurst logs the end of a burst at the limit once the server has stayed
// below it for logEvery, or looks again later.
func (l *Limiter) endBurst() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endTimer = nil
	if l.fullSince.IsZero() {
		return
	}
	if since := time.Since(l.lastFull); l.n >= l.max || since < logEvery {
		l.endTimer = time.AfterFunc(logEvery-min(since, logEvery-time.Millisecond), l.endBurst)
		return
	}
	l.log.Info(l.what+": accepting again below the connection limit", "limit", l.max,
		"held_back_for", l.lastFull.Sub(l.fullSince).Round(time.Millisecond), "accepts_held_back", l.waited)
	l.fullSince, l.waited = time.Time{}, 0
}

// Close wakes the accept loops waiting in Wait, which then report false.
func (l *Limiter) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.cond.Broadcast()
	if l.flushTimer != nil {
		l.flushTimer.Stop()
	}
	if l.endTimer != nil {
		l.endTimer.Stop()
	}
	l.summarize()
}

// refuse counts a connection refused from src and makes sure a summary
// follows within logEvery; l.mu is held.
func (l *Limiter) refuse(src netip.Prefix) {
	l.refused[src]++
	if time.Since(l.lastSummary) >= logEvery {
		l.summarize()
		return
	}
	if l.flushTimer == nil {
		l.flushTimer = time.AfterFunc(logEvery, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.flushTimer = nil
			l.summarize()
		})
	}
}

// summarize logs the connections refused per source since the last
// summary; l.mu is held.
func (l *Limiter) summarize() {
	for src, n := range l.refused {
		l.log.Warn(l.what+": refused connections over the limit per source address",
			"source", src.String(), "refused", n, "limit", l.perSource)
	}
	clear(l.refused)
	l.lastSummary = time.Now()
}

// Source is the address a connection's limit per source counts under: the
// IPv4 address, or the /64 of an IPv6 one (a single host commonly holds a
// whole /64). It is the zero Prefix for addresses that are not IP.
func Source(addr net.Addr) netip.Prefix {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		var err error
		if addr == nil {
			return netip.Prefix{}
		}
		if ap, err = netip.ParseAddrPort(addr.String()); err != nil {
			return netip.Prefix{}
		}
	}
	ip := ap.Addr().Unmap()
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
