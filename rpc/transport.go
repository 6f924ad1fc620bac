package rpc

import "context"

// Transport carries a client's messages, one exchange at a time: HTTP is
// such a transport (see NewClient). Stream transports, whose connections
// carry many calls at once, hand NewStreamClient a wire.Dialer instead.
// Implementations are safe for concurrent use.
type Transport interface {
	// Exchange sends msg, encoded in codec c, and returns the reply, which
	// then belongs to the caller. When oneway is set (the message holds only
	// notifications) no reply is awaited and the returned reply is nil. msg
	// belongs to the caller again once Exchange returns.
	Exchange(ctx context.Context, c Codec, msg []byte, oneway bool) ([]byte, error)
	// Close releases the transport's resources. Close is idempotent.
	Close() error
}

// InProcess returns a Transport that hands messages straight to s, with no
// bytes on any wire but the codec's. It suits tests and examples, and calls
// from one part of a program to another that must go through the codecs.
func InProcess(s *Server) Transport {
	return &inProcess{s: s, peer: &Peer{Transport: "inproc"}}
}

type inProcess struct {
	s    *Server
	peer *Peer
}

func (t *inProcess) Exchange(ctx context.Context, c Codec, msg []byte, oneway bool) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reply := t.s.ServeMessage(WithPeer(ctx, t.peer), c, msg, nil)
	if oneway {
		return nil, nil
	}
	return reply, nil
}

func (t *inProcess) Close() error { return nil }
