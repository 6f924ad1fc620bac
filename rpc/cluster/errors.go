package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/polyrpc/polyrpc/rpc"
)

var (
	// ErrNoEndpoints is the error of a call made while the resolver gives
	// no endpoint; its text adds the resolver's error, if it failed.
	ErrNoEndpoints = errors.New("cluster: no endpoints")
	// ErrNotSent marks, for errors.Is, the error of a call that reached
	// no server: every endpoint tried failed before the call could run.
	// Sending it again later cannot run it twice.
	ErrNotSent = errors.New("cluster: the call reached no server")
)

// outcome is what an attempt's error says about the call.
type outcome int

const (
	// answered: done, whatever err is (nil, the server's answer, an
	// error of the call itself, such as params that do not encode).
	answered outcome = iota
	// notSent: the call provably did not run; the endpoint failed.
	notSent
	// mayHaveRun: the transport failed after the call may have reached
	// the server; the endpoint failed.
	mayHaveRun
)

// classify tells what err, the error of one attempt, says about the call;
// drain is set when the server answered that it is draining.
//
// Never sent: an error in the chain with a method NotSent() bool that
// returns true (the way for a transport to say so); one with a method
// HTTPStatus() int that returns 503 Service Unavailable; a dial that failed
// (a *net.OpError whose Op is "dial", a refused connection, a failed DNS
// lookup); rpc.ErrClosed, from an endpoint removed under the call; an
// *rpc.Error with code -32000 and message "draining".
//
// May have run: rpc.ErrConnectionLost, rpc.ErrNoReply, an HTTP status of
// 500 or more, a net.Error (a timeout, a reset), io.EOF, io.ErrUnexpectedEOF,
// ECONNRESET, EPIPE; and the end of a context that is not the caller's.
//
// Anything else is the call's own outcome: another *rpc.Error, an HTTP
// status below 500, an error that no endpoint would change (encoding).
func classify(err error) (o outcome, drain bool) {
	if err == nil {
		return answered, false
	}
	var re *rpc.Error
	if errors.As(err, &re) {
		if isDraining(re) {
			return notSent, true
		}
		return answered, false
	}
	var ns interface{ NotSent() bool }
	if errors.As(err, &ns) && ns.NotSent() {
		return notSent, false
	}
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		switch s := hs.HTTPStatus(); {
		case s == 503:
			return notSent, false
		case s >= 500:
			return mayHaveRun, false
		}
		return answered, false
	}
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.Is(err, rpc.ErrClosed),
		errors.As(err, &op) && op.Op == "dial",
		errors.Is(err, syscall.ECONNREFUSED),
		errors.As(err, &dns):
		return notSent, false
	}
	var ne net.Error
	switch {
	case errors.Is(err, rpc.ErrConnectionLost), errors.Is(err, rpc.ErrNoReply),
		errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return mayHaveRun, false
	}
	return answered, false
}

// isDraining reports the answer of a server that is shutting down: rpcd's
// system.health, and any server that refuses calls while it drains.
func isDraining(e *rpc.Error) bool {
	return e.Code == rpc.CodeServerError && e.Message == "draining"
}

// notSentError is the error of a call that reached no server.
type notSentError struct {
	err   error // the last attempt's
	tried int
}

func (e *notSentError) Error() string {
	if e.tried == 1 {
		return fmt.Sprintf("cluster: the call reached no server: %v", e.err)
	}
	return fmt.Sprintf("cluster: the call reached no server (%d endpoints tried; the last: %v)", e.tried, e.err)
}

func (e *notSentError) Unwrap() []error { return []error{ErrNotSent, e.err} }
