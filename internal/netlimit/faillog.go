package netlimit

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// FailLog logs failed connections so that a flood of them cannot fill the
// log: a source's first failure of a kind is logged at once, the others
// are counted, and each count is logged once per LogEvery with the last
// error as an example. It is safe for concurrent use.
type FailLog struct {
	log *slog.Logger
	// first and alike are the messages of a failure logged at once and of
	// a count; kindKey names the kind in a count's line, and in a first
	// line too when kindFirst.
	first, alike, kindKey string
	kindFirst             bool

	mu     sync.Mutex
	counts map[failKey]*failCount
	timer  *time.Timer
	closed bool
}

// LogEvery is the least time between two lines of one source and kind.
const LogEvery = 10 * time.Second

// maxFailKeys bounds the sources and kinds remembered: past it, the
// failures of new sources are counted together, under the source "other".
const maxFailKeys = 256

type failKey struct{ source, kind string }

type failCount struct {
	logged time.Time // the last line
	n      int       // failures since, not logged
	last   error     // the last of them
}

// NewFailLog returns a FailLog writing to l: first is the message of a
// failure logged as it happens, alike the message of a count of failures;
// kindKey is the attribute that names a failure's kind, in a count's line
// and, when kindFirst, in a first line too.
func NewFailLog(l *slog.Logger, first, alike, kindKey string, kindFirst bool) *FailLog {
	return &FailLog{log: l, first: first, alike: alike, kindKey: kindKey, kindFirst: kindFirst, counts: map[failKey]*failCount{}}
}

// Record logs, or counts, the failure err of kind of the connection from
// remote.
func (l *FailLog) Record(remote net.Addr, kind string, err error) {
	k := failKey{SourceName(remote), kind}
	now := time.Now()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.logFirst(remote, kind, err, 0)
		return
	}
	c, ok := l.counts[k]
	if !ok && len(l.counts) >= maxFailKeys {
		k.source = "other"
		c, ok = l.counts[k]
	}
	if ok && now.Sub(c.logged) < LogEvery {
		c.n++
		c.last = err
		l.mu.Unlock()
		return
	}
	if !ok {
		c = &failCount{}
		l.counts[k] = c
	}
	c.logged = now
	more := c.n
	c.n, c.last = 0, nil
	if l.timer == nil {
		l.timer = time.AfterFunc(LogEvery, l.tick)
	}
	l.mu.Unlock()
	l.logFirst(remote, kind, err, more)
}

// logFirst logs a failure as it happens, with the count of those like it
// not logged before.
func (l *FailLog) logFirst(remote net.Addr, kind string, err error, more int) {
	attrs := []any{"remote", remote.String()}
	if l.kindFirst {
		attrs = append(attrs, l.kindKey, kind)
	}
	attrs = append(attrs, "err", err)
	if more > 0 {
		attrs = append(attrs, "more_alike", more)
	}
	l.log.Warn(l.first, attrs...)
}

// tick logs the counts that are due and forgets the sources quiet for a
// while; it runs every LogEvery while there are any.
func (l *FailLog) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush(time.Now(), false)
	if len(l.counts) > 0 && !l.closed {
		l.timer.Reset(LogEvery)
	} else {
		l.timer = nil
	}
}

// flush logs the counts due at now, or all of them; l.mu is held.
func (l *FailLog) flush(now time.Time, all bool) {
	for k, c := range l.counts {
		due := now.Sub(c.logged) >= LogEvery
		switch {
		case c.n > 0 && (due || all):
			l.log.Warn(l.alike, "source", k.source, l.kindKey, k.kind,
				"count", c.n, "since", c.logged.Format(time.RFC3339), "err", c.last)
			c.logged, c.n, c.last = now, 0, nil
		case c.n == 0 && due:
			delete(l.counts, k)
		}
	}
}

// Close logs every count not logged yet and forgets them; failures
// recorded after it are logged as they come, none counted.
func (l *FailLog) Close() {
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

// SourceName is the source a connection's failures are counted under: an
// IPv4 address or an IPv6 /64, as the limits per source count them
// (Source), or the network's name for other addresses (Unix sockets).
func SourceName(addr net.Addr) string {
	if p := Source(addr); p.IsValid() {
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
