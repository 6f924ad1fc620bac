package main

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

// health is what rpcd tells load balancers and orchestrators: GET /healthz
// answers 200 "ok" while the process serves; GET /readyz answers 200
// "ready", and 503 "draining" from the moment a shutdown starts. Neither
// needs authentication, and neither says more than that word. For
// deployments without the HTTP listener, the method system.health answers
// "ok", or fails with -32000 "draining" once a shutdown started.
//
// A shutdown drains before it stops: /readyz says 503 at once, the
// listeners stay open and serve as before, and only when no call is in
// flight (and -drain-delay has passed, for balancers that probe every few
// seconds) do they close and the graceful shutdown begin. -shutdown-timeout
// bounds the whole.
type health struct {
	draining atomic.Bool
	inFlight atomic.Int64
	idle     chan struct{} // signalled when inFlight drops to 0 while draining
	// shutdowns end, beside the listeners' servers, what serves
	// connections that left them (WebSocket); set while rpcd is built.
	shutdowns []func(context.Context) error
}

func newHealth() *health { return &health{idle: make(chan struct{}, 1)} }

// count is the interceptor that counts the calls in flight.
func (h *health) count(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
	h.inFlight.Add(1)
	defer func() {
		if h.inFlight.Add(-1) == 0 && h.draining.Load() {
			select {
			case h.idle <- struct{}{}:
			default:
			}
		}
	}()
	return next(ctx, call)
}

// errDraining is system.health's error once a shutdown started.
var errDraining = &rpc.Error{Code: rpc.CodeServerError, Message: "draining"}

// register adds system.health to s.
func (h *health) register(s *rpc.Server) error {
	return s.Register("system.health", func() (string, error) {
		if h.draining.Load() {
			return "", errDraining
		}
		return "ok", nil
	}, rpc.WithHelp(`Returns "ok" while the server serves; fails with -32000 "draining" once it is shutting down. For health checks over TCP; HTTP has GET /healthz and GET /readyz.`), rpc.Idempotent())
}

// routes adds /healthz and /readyz to mux.
func (h *health) routes(mux *http.ServeMux) {
	word := func(w http.ResponseWriter, status int, s string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write([]byte(s + "\n"))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		word(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if h.draining.Load() {
			word(w, http.StatusServiceUnavailable, "draining")
			return
		}
		word(w, http.StatusOK, "ready")
	})
}

// drain marks the server draining and waits until no call is in flight and
// delay has passed, or until ctx ends.
func (h *health) drain(ctx context.Context, delay time.Duration) {
	h.draining.Store(true)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return
	}
	for h.inFlight.Load() > 0 {
		select {
		case <-h.idle:
		case <-ctx.Done():
			return
		}
	}
}
