package auth_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/internal/pytest"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// binaryKey has a secret with the bytes a careless reader would mangle.
var binaryKey = auth.Key{ID: "binary", Secret: []byte("\x00line one\nline two\r\n\xff\xfe trailing space ")}

const pyClient = `
import sys
from multiprocessing.connection import Client, AuthenticationError
try:
    c = Client(("127.0.0.1", int(sys.argv[1])), authkey=bytes.fromhex(sys.argv[2]))
except AuthenticationError as e:
    print("AuthenticationError:", e)
    sys.exit(0)
c.send_bytes(b"ping")
print("reply:", c.recv_bytes().decode())
c.close()
`

// TestPythonClientToGoServer connects Python's multiprocessing Client to
// a Go server, in each interpreter, legacy or not.
func TestPythonClientToGoServer(t *testing.T) {
	t.Parallel()
	for _, py := range pytest.All(t) {
		legacy := isLegacy(py)
		tests := []struct {
			name     string
			key      auth.Key
			allowMD5 bool
			ok       bool
			goErr    string
		}{
			{name: "right key", key: binaryKey, ok: !legacy, goErr: map[bool]string{true: "legacy HMAC-MD5 answer"}[legacy]},
			{name: "right key, md5 allowed", key: binaryKey, allowMD5: true, ok: true},
			{name: "wrong key", key: auth.Key{ID: "x", Secret: []byte("wrong")}, allowMD5: true, goErr: "wrong key"},
		}
		for _, tt := range tests {
			t.Run(py.Version+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				srv := newServer(t, keySet(t, bob, binaryKey), auth.WithAllowMD5(tt.allowMD5))
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				type result struct {
					id  string
					err error
				}
				done := make(chan result, 1)
				go func() {
					c, err := l.Accept()
					if err != nil {
						done <- result{err: err}
						return
					}
					defer c.Close()
					id, err := srv.Handshake(context.Background(), c)
					if err != nil {
						done <- result{err: err}
						return
					}
					msg, err := frame.Read(c, nil, 1024)
					if err == nil {
						err = frame.Write(c, msg) // the echo
					}
					done <- result{id: id, err: err}
				}()
				port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
				out := strings.TrimSpace(py.Run(t, 30*time.Second, pyClient, port, hex.EncodeToString(tt.key.Secret)))
				r := <-done
				if tt.ok {
					if out != "reply: ping" || r.err != nil || r.id != "binary" {
						t.Errorf("python printed %q; Go: identity %q, error %v", out, r.id, r.err)
					}
					return
				}
				if !strings.HasPrefix(out, "AuthenticationError") {
					t.Errorf("python printed %q, want an AuthenticationError", out)
				}
				wantErr(t, "go server", r.err, tt.goErr)
				if !errors.Is(r.err, auth.ErrAuthentication) {
					t.Errorf("%v is not ErrAuthentication", r.err)
				}
			})
		}
	}
}

const pyListener = `
import os, sys
from multiprocessing.connection import Listener, AuthenticationError
with Listener(("127.0.0.1", 0), authkey=bytes.fromhex(sys.argv[2])) as l:
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(l.address[1]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    try:
        c = l.accept()
    except (AuthenticationError, EOFError, OSError) as e:
        print(type(e).__name__ + ":", e)
        sys.exit(0)
    msg = c.recv_bytes()
    c.send_bytes(msg.upper())
    c.close()
    print("got:", msg.decode())
`

// TestGoClientToPythonListener connects a Go client to Python's
// multiprocessing Listener, in each interpreter.
func TestGoClientToPythonListener(t *testing.T) {
	t.Parallel()
	for _, py := range pytest.All(t) {
		legacy := isLegacy(py)
		tests := []struct {
			name     string
			key      auth.Key
			allowMD5 bool
			ok       bool
			goErr    string
			pyOut    string
		}{
			{name: "right key", key: binaryKey, ok: !legacy,
				goErr: map[bool]string{true: "legacy HMAC-MD5 challenge"}[legacy], pyOut: "EOFError"},
			{name: "right key, md5 allowed", key: binaryKey, allowMD5: true, ok: true},
			{name: "wrong key", key: auth.Key{ID: "binary", Secret: []byte("wrong")}, allowMD5: true,
				goErr: "rejected our answer (#FAILURE#)", pyOut: "AuthenticationError"},
		}
		for _, tt := range tests {
			t.Run(py.Version+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				portFile := filepath.Join(t.TempDir(), "port")
				type result struct{ out, errOut string }
				done := make(chan result, 1)
				go func() {
					out, errOut, err := py.Exec(30*time.Second, pyListener, portFile, hex.EncodeToString(binaryKey.Secret))
					if err != nil {
						errOut += "\n" + err.Error()
					}
					done <- result{strings.TrimSpace(out), errOut}
				}()
				port, err := waitForFile(portFile, 20*time.Second)
				if err != nil {
					t.Fatal(err, (<-done).errOut)
				}
				conn, err := net.Dial("tcp", "127.0.0.1:"+port)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				cli := newClient(t, tt.key, auth.WithAllowMD5(tt.allowMD5))
				err = cli.Handshake(context.Background(), conn)
				if tt.ok {
					var reply []byte
					if err == nil {
						err = frame.Write(conn, []byte("ping"))
					}
					if err == nil {
						reply, err = frame.Read(conn, nil, 1024)
					}
					r := <-done
					if err != nil || string(reply) != "PING" || r.out != "got: ping" {
						t.Errorf("Go: reply %q, error %v; python printed %q\n%s", reply, err, r.out, r.errOut)
					}
					return
				}
				wantErr(t, "go client", err, tt.goErr)
				if !errors.Is(err, auth.ErrAuthentication) {
					t.Errorf("%v is not ErrAuthentication", err)
				}
				conn.Close() // as a caller does: python sees the end
				if r := <-done; !strings.HasPrefix(r.out, tt.pyOut) {
					t.Errorf("python printed %q, want %s\n%s", r.out, tt.pyOut, r.errOut)
				}
			})
		}
	}
}

// waitForFile waits for a file to appear and returns its content.
func waitForFile(path string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b), nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("python did not start listening: " + err.Error())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isLegacy says whether py speaks the HMAC-MD5 handshake of Python <= 3.11.
func isLegacy(py pytest.Python) bool {
	var major, minor int
	parts := strings.SplitN(py.Minor(), ".", 2)
	if len(parts) == 2 {
		major, _ = strconv.Atoi(parts[0])
		minor, _ = strconv.Atoi(parts[1])
	}
	return major < 3 || major == 3 && minor <= 11
}
