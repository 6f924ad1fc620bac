package auth

import (
	"context"
	"net"
)

// Client authenticates a connection to a server as the client side of
// Python's multiprocessing.connection handshake (Client(address, authkey=)):
// it answers the server's challenge, then challenges the server, which must
// prove it holds the same key. A Client is safe for concurrent use.
type Client struct {
	key Key
	cfg config
}

// NewClient returns a Client that authenticates with key. It refuses an
// invalid key (see Key), and an invalid option or one of NewHTTPHandler.
func NewClient(key Key, opts ...Option) (*Client, error) {
	if err := key.check(); err != nil {
		return nil, err
	}
	cfg, err := newConfig(client, opts)
	if err != nil {
		return nil, err
	}
	return &Client{key: key.clone(), cfg: cfg}, nil
}

// Handshake authenticates conn, the client end of a new connection. It bounds
// its time by the handshake timeout and by ctx, and clears conn's deadline on
// return. A server that sends no challenge within 3 seconds fails it at
// once: such a server does not authenticate its clients, or speaks another
// protocol. On error, which matches ErrAuthentication, the caller must close
// conn.
//
// It fits tcprpc.WithClientHandshake.
func (c *Client) Handshake(ctx context.Context, conn net.Conn) error {
	return run(ctx, conn, &c.cfg, func(s *session) error {
		if err := s.answer(c.key); err != nil {
			return err
		}
		_, err := s.deliver([]Key{c.key})
		return err
	})
}
