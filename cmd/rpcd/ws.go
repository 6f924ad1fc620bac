package main

import (
	"log/slog"
	"net/http"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/wsrpc"
)

// handleWS serves s over WebSocket at GET /ws of mux (wss:// when the HTTP
// listener has TLS), with the limits of the other listeners (-max-message,
// -max-in-flight, -idle-timeout, -write-timeout) and the cross-origin
// policy of -allow-origin; when keys are given, the upgrade request passes
// through the same PolyRPC-HMAC wrapper as the HTTP handler's.
func handleWS(mux *http.ServeMux, cfg config, s *rpc.Server, keys *auth.KeySet, log *slog.Logger) error {
	opts := []wsrpc.Option{
		wsrpc.WithMaxMessageSize(cfg.maxMessage),
		wsrpc.WithIdleTimeout(max(cfg.idleTimeout, 0)),
		wsrpc.WithAllowOrigin(cfg.allowOrigins...),
	}
	if cfg.maxInFlight > 0 {
		opts = append(opts, wsrpc.WithMaxInFlight(cfg.maxInFlight))
	}
	if cfg.writeTimeout > 0 {
		opts = append(opts, wsrpc.WithWriteTimeout(cfg.writeTimeout))
	}
	h, err := wsrpc.NewHandler(s, opts...)
	if err != nil {
		return err
	}
	var handler http.Handler = h
	if keys != nil {
		if handler, err = auth.NewHTTPHandler(h, keys, auth.WithMaxMessageSize(cfg.maxMessage),
			auth.WithMemoryBudget(s.Budget()), auth.WithLogger(log)); err != nil {
			return err
		}
	}
	mux.Handle("GET /ws", handler)
	cfg.health.shutdowns = append(cfg.health.shutdowns, h.Shutdown)
	return nil
}
