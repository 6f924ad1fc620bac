package wsrpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/coder/websocket"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// NewClient returns a client of the server at rawURL (ws://host/ws or
// wss://host/ws) in codec c. Its calls share one WebSocket connection,
// matched to their replies by id (rpc.NewStreamClient): ids,
// cancellation ($/cancelRequest) and metadata work as over TCP. The
// connection is opened at the first call, and again after it broke. With a
// codec without ids (XML-RPC) each connection carries one call at a time.
func NewClient(rawURL string, c rpc.Codec, opts ...ClientOption) (*rpc.Client, error) {
	if c == nil {
		return nil, errors.New("wsrpc: NewClient: nil codec")
	}
	dial, cfg, err := newDialer(rawURL, c, opts)
	if err != nil {
		return nil, err
	}
	return rpc.NewStreamClient(dial, c, cfg.rpcOpts...)
}

// Dialer returns a wire.Dialer of WebSocket streams to rawURL whose
// messages are in codec c.
func Dialer(rawURL string, c rpc.Codec, opts ...ClientOption) (wire.Dialer, error) {
	dial, _, err := newDialer(rawURL, c, opts)
	return dial, err
}

func newDialer(rawURL string, c rpc.Codec, opts []ClientOption) (wire.Dialer, *clientConfig, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("wsrpc: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, nil, fmt.Errorf("wsrpc: %q: the scheme must be ws or wss", rawURL)
	}
	cfg := &clientConfig{maxMessage: DefaultMaxMessageSize}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, nil, err
		}
	}
	hc := cfg.httpClient
	if hc == nil && cfg.tls != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.tls
		hc = &http.Client{Transport: tr}
	}
	dopts := &websocket.DialOptions{HTTPClient: hc, HTTPHeader: cfg.header}
	if p := Subprotocol(c.Name()); p != "" && !cfg.noPin {
		dopts.Subprotocols = []string{p}
	}
	typ := messageType(c)
	dial := func(ctx context.Context) (wire.Stream, error) {
		ws, resp, err := websocket.Dial(ctx, rawURL, dopts)
		if err != nil {
			if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
				return nil, fmt.Errorf("wsrpc: dialing %s: %s: %w", rawURL, resp.Status, err)
			}
			return nil, fmt.Errorf("wsrpc: dialing %s: %w", rawURL, err)
		}
		ws.SetReadLimit(int64(cfg.maxMessage))
		s := &stream{ws: ws, typ: typ}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		return s, nil
	}
	return dial, cfg, nil
}

// stream is a wire.Stream over a WebSocket connection: a message each way
// is a WebSocket message.
type stream struct {
	ws     *websocket.Conn
	typ    websocket.MessageType
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	once   sync.Once
}

// WriteMessage writes msg as one message. A write is never cut short by
// ctx, which would break the connection for every call; it fails when the
// connection closes, or when the server takes no bytes for the write
// timeout (DefaultWriteTimeout), which closes the connection.
func (s *stream) WriteMessage(ctx context.Context, msg []byte) error {
	wctx, cancel := context.WithTimeout(s.ctx, DefaultWriteTimeout)
	defer cancel()
	return s.ws.Write(wctx, s.typ, msg)
}

// ReadMessage reads the next message and appends it to dst.
func (s *stream) ReadMessage(dst []byte) ([]byte, error) {
	_, msg, err := s.ws.Read(s.ctx)
	if err != nil {
		if code := websocket.CloseStatus(err); code != -1 {
			return dst, fmt.Errorf("wsrpc: the server closed the connection (%d): %w", int(code), err)
		}
		return dst, err
	}
	return append(dst, msg...), nil
}

// Close closes the connection with 1000 (normal closure).
func (s *stream) Close() error {
	s.once.Do(func() {
		go func() {
			s.ws.Close(websocket.StatusNormalClosure, "")
			s.cancel()
		}()
	})
	return nil
}
