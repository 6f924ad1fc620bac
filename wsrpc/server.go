package wsrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// subprotocols maps codec names to the subprotocols that pin them.
var subprotocols = map[string]string{
	"json":    "jsonrpc",
	"xml":     "xmlrpc",
	"msgpack": "msgpackrpc",
	"proto":   "protobuf",
}

// Subprotocol returns the WebSocket subprotocol that pins the codec of the
// given name ("json" → "jsonrpc"), or "" for a codec without one.
func Subprotocol(codec string) string { return subprotocols[codec] }

// isText reports whether the messages of codec c travel as text.
func isText(c rpc.Codec) bool {
	n := c.Name()
	return n == "json" || n == "xml"
}

func messageType(c rpc.Codec) websocket.MessageType {
	if isText(c) {
		return websocket.MessageText
	}
	return websocket.MessageBinary
}

// Handler serves an rpc.Server's methods over WebSocket: it upgrades the
// requests it gets (mount it at GET /ws) and serves each connection until
// it closes. It is safe for concurrent use.
type Handler struct {
	rpc    *rpc.Server
	cfg    config
	sniff  [256]rpc.Codec
	pinned map[string]rpc.Codec // by subprotocol
	protos []string

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
}

// NewHandler returns a Handler of s.
func NewHandler(s *rpc.Server, opts ...Option) (*Handler, error) {
	if s == nil {
		return nil, errors.New("wsrpc: NewHandler: nil rpc.Server")
	}
	cfg := config{
		maxMessage:   DefaultMaxMessageSize,
		maxInFlight:  DefaultMaxInFlight,
		pingInterval: DefaultPingInterval,
		idleTimeout:  DefaultIdleTimeout,
		writeTimeout: DefaultWriteTimeout,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	h := &Handler{rpc: s, cfg: cfg, pinned: map[string]rpc.Codec{}, conns: map[*conn]struct{}{}}
	for _, c := range s.Codecs() {
		if p := Subprotocol(c.Name()); p != "" {
			h.pinned[p] = c
			h.protos = append(h.protos, p)
		}
		sn, ok := c.(wire.Sniffer)
		if !ok {
			continue
		}
		for b := range 256 {
			if h.sniff[b] == nil && sn.Sniff(byte(b)) {
				h.sniff[b] = c
			}
		}
	}
	return h, nil
}

// ServeHTTP upgrades r and serves the connection until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		http.Error(w, "wsrpc: shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       h.protos,
		OriginPatterns:     h.cfg.origins,
		InsecureSkipVerify: h.cfg.anyOrigin,
	})
	if err != nil {
		return // Accept answered the request (403 for a foreign origin)
	}
	ws.SetReadLimit(int64(h.cfg.maxMessage))
	peer := &rpc.Peer{}
	if prev, ok := rpc.PeerFromContext(r.Context()); ok {
		*peer = *prev // the identity of an auth wrapper
	}
	peer.Transport = "ws"
	if r.TLS != nil {
		peer.Transport = "wss"
	}
	if peer.Addr == nil {
		if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
			peer.Addr = a
		}
	}
	c := &conn{h: h, ws: ws, sem: make(chan struct{}, h.cfg.maxInFlight), pinned: h.pinned[ws.Subprotocol()]}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c.cancel = cancel
	if b := h.rpc.Budget(); b != nil {
		c.holder = b.Holder()
	}
	c.ctx = wire.WithCallTable(rpc.WithPeer(ctx, peer), &c.calls)
	if !h.track(c) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		cancel()
		return
	}
	defer h.forget(c)
	c.serve()
}

func (h *Handler) track(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *Handler) forget(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// Shutdown refuses new upgrades and closes every connection with 1001
// (going away), once the calls in flight on it were answered or ctx ends.
// It returns when the connections are closed, or ctx's error.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.goAway(ctx) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.ws.CloseNow()
		}
		return ctx.Err()
	}
}

// conn is one WebSocket connection served.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	calls  wire.CallTable
	sem    chan struct{} // a token per message served
	wg     sync.WaitGroup
	pinned rpc.Codec    // by the subprotocol, or nil: sniffed
	holder *wire.Holder // of the server's budget, or nil

	last    atomic.Int64 // unix nanos of the last message read or reply written
	stopped atomic.Bool  // Shutdown: read no more
}

// closeWith closes the connection with code and reason; it waits a while
// for the peer's close frame.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.ws.Close(code, reason)
}

func (c *conn) serve() {
	defer func() {
		c.cancel()
		c.calls.CancelAll()
		c.wg.Wait()
		c.ws.CloseNow()
	}()
	c.last.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	defer close(stop)
	go c.keepalive(stop)
	for {
		c.sem <- struct{}{} // blocks at maxInFlight: backpressure
		if c.stopped.Load() {
			return
		}
		typ, msg, err := c.ws.Read(c.ctx)
		if err != nil {
			<-c.sem
			return // a close, a read error, a message over the limit (1009)
		}
		c.last.Store(time.Now().UnixNano())
		cost := int64(len(msg))
		if c.holder != nil {
			// The server's memory budget (rpc.WithMaxMemory), shared with
			// its other transports: wait for room, reading no more.
			if err := c.holder.Acquire(c.ctx, cost); err != nil {
				<-c.sem
				if errors.Is(err, wire.ErrOverBudget) {
					c.closeWith(websocket.StatusMessageTooBig, "message larger than the server's memory budget")
				}
				return
			}
		}
		if typ == websocket.MessageText && !utf8.Valid(msg) {
			c.closeWith(websocket.StatusInvalidFramePayloadData, "text message is not UTF-8")
			c.release(cost)
			return
		}
		codec := c.pinned
		if codec == nil && len(msg) > 0 {
			codec = c.h.sniff[msg[0]]
		}
		if codec == nil {
			reason := "empty message"
			if len(msg) > 0 {
				reason = fmt.Sprintf("no codec for a message starting with 0x%02x", msg[0])
			}
			c.closeWith(websocket.StatusUnsupportedData, reason)
			c.release(cost)
			return
		}
		if u, ok := codec.(wire.InOrder); ok && u.InOrder() {
			// No ids to match replies by: answer before reading on.
			c.wg.Wait()
			c.wg.Add(1)
			c.call(codec, msg, cost)
			continue
		}
		c.wg.Add(1)
		go c.call(codec, msg, cost)
	}
}

// call serves one message and writes its reply.
func (c *conn) call(codec rpc.Codec, msg []byte, cost int64) {
	defer func() {
		if v := recover(); v != nil {
			// rpc.Server recovers its handlers' panics; one here is a bug
			// of the codec or the transport: the connection cannot go on.
			c.ws.Close(websocket.StatusInternalError, "internal error")
		}
		c.last.Store(time.Now().UnixNano())
		c.release(cost)
		c.wg.Done()
	}()
	reply := c.h.rpc.ServeMessage(c.ctx, codec, msg, nil)
	if len(reply) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(c.ctx, c.h.cfg.writeTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, messageType(codec), reply); err != nil {
		// A write that fails or times out closes the connection; the
		// reader then ends.
		c.ws.CloseNow()
	}
}

// release gives back what a message held: its bytes of the budget and its
// token of sem.
func (c *conn) release(cost int64) {
	if c.holder != nil {
		c.holder.Release(cost)
	}
	<-c.sem
}

// keepalive pings the peer and closes the connection when it is idle.
func (c *conn) keepalive(stop <-chan struct{}) {
	cfg := &c.h.cfg
	tick := cfg.pingInterval
	if cfg.idleTimeout > 0 && (tick == 0 || cfg.idleTimeout/2 < tick) {
		tick = max(cfg.idleTimeout/2, time.Millisecond)
	}
	if tick == 0 {
		return
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := time.Now()
		if cfg.idleTimeout > 0 && len(c.sem) <= 1 && now.Sub(time.Unix(0, c.last.Load())) >= cfg.idleTimeout {
			// The token in sem is the reader's, waiting for a message.
			c.closeWith(websocket.StatusGoingAway, "idle timeout")
			return
		}
		if cfg.pingInterval > 0 && now.Sub(lastPing) >= cfg.pingInterval {
			lastPing = now
			pctx, cancel := context.WithTimeout(c.ctx, cfg.pingInterval)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
		}
	}
}

// goAway closes c with 1001 once its calls in flight are answered, or when
// ctx ends.
func (c *conn) goAway(ctx context.Context) {
	c.stopped.Store(true)
	// The reader holds a token of sem while it waits for a message; the
	// others are calls in flight.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for len(c.sem) > 1 {
		select {
		case <-t.C:
		case <-ctx.Done():
			c.ws.CloseNow()
			return
		}
	}
	c.ws.Close(websocket.StatusGoingAway, "server shutting down")
}
