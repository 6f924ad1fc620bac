package auth_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// hostile describes a peer that misbehaves from its first message on.
type hostile struct {
	name string
	// send is what the peer writes (after its own challenge, for a peer
	// playing the client).
	send []byte
	// then: "close" closes the connection after send, "hang" keeps it open
	// and silent, "trickle" goes on writing one byte at a time.
	then string
	// want is an error the handshake's must wrap, besides ErrAuthentication,
	// and msg a part of its message.
	want error
	msg  string
}

func header(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func longHeader(n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{0xff, 0xff, 0xff, 0xff}, n)
}

// hostileCommon are the misdeeds either side can meet.
var hostileCommon = []hostile{
	{name: "declared 1 GB", send: header(1 << 30), then: "hang", want: frame.ErrTooLarge, msg: "over 256 bytes"},
	{name: "declared 1 TB, long form", send: longHeader(1 << 40), then: "hang", want: frame.ErrTooLarge, msg: "over 256 bytes"},
	{name: "declared 257 bytes", send: append(header(257), make([]byte, 257)...), then: "hang", want: frame.ErrTooLarge},
	{name: "negative length", send: header(0xfffffffe), then: "hang", want: frame.ErrBadHeader, msg: "malformed frame header"},
	{name: "an HTTP request", send: []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"), then: "hang", want: frame.ErrTooLarge},
	{name: "nothing, then close", then: "close", want: io.EOF, msg: "closed by the peer"},
	{name: "truncated header", send: []byte{0, 0}, then: "close", want: io.ErrUnexpectedEOF, msg: "closed by the peer"},
	{name: "truncated long header", send: []byte{0xff, 0xff, 0xff, 0xff, 0, 0}, then: "close", want: io.ErrUnexpectedEOF},
	{name: "truncated payload", send: append(header(100), "only ten b"...), then: "close", want: io.ErrUnexpectedEOF},
	{name: "silent", then: "hang", want: os.ErrDeadlineExceeded, msg: "timed out"},
	{name: "trickle", send: header(200), then: "trickle", want: os.ErrDeadlineExceeded, msg: "timed out"},
}

// hostileTimeout bounds the handshakes of these tests.
const hostileTimeout = 300 * time.Millisecond

// misbehave runs the peer's part on c until c is closed.
func misbehave(c net.Conn, h hostile) {
	c.Write(h.send)
	switch h.then {
	case "close":
		c.Close()
	case "trickle":
		for {
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func checkHostile(t *testing.T, h hostile, err error) {
	t.Helper()
	if !errors.Is(err, auth.ErrAuthentication) || !errors.Is(err, h.want) {
		t.Errorf("error %v; want ErrAuthentication and %v", err, h.want)
	}
	if h.msg != "" {
		wantErr(t, "handshake", err, h.msg)
	}
	// How long it took is not asserted: on a loaded machine any bound is
	// noise. A peer that hangs is ended by the timeout, whose error
	// (os.ErrDeadlineExceeded) the cases that hang check for.
}

func TestServerHostileClient(t *testing.T) {
	t.Parallel()
	cases := append(hostileCommon[:len(hostileCommon):len(hostileCommon)],
		hostile{name: "garbage answer", send: frame.Append(nil, []byte("not a digest at all, just bytes")), then: "hang",
			want: auth.ErrAuthentication, msg: "unsupported length, missing {digest} prefix"},
		hostile{name: "empty answer", send: frame.Append(nil, nil), then: "hang",
			want: auth.ErrAuthentication, msg: "unsupported length"},
	)
	srv := newServer(t, keySet(t, alice), auth.WithHandshakeTimeout(hostileTimeout))
	for _, h := range cases {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			sc, cc := loopback(t)
			go func() {
				// Read the challenge as a client does, so that closing
				// does not reset the connection.
				frame.Read(cc, nil, 256)
				misbehave(cc, h)
			}()
			_, err := srv.Handshake(context.Background(), sc)
			checkHostile(t, h, err)
		})
	}
}

func TestClientHostileServer(t *testing.T) {
	t.Parallel()
	// Where the challenge was due, a client says more.
	common := slices.Clone(hostileCommon)
	for i, h := range common {
		switch h.name {
		case "silent":
			common[i].msg = "none came in 300ms: the server does not require authentication, or speaks another protocol"
		case "an HTTP request":
			common[i].msg = "the server speaks HTTP"
		case "nothing, then close":
			common[i].msg = "closed by the peer without one"
		}
	}
	cases := append(common,
		hostile{name: "a TLS alert", send: []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a}, then: "close",
			want: frame.ErrTooLarge, msg: "the server speaks TLS"},
		hostile{name: "not a challenge", send: frame.Append(nil, []byte("+OK POP3 server ready")), then: "hang",
			want: auth.ErrAuthentication, msg: "protocol error: expected #CHALLENGE#"},
		hostile{name: "short challenge", send: frame.Append(nil, []byte("#CHALLENGE#tiny")), then: "hang",
			want: auth.ErrAuthentication, msg: "challenge of 4 bytes"},
		hostile{name: "challenge without a digest", send: frame.Append(nil, []byte("#CHALLENGE#no braces here, 36 bytes long")), then: "hang",
			want: auth.ErrAuthentication, msg: "missing {digest} prefix"},
	)
	cli := newClient(t, alice, auth.WithHandshakeTimeout(hostileTimeout))
	for _, h := range cases {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			sc, cc := loopback(t)
			go misbehave(sc, h)
			err := cli.Handshake(context.Background(), cc)
			checkHostile(t, h, err)
		})
	}
}

// TestServerHostileVerdict covers the client's last message: anything but
// #WELCOME# after the server's answer.
func TestServerHostileVerdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, verdict, msg string
	}{
		{"failure", "#FAILURE#", "rejected our answer"},
		{"other", "#WELCOME", "protocol error: expected #WELCOME#"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, keySet(t, alice))
			client := peer{secret: alice.Secret, answer: answerAsPython312, challenge: modern("sha256"),
				check: expect("sha256")}
			var id string
			serr, _ := both(t, goServer(srv, &id), func(c net.Conn) error {
				if err := client.respond(c); err != nil {
					return err
				}
				frame.Write(c, append([]byte("#CHALLENGE#"), client.challenge...))
				frame.Read(c, nil, 256)
				return frame.Write(c, []byte(tt.verdict))
			})
			wantErr(t, "server", serr, tt.msg)
		})
	}
}

// fakeConn is a net.Conn that reads from a buffer and discards what is
// written, to count a handshake's allocations without sockets.
type fakeConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *fakeConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *fakeConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// TestDeclaredGigabyteAllocatesNothing checks that a header declaring 1 GB
// is refused before any buffer of that size exists.
func TestDeclaredGigabyteAllocatesNothing(t *testing.T) {
	srv := newServer(t, keySet(t, alice))
	cli := newClient(t, alice)
	huge := header(1 << 30)
	const runs = 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := srv.Handshake(context.Background(), &fakeConn{r: bytes.NewReader(huge)}); !errors.Is(err, frame.ErrTooLarge) {
			t.Fatal(err)
		}
		if err := cli.Handshake(context.Background(), &fakeConn{r: bytes.NewReader(huge)}); !errors.Is(err, frame.ErrTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / (2 * runs); per > 16<<10 {
		t.Errorf("a handshake refusing a 1 GB frame allocated %d bytes", per)
	}
}

func TestHandshakeContext(t *testing.T) {
	t.Parallel()
	srv := newServer(t, keySet(t, alice)) // the default 10s timeout
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled before", func() (context.Context, context.CancelFunc) { return cancelled, func() {} }, context.Canceled},
		{"cancelled during", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline sooner than the timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc, _ := loopback(t) // the client end stays silent
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := srv.Handshake(ctx, sc)
			if !errors.Is(err, auth.ErrAuthentication) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("error %v, want ErrAuthentication and %v", err, tt.want)
			}
		})
	}
}

// TestHandshakeClearsDeadline checks that the connection outlives the
// handshake timeout once authenticated.
func TestHandshakeClearsDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const timeout = 50 * time.Millisecond
		srv := newServer(t, keySet(t, alice), auth.WithHandshakeTimeout(timeout))
		cli := newClient(t, alice, auth.WithHandshakeTimeout(timeout))
		sc, cc := net.Pipe()
		defer sc.Close()
		defer cc.Close()
		serr := make(chan error, 1)
		go func() {
			serr <- func() error {
				if _, err := srv.Handshake(context.Background(), sc); err != nil {
					return err
				}
				msg, err := frame.Read(sc, nil, 16)
				if err != nil {
					return err
				}
				return frame.Write(sc, msg)
			}()
		}()
		cerr := func() error {
			if err := cli.Handshake(context.Background(), cc); err != nil {
				return err
			}
			time.Sleep(3 * timeout) // past the handshake's deadline
			if err := frame.Write(cc, []byte("late")); err != nil {
				return err
			}
			_, err := frame.Read(cc, nil, 16)
			return err
		}()
		if err := <-serr; err != nil || cerr != nil {
			t.Errorf("server: %v; client: %v", err, cerr)
		}
	})
}
