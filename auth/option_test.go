package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
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
		{auth.WithAllowInsecureKeyPerms(true), "WithAllowInsecureKeyPerms is an option of LoadKeyFile"},
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
	if _, err := auth.NewServer(keys, auth.WithLogger(slog.Default())); err != nil {
		t.Errorf("NewServer with a logger: %v", err)
	}
	if _, err := auth.NewClient(alice, auth.WithLogger(slog.Default())); err == nil || !strings.Contains(err.Error(), "auth: WithLogger is an option of NewServer and NewHTTPHandler") {
		t.Errorf("NewClient with a logger: %v", err)
	}
	if _, err := auth.LoadKeyFile("/nonexistent", auth.WithLogger(slog.Default())); err == nil || !strings.Contains(err.Error(), "WithLogger is an option of NewServer and NewHTTPHandler") {
		t.Errorf("LoadKeyFile with a logger: %v", err)
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

// logLines collects the lines of a text logger.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.buf.String())
	l.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (l *logLines) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// wantLines checks lines against one list of substrings per line, in any
// order.
func wantLines(t *testing.T, when string, lines []string, want ...[]string) {
	t.Helper()
	if len(lines) != len(want) {
		t.Errorf("%s: %d lines, want %d:\n%s", when, len(lines), len(want), strings.Join(lines[:min(len(lines), 5)], "\n"))
		return
	}
	left := slices.Clone(lines)
	for _, parts := range want {
		i := slices.IndexFunc(left, func(l string) bool {
			for _, p := range parts {
				if !strings.Contains(l, p) {
					return false
				}
			}
			return true
		})
		if i < 0 {
			t.Errorf("%s: no line with %q in\n%s", when, parts, strings.Join(lines, "\n"))
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
}

// TestHTTPFailuresLogged (issue 13, finding 9): credential failures are
// logged at most once per source address every 10 seconds, with a count;
// a request without credentials, or with a nonce that merely expired, is
// no failure.
func TestHTTPFailuresLogged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log logLines
		h := newHandler(t, echo, keySet(t, alice), auth.WithLogger(log.logger()))
		send := func(from string, s signed) int {
			req := httptest.NewRequest(s.method, s.target, strings.NewReader(s.body))
			req.RemoteAddr = from
			req.Header.Set("Content-Type", s.ctype)
			if s.nonce != "" {
				req.Header.Set("Authorization", fmt.Sprintf(`PolyRPC-HMAC keyid="%s", nonce="%s", mac="%s"`,
					s.key.ID, s.nonce, macOf(s.key, s.nonce, s.method, s.target, s.ctype, s.body)))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w.Code
		}
		srv := inProcess(h)
		guess := auth.Key{ID: "alice", Secret: []byte("a guess")}
		for range 1000 {
			s := request(challenge(t, srv))
			s.key = guess
			if code := send("10.0.0.1:4000", s); code != 401 {
				t.Fatalf("a wrong key: %d", code)
			}
		}
		for i := range 5 {
			s := request(challenge(t, srv))
			s.key = auth.Key{ID: fmt.Sprint("mallory", i), Secret: []byte("x")}
			send(fmt.Sprintf("[2001:db8::%d]:4000", i), s) // one /64
		}
		send("10.0.0.3:1", request("")) // no credentials
		wantLines(t, "at once", log.take(),
			[]string{"level=WARN", "auth: http authentication failed", "source=10.0.0.1", "failures=1", "keyid=alice", "wrong MAC"},
			[]string{"source=2001:db8::/64", "failures=1", "keyid=mallory0", "unknown key ID"})

		expired := request(challenge(t, srv))
		time.Sleep(auth.LogEvery)
		synctest.Wait()
		wantLines(t, "after 10 s", log.take(),
			[]string{"source=10.0.0.1", "failures=999", "since=10s"},
			[]string{"source=2001:db8::/64", "failures=4", "keyid=mallory4"})
		time.Sleep(time.Minute) // the nonce's window
		if code := send("10.0.0.4:1", expired); code != 401 {
			t.Fatalf("an expired nonce: %d", code)
		}
		time.Sleep(3 * auth.LogEvery)
		synctest.Wait()
		wantLines(t, "then, the sources quiet", log.take())
	})
}

// TestHandshakeFailuresLogged (issue 13, finding 9): failed handshakes are
// logged as failed HTTP requests are, at most once per source every 10 s.
func TestHandshakeFailuresLogged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log logLines
		srv := newServer(t, keySet(t, alice), auth.WithLogger(log.logger()))
		cli := newClient(t, bob)
		for range 50 {
			sc, cc := net.Pipe()
			go func() {
				defer cc.Close()
				cli.Handshake(context.Background(), cc)
			}()
			if _, err := srv.Handshake(context.Background(), sc); err == nil {
				t.Fatal("a wrong key got in")
			}
			sc.Close()
		}
		synctest.Wait()
		wantLines(t, "at once", log.take(), []string{"level=WARN", "auth: handshake authentication failed", "source=pipe", "failures=1", "wrong key"})
		time.Sleep(auth.LogEvery)
		synctest.Wait()
		wantLines(t, "after 10 s", log.take(), []string{"source=pipe", "failures=49", "wrong key"})
		// Cancelled by the server, as at shutdown: not a failure.
		sc, cc := net.Pipe()
		defer cc.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		srv.Handshake(ctx, sc)
		time.Sleep(2 * auth.LogEvery)
		synctest.Wait()
		wantLines(t, "then", log.take())
	})
}
