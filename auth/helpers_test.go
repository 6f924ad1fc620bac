package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"errors"
	"hash"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

var (
	alice  = auth.Key{ID: "alice", Secret: []byte("alice's secret, 32 bytes or so..")}
	bob    = auth.Key{ID: "bob", Secret: []byte("bob's secret")}
	oldKey = auth.Key{ID: "old", Secret: []byte("the key being retired")}
	newKey = auth.Key{ID: "new", Secret: []byte("the key taking over")}
)

func keySet(t testing.TB, keys ...auth.Key) *auth.KeySet {
	t.Helper()
	ks, err := auth.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func newServer(t testing.TB, keys *auth.KeySet, opts ...auth.Option) *auth.Server {
	t.Helper()
	s, err := auth.NewServer(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newHandler(t testing.TB, next http.Handler, keys *auth.KeySet, opts ...auth.Option) *auth.HTTPHandler {
	t.Helper()
	h, err := auth.NewHTTPHandler(next, keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newClient(t testing.TB, key auth.Key, opts ...auth.Option) *auth.Client {
	t.Helper()
	c, err := auth.NewClient(key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loopback returns the two ends of a TCP connection on 127.0.0.1.
func loopback(t testing.TB) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// both runs the two sides of a handshake on the ends of a loopback
// connection, each closing its end when it returns, as a real caller does.
func both(t testing.TB, server func(net.Conn) error, client func(net.Conn) error) (serr, cerr error) {
	t.Helper()
	sc, cc := loopback(t)
	done := make(chan error, 1)
	go func() {
		err := server(sc)
		sc.Close()
		done <- err
	}()
	cerr = client(cc)
	cc.Close()
	return <-done, cerr
}

// goServer adapts a Server to both, recording the identity.
func goServer(s *auth.Server, identity *string) func(net.Conn) error {
	return func(c net.Conn) error {
		id, err := s.Handshake(context.Background(), c)
		*identity = id
		return err
	}
}

func goClient(c *auth.Client) func(net.Conn) error {
	return func(conn net.Conn) error { return c.Handshake(context.Background(), conn) }
}

// The rest of this file is an independent implementation of both
// generations of Python's handshake, to check the package against.

var testDigests = map[string]func() hash.Hash{
	"md5":      md5.New,
	"sha256":   sha256.New,
	"sha384":   sha512.New384,
	"sha512":   sha512.New, // not one Python allows
	"sha3_256": func() hash.Hash { return sha3.New256() },
	"sha3_384": func() hash.Hash { return sha3.New384() },
}

func hmacOf(name string, secret, msg []byte) []byte {
	m := hmac.New(testDigests[name], secret)
	m.Write(msg)
	return m.Sum(nil)
}

var errRejected = errors.New("rejected")

// modern returns a challenge body "{name}" + 40 random bytes.
func modern(name string) []byte {
	b := append([]byte("{"+name+"}"), make([]byte, 40)...)
	rand.Read(b[len(b)-40:])
	return b
}

func legacy() []byte {
	b := make([]byte, 20)
	rand.Read(b)
	return b
}

// answerWith answers a challenge body with the named digest ("" is the bare
// HMAC-MD5 of Python 3.11).
func answerWith(name string) func(secret, body []byte) []byte {
	return func(secret, body []byte) []byte {
		if name == "" {
			return hmacOf("md5", secret, body)
		}
		return append([]byte("{"+name+"}"), hmacOf(name, secret, body)...)
	}
}

// answerAsPython312 answers in the digest the challenge names, or bare MD5
// for a 20-byte challenge.
func answerAsPython312(secret, body []byte) []byte {
	if len(body) == 20 {
		return answerWith("")(secret, body)
	}
	name := string(body[1:bytes.IndexByte(body, '}')])
	return answerWith(name)(secret, body)
}

// expect checks an answer to body: in the named digest, or bare MD5 for "".
func expect(name string) func(secret, body, answer []byte) bool {
	return func(secret, body, answer []byte) bool {
		return bytes.Equal(answer, answerWith(name)(secret, body))
	}
}

// peer is a scripted end of the handshake.
type peer struct {
	secret    []byte
	challenge []byte                                 // body of the challenge we send
	check     func(secret, body, answer []byte) bool // of the answer we get
	answer    func(secret, body []byte) []byte       // to the challenge we get
}

func (p peer) deliver(c net.Conn) error {
	if err := frame.Write(c, append([]byte("#CHALLENGE#"), p.challenge...)); err != nil {
		return err
	}
	got, err := frame.Read(c, nil, 256)
	if err != nil {
		return err
	}
	if !p.check(p.secret, p.challenge, got) {
		frame.Write(c, []byte("#FAILURE#"))
		return errRejected
	}
	return frame.Write(c, []byte("#WELCOME#"))
}

func (p peer) respond(c net.Conn) error {
	msg, err := frame.Read(c, nil, 256)
	if err != nil {
		return err
	}
	body, ok := bytes.CutPrefix(msg, []byte("#CHALLENGE#"))
	if !ok {
		return errors.New("no challenge")
	}
	if err := frame.Write(c, p.answer(p.secret, body)); err != nil {
		return err
	}
	verdict, err := frame.Read(c, nil, 256)
	if err != nil {
		return err
	}
	if string(verdict) != "#WELCOME#" {
		return errRejected
	}
	return nil
}

// asServer runs the peer as Listener.accept does, asClient as Client does.
func (p peer) asServer(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := p.deliver(c); err != nil {
		return err
	}
	return p.respond(c)
}

func (p peer) asClient(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := p.respond(c); err != nil {
		return err
	}
	return p.deliver(c)
}

// wantErr checks err against a wanted substring of its message, "" for none.
func wantErr(t testing.TB, side string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error: %v", side, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", side, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q, want one containing %q", side, err, want)
	}
}
