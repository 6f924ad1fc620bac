package netutil

import (
	"log/slog"
	"net"

	"github.com/polyrpc/polyrpc/internal/netlimit"
)

// Refused connections are logged as tcprpc logs the connections that fail:
// a source address's first refusal of a kind at once, the others counted
// and each count logged once per 10 s with the last error as an
// example (netlimit.FailLog), so that a flood of bad connections cannot
// fill the log.

// refusals logs the connections a listener refused.
type refusals struct{ *netlimit.FailLog }

func newRefusals(l *slog.Logger) *refusals {
	return &refusals{netlimit.NewFailLog(l, "netutil: PROXY protocol: connection refused", "netutil: PROXY protocol: connections refused alike", "reason", true)}
}

// refused logs, or counts, the connection from remote refused for err, a
// refusal of the kind given.
func (l *refusals) refused(remote net.Addr, kind string, err error) { l.Record(remote, kind, err) }

// close logs the counts not logged yet, when the listener closes.
func (l *refusals) close() { l.Close() }
