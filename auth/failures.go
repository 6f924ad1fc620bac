package auth

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// logEvery is the shortest time between two log lines about one source of
// authentication failures.
const logEvery = 10 * time.Second

// maxLogSources bounds the sources a failureLog tracks at once; failures
// from more are summed up as from "other".
const maxLogSources = 1024

// maxLoggedKeyID bounds the key ID a client claimed as it is logged.
const maxLoggedKeyID = 64

// failureLog logs the authentication failures of a Server or HTTPHandler,
// at most one line per source address every logEvery: the first failure of
// a source is logged at once, the next ones of the interval summed up in
// one line when it ends. It is safe for concurrent use.
type failureLog struct {
	log  *slog.Logger
	what string // "handshake", "http"

	mu      sync.Mutex
	sources map[string]*failures
	timer   *time.Timer
}

// failures are the failures of one source.
type failures struct {
	logged time.Time // of the last line that named the source
	n      int       // failures since, not yet logged
	why    string    // of the last failure
	keyID  string    // the last failure claimed
}

func newFailureLog(log *slog.Logger, what string) *failureLog {
	if !log.Enabled(context.Background(), slog.LevelWarn) {
		return nil
	}
	return &failureLog{log: log, what: what, sources: make(map[string]*failures)}
}

// source names the origin of a connection in the log: its IP address, or
// the /64 of an IPv6 address (a single host commonly holds a whole /64).
func source(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			return host
		}
		return addr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// record counts a failure from addr, for why; keyID is the key the client
// claimed, if any.
func (l *failureLog) record(addr, keyID, why string) {
	if l == nil {
		return
	}
	if len(keyID) > maxLoggedKeyID {
		keyID = keyID[:maxLoggedKeyID] + "..."
	}
	src := source(addr)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.sources[src]
	if f == nil {
		if len(l.sources) >= maxLogSources {
			src = "other"
			f = l.sources[src]
		}
		if f == nil {
			f = &failures{}
			l.sources[src] = f
		}
	}
	f.n++
	f.why, f.keyID = why, keyID
	if f.logged.IsZero() || now.Sub(f.logged) >= logEvery {
		l.emit(src, f, now)
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(logEvery, l.flush)
	}
}

// emit logs the failures of src; l.mu is held.
func (l *failureLog) emit(src string, f *failures, now time.Time) {
	attrs := []any{"source", src, "failures", f.n, "last", f.why}
	if f.keyID != "" {
		attrs = append(attrs, "keyid", f.keyID)
	}
	if !f.logged.IsZero() {
		attrs = append(attrs, "since", now.Sub(f.logged).Round(time.Millisecond))
	}
	l.log.Warn("auth: "+l.what+" authentication failed", attrs...)
	f.logged, f.n = now, 0
}

// flush logs the failures summed up in the intervals that have ended, and
// forgets the sources quiet for a whole interval.
func (l *failureLog) flush() {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	var next time.Duration
	for src, f := range l.sources {
		due := logEvery - now.Sub(f.logged)
		switch {
		case due > 0:
		case f.n > 0:
			l.emit(src, f, now)
			due = logEvery
		default:
			delete(l.sources, src)
			continue
		}
		if next == 0 || due < next {
			next = due
		}
	}
	if next > 0 {
		l.timer = time.AfterFunc(next, l.flush)
	}
}
