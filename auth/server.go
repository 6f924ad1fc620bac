package auth

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/polyrpc/polyrpc/internal/events"
)

// Server authenticates the connections a listener accepts, as the server
// side of Python's multiprocessing.connection handshake (Listener.accept):
// it challenges the client, then answers the client's challenge with the key
// the client proved it holds. A Server is safe for concurrent use.
type Server struct {
	keys  *KeySet
	cfg   config
	fails *failureLog
}

// NewServer returns a Server that accepts a client holding any key of keys.
// It fails for a nil KeySet and for an invalid option, or one of
// NewHTTPHandler.
func NewServer(keys *KeySet, opts ...Option) (*Server, error) {
	if keys == nil {
		return nil, errors.New("auth: NewServer: nil KeySet")
	}
	cfg, err := newConfig(server, opts)
	if err != nil {
		return nil, err
	}
	return &Server{keys: keys, cfg: cfg, fails: newFailureLog(cfg.log, "handshake")}, nil
}

// Handshake authenticates conn, the server end of a new connection, and
// returns the ID of the key the client holds. It bounds its time by the
// handshake timeout and by ctx, and clears conn's deadline on return. On
// error, which matches ErrAuthentication, the client has been told
// #FAILURE# where the protocol allows it, and the caller must close conn.
// A failure is logged as WithLogger says, unless ctx was cancelled.
//
// It fits tcprpc.WithHandshake.
func (s *Server) Handshake(ctx context.Context, conn net.Conn) (identity string, err error) {
	err = run(ctx, conn, &s.cfg, func(ss *session) error {
		i, err := ss.deliver(s.keys.keys)
		if err != nil {
			return err
		}
		identity = s.keys.keys[i].ID
		return ss.answer(s.keys.keys[i])
	})
	if err != nil {
		if !errors.Is(context.Cause(ctx), context.Canceled) {
			s.fails.record(addrString(conn.RemoteAddr()), "", strings.TrimPrefix(err.Error(), failPrefix))
			events.AuthFailed("tcp")
		}
		return "", err
	}
	return identity, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	return a.String()
}
