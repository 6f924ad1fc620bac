package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/polyrpc/polyrpc/metrics"
	"github.com/polyrpc/polyrpc/rpc"
)

// rpcdMetrics serves rpcd's metrics (-metrics-addr) at GET /metrics on a
// listener of its own: the Go runtime's, the process's and polyrpc's (see
// package metrics). A nil *rpcdMetrics measures nothing.
type rpcdMetrics struct {
	m   *metrics.Metrics
	srv atomic.Pointer[rpc.Server] // set by bind: its methods bound rpc_method
	hs  *http.Server
}

// startMetrics listens on addr and serves the metrics there; it returns
// nil for an empty addr.
func startMetrics(addr string, log *slog.Logger) (*rpcdMetrics, error) {
	if addr == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	rm := &rpcdMetrics{m: m, hs: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	go func() {
		if err := rm.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "error", err)
		}
	}()
	return rm, nil
}

// interceptors measure the calls of the server that bind names.
func (rm *rpcdMetrics) interceptors() []rpc.Interceptor {
	if rm == nil {
		return nil
	}
	return []rpc.Interceptor{rm.m.Server(rm.registered)}
}

func (rm *rpcdMetrics) registered(method string) bool {
	s := rm.srv.Load()
	if s == nil {
		return false
	}
	_, ok := s.Method(method)
	return ok
}

// bind names the server whose registered methods are rpc_method's values.
func (rm *rpcdMetrics) bind(s *rpc.Server) {
	if rm != nil {
		rm.srv.Store(s)
	}
}

// stop closes the metrics listener, once the others are shut down.
func (rm *rpcdMetrics) stop() {
	if rm != nil {
		rm.hs.Close()
	}
}
