package tcprpc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/polyrpc/polyrpc/internal/events"
	"github.com/polyrpc/polyrpc/internal/netlimit"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// A flood of failing connections (a scan, a client with the wrong key
// retrying as fast as it can) must not fill the log: 146k failed
// handshakes in 15 s once wrote 146k lines. So a connection that ends with
// an error is logged at once only if its source address had no failure of
// the same kind in the last logEvery; the others are counted, and each
// count logged once per logEvery with the last error as an example.

// logEvery is the least time between two lines of one source and kind.
const logEvery = 10 * time.Second

// maxLogKeys bounds the sources and kinds remembered: past it, the failures
// of new sources are counted together, under the source "other".
const maxLogKeys = 256

// failure is an error that ended a connection, in the phase it ended in.
type failure struct {
	phase string // "TLS handshake", "handshake", "waiting for a message", ...
	err   error
}

func (f *failure) Error() string { return "tcprpc: " + f.phase + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// failed returns the failure of err in phase.
func failed(phase string, err error) error { return &failure{phase, err} }

// foreign is a frame refused because the peer speaks another protocol.
type foreign struct {
	proto string
	err   error
}

func (f *foreign) Error() string { return "the client speaks " + f.proto + ": " + f.err.Error() }
func (f *foreign) Unwrap() error { return f.err }

// kind is the kind of failure err is, for counting alike failures together:
// its phase, and what went wrong in a few words.
func kind(err error) string {
	phase := "other"
	var f *failure
	if errors.As(err, &f) {
		phase = f.phase
	}
	var fp *foreign
	switch {
	case errors.As(err, &fp):
		return phase + ": " + fp.proto
	case errors.Is(err, frame.ErrTooLarge):
		return phase + ": too large"
	case errors.Is(err, frame.ErrBadHeader):
		return phase + ": malformed"
	case errors.Is(err, errUnknownCodec):
		return phase + ": unknown codec"
	case isTimeout(err):
		return phase + ": timeout"
	case isClosed(err):
		return phase + ": closed"
	}
	return phase
}

type logKey struct{ source, kind string }

// logCount is what was logged of one source and kind, and not yet.
type logCount struct {
	logged time.Time // the last line
	n      int       // failures since, not logged
	last   error     // the last of them
}

// connLog logs the connections that end with an error. It is safe for
// concurrent use.
type connLog struct {
	log *slog.Logger

	mu     sync.Mutex
	counts map[logKey]*logCount
	timer  *time.Timer
}

func newConnLog(l *slog.Logger) *connLog {
	return &connLog{log: l, counts: map[logKey]*logCount{}}
}

// limitHit reports a limit of the server's hit to internal/events.
func limitHit(limit string) { events.LimitHit("tcp", limit) }

// ended logs, or counts, the connection from remote that err ended.
func (l *connLog) ended(remote net.Addr, err error) {
	if errors.Is(err, frame.ErrTooLarge) {
		limitHit("max_message_size")
	}
	k := logKey{source(remote), kind(err)}
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
	if l.timer == nil {
		l.timer = time.AfterFunc(logEvery, l.tick)
	}
	l.mu.Unlock()
	if more > 0 {
		l.log.Warn("tcprpc: connection ended", "remote", remote.String(), "err", err, "more_alike", more)
		return
	}
	l.log.Warn("tcprpc: connection ended", "remote", remote.String(), "err", err)
}

// tick logs the counts of failures not logged that are due, and forgets
// the sources quiet for a while; it runs every logEvery while there are
// any.
func (l *connLog) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush(time.Now(), false)
	if len(l.counts) > 0 {
		l.timer.Reset(logEvery)
	} else {
		l.timer = nil
	}
}

// flush logs the counts due at now, or all of them; l.mu is held.
func (l *connLog) flush(now time.Time, all bool) {
	for k, c := range l.counts {
		due := now.Sub(c.logged) >= logEvery
		switch {
		case c.n > 0 && (due || all):
			l.log.Warn("tcprpc: connections ended alike", "source", k.source, "kind", k.kind,
				"count", c.n, "since", c.logged.Format(time.RFC3339), "err", c.last)
			c.logged, c.n, c.last = now, 0, nil
		case c.n == 0 && due:
			delete(l.counts, k)
		}
	}
}

// close logs every count not logged yet, and forgets them: at Shutdown or
// Close, after which the server reports no more failures.
func (l *connLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush(time.Now(), true)
	clear(l.counts)
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// source is the address a connection's failures are counted under (see
// ipSource), or the network's name for other addresses (Unix sockets).
func source(addr net.Addr) string {
	if src := ipSource(addr); src != "" {
		return src
	}
	if addr == nil {
		return "unknown"
	}
	return addr.Network()
}

// ipSource is the source address of an IP connection, as the limits per
// source count it (netlimit.Source), or "" for other addresses.
func ipSource(addr net.Addr) string {
	if p := netlimit.Source(addr); p.IsValid() {
		if p.Addr().Is4() {
			return p.Addr().String()
		}
		return p.String()
	}
	return ""
}

// errUnknownCodec is the error of a frame in no codec the server knows.
var errUnknownCodec = errors.New("a frame in no known codec")

func unknownCodec(first byte) error { return fmt.Errorf("%w (first byte %#x)", errUnknownCodec, first) }
