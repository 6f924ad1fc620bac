package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/polyrpc/polyrpc/internal/netpeek"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// The messages of multiprocessing.connection's handshake.
const (
	challengeTag = "#CHALLENGE#"
	welcome      = "#WELCOME#"
	failure      = "#FAILURE#"
	// maxMessage caps every handshake frame, as Python's recv_bytes(256).
	maxMessage = 256
	// nonceLen is the random part of our challenges (Python's MESSAGE_LENGTH).
	nonceLen = 40
)

// challengeWait bounds the wait of a client for the server's challenge,
// the first message of the handshake. A server that authenticates sends it
// as soon as it accepts the connection; a server that does not, or that
// speaks another protocol (TLS, HTTP), waits for the client to speak first,
// and would otherwise be waited on until the handshake timeout.
const challengeWait = 3 * time.Second

// session is one handshake on one connection.
type session struct {
	ctx      context.Context
	conn     net.Conn
	cfg      *config
	deadline time.Time // of the whole handshake
	buf      []byte    // reused for every message read; never grows past maxMessage
}

// run performs steps on conn within the configured time and ctx. The
// connection's deadline is cleared when it returns.
func run(ctx context.Context, conn net.Conn, cfg *config, steps func(*session) error) error {
	if err := context.Cause(ctx); err != nil {
		return fail(err, "handshake not started")
	}
	deadline := time.Now().Add(cfg.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fail(err, "setting the handshake deadline")
	}
	// A cancelled ctx interrupts the reads and writes under way.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	s := &session{ctx: ctx, conn: conn, cfg: cfg, deadline: deadline, buf: make([]byte, 0, maxMessage)}
	err := steps(s)
	if !stop() && err == nil {
		err = fail(context.Cause(ctx), "handshake interrupted")
	}
	conn.SetDeadline(time.Time{})
	return err
}

// read reads one handshake message. The result is valid until the next read.
func (s *session) read(step string) ([]byte, error) {
	msg, err := frame.Read(s.conn, s.buf[:0], maxMessage)
	if err != nil {
		return nil, ioError(s.ctx, step, err)
	}
	return msg, nil
}

// readChallenge reads the peer's challenge, waiting at most challengeWait
// for it to begin, and explains a peer that sends none or another protocol.
func (s *session) readChallenge() ([]byte, error) {
	const step = "reading the peer's challenge"
	wait := min(challengeWait, time.Until(s.deadline))
	if wait < challengeWait {
		wait = wait.Round(time.Millisecond)
	} else {
		s.setReadDeadline(time.Now().Add(challengeWait))
	}
	var h [4]byte
	n, err := io.ReadFull(s.conn, h[:])
	s.setReadDeadline(s.deadline)
	if err != nil && n == 0 && !errors.Is(s.ctx.Err(), context.Canceled) {
		const unlike = "the server does not require authentication, or speaks another protocol (TLS, HTTP?)"
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, fail(err, fmt.Sprintf("%s: none came in %v: %s", step, wait, unlike))
		case errors.Is(err, io.EOF):
			return nil, fail(err, fmt.Sprintf("%s: connection closed by the peer without one: %s, or refused the connection", step, unlike))
		}
	}
	if err != nil {
		return nil, ioError(s.ctx, step, err)
	}
	if _, err := frame.ReadHeader(bytes.NewReader(h[:]), maxMessage); err != nil {
		if p := netpeek.Foreign(h[:]); p != "" {
			return nil, fail(err, fmt.Sprintf("%s: the server speaks %s", step, p))
		}
	}
	msg, err := frame.Read(io.MultiReader(bytes.NewReader(h[:]), s.conn), s.buf[:0], maxMessage)
	if err != nil {
		return nil, ioError(s.ctx, step, err)
	}
	return msg, nil
}

// setReadDeadline sets the connection's read deadline to d, unless ctx has
// ended, whose hook in run set it in the past.
func (s *session) setReadDeadline(d time.Time) {
	s.conn.SetReadDeadline(d)
	if s.ctx.Err() != nil {
		s.conn.SetDeadline(time.Unix(1, 0))
	}
}

func (s *session) write(step string, msg []byte) error {
	if err := frame.Write(s.conn, msg); err != nil {
		return ioError(s.ctx, step, err)
	}
	return nil
}

// deliver is Python's deliver_challenge: it challenges the peer, checks its
// answer against every key, and tells the peer #WELCOME# or #FAILURE#. It
// returns the index of the key the peer holds.
func (s *session) deliver(keys []Key) (int, error) {
	challenge := make([]byte, 0, len(challengeTag)+len(offered.name)+2+nonceLen)
	challenge = append(challenge, challengeTag+"{"+offered.name+"}"...)
	n := len(challenge)
	challenge = challenge[:n+nonceLen]
	if _, err := io.ReadFull(s.cfg.rand, challenge[n:]); err != nil {
		return -1, fail(err, "generating a challenge")
	}
	if err := s.write("sending our challenge", challenge); err != nil {
		return -1, err
	}
	answer, err := s.read("reading the answer to our challenge")
	if err != nil {
		return -1, err
	}
	matched, err := s.verify(keys, challenge[len(challengeTag):], answer)
	if err != nil {
		// Best effort: the peer learns why the connection closes.
		s.write("sending #FAILURE#", []byte(failure))
		return -1, err
	}
	if err := s.write("sending #WELCOME#", []byte(welcome)); err != nil {
		return -1, err
	}
	return matched, nil
}

// verify is Python's _verify_challenge, for a set of keys. Every key is
// tried, so that the time taken does not tell which one matched.
func (s *session) verify(keys []Key, body, answer []byte) (int, error) {
	d, got, ok := parseMessage(answer)
	if !ok {
		return -1, authError("answer %s: unsupported length, missing {digest} prefix or unsupported digest", quote(answer))
	}
	if d == nil {
		if !s.cfg.allowMD5 {
			return -1, authError("legacy HMAC-MD5 answer (a Python 3.11 or older peer?) refused: WithAllowMD5 accepts it")
		}
		d = md5Digest
	} else if d.weak && !s.cfg.allowMD5 {
		return -1, authError("{%s} answer refused: WithAllowMD5 accepts it", d.name)
	}
	if len(got) != d.size {
		return -1, authError("%s answer of %d bytes, want %d", d.name, len(got), d.size)
	}
	matched := -1
	for i, k := range keys {
		if hmac.Equal(mac(d, k.Secret, body), got) && matched < 0 {
			matched = i
		}
	}
	if matched < 0 {
		return -1, authError("wrong key: the peer's %s answer matches no key of ours", d.name)
	}
	return matched, nil
}

// answer is Python's answer_challenge: it answers the peer's challenge with
// key and expects #WELCOME#.
func (s *session) answer(key Key) error {
	msg, err := s.readChallenge()
	if err != nil {
		return err
	}
	body, ok := bytes.CutPrefix(msg, []byte(challengeTag))
	if !ok {
		return authError("protocol error: expected %s, got %s", challengeTag, quote(msg))
	}
	if len(body) < legacyChallengeLen {
		return authError("protocol error: challenge of %d bytes, want at least %d", len(body), legacyChallengeLen)
	}
	d, _, ok := parseMessage(body)
	switch {
	case !ok:
		return authError("challenge %s: missing {digest} prefix or unsupported digest", quote(body))
	case d == nil && !s.cfg.allowMD5:
		return authError("legacy HMAC-MD5 challenge (a Python 3.11 or older peer?) refused: WithAllowMD5 answers it")
	case d != nil && d.weak && !s.cfg.allowMD5:
		return authError("{%s} challenge refused: WithAllowMD5 answers it", d.name)
	}
	var out [1 + 8 + 1 + 64]byte
	if err := s.write("sending our answer", appendResponse(out[:0], d, key.Secret, body)); err != nil {
		return err
	}
	msg, err = s.read("reading the verdict on our answer")
	if err != nil {
		return err
	}
	switch string(msg) {
	case welcome:
		return nil
	case failure:
		return authError("the peer rejected our answer (%s): wrong key?", failure)
	}
	return authError("protocol error: expected %s, got %s", welcome, quote(msg))
}
