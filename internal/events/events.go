// Package events carries what polyrpc's transports tell about their
// connections to one process-wide observer: connections opened and closed,
// limits hit, authentication failures. A metrics package installs the
// observer (see metrics.New); with none installed, each report costs one
// atomic load.
//
// Transports name themselves "http" (httprpc, on either engine) and "tcp"
// (tcprpc, on TCP and Unix sockets alike). Limits are named after the
// option that sets them: "max_conns", "max_conns_per_ip",
// "max_message_size", "max_memory", "max_in_flight".
package events

import "sync/atomic"

// Observer receives the events. Its methods are called from the transports'
// goroutines, concurrently, and must not block.
type Observer interface {
	ConnOpened(transport string)
	ConnClosed(transport string)
	LimitHit(transport, limit string)
	AuthFailed(transport string)
}

type holder struct{ o Observer }

var current atomic.Pointer[holder]

// Set installs o as the process's observer, replacing any other; nil
// removes it.
func Set(o Observer) {
	if o == nil {
		current.Store(nil)
		return
	}
	current.Store(&holder{o})
}

// ConnOpened reports a connection accepted and admitted by transport.
func ConnOpened(transport string) {
	if h := current.Load(); h != nil {
		h.o.ConnOpened(transport)
	}
}

// ConnClosed reports the end of a connection that ConnOpened reported.
func ConnClosed(transport string) {
	if h := current.Load(); h != nil {
		h.o.ConnClosed(transport)
	}
}

// LimitHit reports a connection or a message held back or refused by a
// limit of transport.
func LimitHit(transport, limit string) {
	if h := current.Load(); h != nil {
		h.o.LimitHit(transport, limit)
	}
}

// AuthFailed reports a failed authentication on transport: a TCP handshake
// that failed, an HTTP request whose credentials were wrong.
func AuthFailed(transport string) {
	if h := current.Load(); h != nil {
		h.o.AuthFailed(transport)
	}
}
