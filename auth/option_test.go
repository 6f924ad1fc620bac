package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc"
)

// TestOptions: one Option type for the three constructors; zero means the
// default; a negative value, an option of another constructor or a nil
// argument is an error of the constructor.
func TestOptions(t *testing.T) {
	t.Parallel()
	keys := keySet(t, alice)
	zero := []auth.Option{auth.WithHandshakeTimeout(0), auth.WithAllowMD5(false)}
	if _, err := auth.NewServer(keys, zero...); err != nil {
		t.Errorf("NewServer with zero options: %v", err)
	}
	if _, err := auth.NewClient(alice, zero...); err != nil {
		t.Errorf("NewClient with zero options: %v", err)
	}
	if _, err := auth.NewHTTPHandler(echo, keys, auth.WithNonceTTL(0), auth.WithMaxNonces(0), auth.WithMaxMessageSize(0), auth.WithLogger(nil)); err != nil {
		t.Errorf("NewHTTPHandler with zero options: %v", err)
	}

	handshakeCases := []struct {
		opt  auth.Option
		want string
	}{
		{auth.WithHandshakeTimeout(-time.Second), "auth: WithHandshakeTimeout(-1s): negative"},
		{auth.WithNonceTTL(time.Second), "auth: WithNonceTTL is an option of NewHTTPHandler"},
		{auth.WithMaxNonces(1), "WithMaxNonces is an option of NewHTTPHandler"},
		{auth.WithMaxMessageSize(1), "WithMaxMessageSize is an option of NewHTTPHandler"},
		{auth.WithLogger(slog.Default()), "WithLogger is an option of NewHTTPHandler"},
	}
	for _, tt := range handshakeCases {
		if _, err := auth.NewServer(keys, tt.opt); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewServer: %v, want an error containing %q", err, tt.want)
		}
		if _, err := auth.NewClient(alice, tt.opt); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewClient: %v, want an error containing %q", err, tt.want)
		}
	}
	httpCases := []struct {
		opt  auth.Option
		want string
	}{
		{auth.WithNonceTTL(-time.Second), "WithNonceTTL(-1s): negative"},
		{auth.WithMaxNonces(-1), "WithMaxNonces(-1): negative"},
		{auth.WithMaxMessageSize(-1), "WithMaxMessageSize(-1): negative"},
		{auth.WithHandshakeTimeout(time.Second), "auth: WithHandshakeTimeout is an option of NewServer and NewClient"},
		{auth.WithAllowMD5(true), "WithAllowMD5 is an option of NewServer and NewClient"},
	}
	for _, tt := range httpCases {
		if _, err := auth.NewHTTPHandler(echo, keys, tt.opt); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewHTTPHandler: %v, want an error containing %q", err, tt.want)
		}
	}
	if _, err := auth.NewServer(nil); err == nil {
		t.Error("NewServer(nil): no error")
	}
	if _, err := auth.NewHTTPHandler(echo, nil); err == nil {
		t.Error("NewHTTPHandler with a nil KeySet: no error")
	}
	if _, err := auth.NewHTTPHandler(nil, keys); err == nil {
		t.Error("NewHTTPHandler with a nil handler: no error")
	}
}

// TestHandshakeFailureIsAnRPCError: a failed handshake is an *rpc.Error with
// CodeUnauthenticated, matched by ErrAuthentication, whatever the transport
// that carries it, and still wraps what caused it.
func TestHandshakeFailureIsAnRPCError(t *testing.T) {
	t.Parallel()
	srv := newServer(t, keySet(t, alice))
	var id string
	serr, cerr := both(t, goServer(srv, &id), goClient(newClient(t, bob)))
	for side, err := range map[string]error{"server": serr, "client": cerr} {
		var re *rpc.Error
		if !errors.As(err, &re) || re.Code != rpc.CodeUnauthenticated || !strings.Contains(re.Message, "auth: authentication failed") {
			t.Errorf("%s: %v, want an *rpc.Error with CodeUnauthenticated", side, err)
		}
		if !errors.Is(err, auth.ErrAuthentication) || !errors.Is(err, rpc.ErrUnauthenticated) {
			t.Errorf("%s: %v, not ErrAuthentication", side, err)
		}
	}
	// The cause is wrapped too.
	sc, _ := loopback(t)
	_, err := newServer(t, keySet(t, alice), auth.WithHandshakeTimeout(50*time.Millisecond)).Handshake(context.Background(), sc)
	if !errors.Is(err, auth.ErrAuthentication) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("timed out: %v, want ErrAuthentication and os.ErrDeadlineExceeded", err)
	}
	// Any *rpc.Error with the code matches, as a transport returns for a
	// call refused for its credentials.
	if !errors.Is(&rpc.Error{Code: rpc.CodeUnauthenticated, Message: "401"}, auth.ErrAuthentication) {
		t.Error("an *rpc.Error with CodeUnauthenticated does not match ErrAuthentication")
	}
}

// TestClientWaitsForTheChallengeAtMost3s: a client whose server says
// nothing gives up after 3 seconds, not at the handshake timeout, and says
// why; a deadline sooner than that wins.
func TestClientWaitsForTheChallengeAtMost3s(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ctx  time.Duration // 0: no deadline
		want time.Duration
	}{
		{"no deadline", 0, auth.ChallengeWait},
		{"a minute", time.Minute, auth.ChallengeWait},
		{"a second", time.Second, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cli := newClient(t, alice) // the default 10s timeout
				sc, cc := net.Pipe()
				defer sc.Close()
				defer cc.Close()
				ctx := context.Background()
				if tt.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctx)
					defer cancel()
				}
				start := time.Now()
				err := cli.Handshake(ctx, cc)
				if d := time.Since(start); d != tt.want {
					t.Errorf("failed after %v, want %v", d, tt.want)
				}
				want := "none came in " + tt.want.String() + ": the server does not require authentication, or speaks another protocol"
				if !errors.Is(err, auth.ErrAuthentication) || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want ErrAuthentication and %q", err, want)
				}
			})
		})
	}
	// A challenge that comes late, but within the wait, is answered.
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, keySet(t, alice))
		cli := newClient(t, alice)
		sc, cc := net.Pipe()
		defer sc.Close()
		defer cc.Close()
		go func() {
			time.Sleep(auth.ChallengeWait - time.Millisecond)
			srv.Handshake(context.Background(), sc)
		}()
		if err := cli.Handshake(context.Background(), cc); err != nil {
			t.Errorf("a challenge just within the wait: %v", err)
		}
	})
}

// TestHTTPHandlerLogsWrongCredentials: wrong credentials are logged, the
// missing ones of every client's first request are not.
func TestHTTPHandlerLogsWrongCredentials(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	srv := inProcess(newHandler(t, echo, keySet(t, alice), auth.WithLogger(log)))
	nonce := challenge(t, srv)
	if buf.Len() != 0 {
		t.Errorf("a request without credentials was logged: %s", buf.String())
	}
	s := request(nonce)
	s.key = auth.Key{ID: "alice", Secret: []byte("a guess")}
	if resp, _ := s.send(t, srv); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong key: %d", resp.StatusCode)
	}
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "keyid=alice") || !strings.Contains(got, "wrong MAC") {
		t.Errorf("a wrong key logged %q", got)
	}
}
