package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/internal/testcert"
)

func writeKey(t *testing.T, name, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthenticatedListeners(t *testing.T) {
	key := writeKey(t, "alice.key", "s3cret")
	other := writeKey(t, "mallory.key", "guess")
	addr, _, _, logs := startRPCD(t, "-auth-key-file", key)
	if !strings.Contains(logs.String(), "security=hmac") {
		t.Errorf("security not logged:\n%s", logs.String())
	}
	for _, u := range []string{"http://" + addr + "/", "tcp://" + tcpAddr(t, logs)} {
		if out, stderr, code := rpcdCall(t, "call", "-auth-key-file", key, u, "demo.add", "2", "3"); code != 0 || out != "5\n" {
			t.Errorf("%s with the key: %q %q exit %d", u, out, stderr, code)
		}
		// A refusal of the credentials is no fault of the method: exit 2,
		// saying so.
		if _, stderr, code := rpcdCall(t, "call", "-timeout", "5s", u, "demo.add", "2", "3"); code != 2 || !strings.Contains(stderr, "authentication") {
			t.Errorf("%s without a key: exit %d, %q", u, code, stderr)
		}
		if _, stderr, code := rpcdCall(t, "call", "-timeout", "5s", "-auth-key-file", other, u, "demo.add", "2", "3"); code != 2 || !strings.Contains(stderr, "authentication") {
			t.Errorf("%s with a wrong key: exit %d, %q", u, code, stderr)
		}
	}
}

func TestTLSListeners(t *testing.T) {
	certs := testcert.New(t)
	t.Run("server TLS", func(t *testing.T) {
		addr, _, _, logs := startRPCD(t, "-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey)
		for _, u := range []string{"https://" + addr + "/", "tls://" + tcpAddr(t, logs)} {
			if out, stderr, code := rpcdCall(t, "call", "-tls-ca", certs.CA, u, "demo.add", "2", "3"); code != 0 || out != "5\n" {
				t.Errorf("%s: %q %q exit %d", u, out, stderr, code)
			}
			// Without the CA the server is not trusted.
			if _, _, code := rpcdCall(t, "call", "-timeout", "5s", u, "demo.add", "2", "3"); code != 2 {
				t.Errorf("%s trusted without the CA: exit %d", u, code)
			}
		}
	})
	t.Run("mutual TLS", func(t *testing.T) {
		addr, _, _, logs := startRPCD(t, "-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey, "-tls-client-ca", certs.CA)
		for _, u := range []string{"https://" + addr + "/", "tls://" + tcpAddr(t, logs)} {
			if out, stderr, code := rpcdCall(t, "call", "-tls-ca", certs.CA, "-tls-cert", certs.ClientCert, "-tls-key", certs.ClientKey,
				u, "demo.add", "2", "3"); code != 0 || out != "5\n" {
				t.Errorf("%s with a client certificate: %q %q exit %d", u, out, stderr, code)
			}
			if _, _, code := rpcdCall(t, "call", "-timeout", "5s", "-tls-ca", certs.CA, u, "demo.add", "2", "3"); code != 2 {
				t.Errorf("%s without a client certificate: exit %d", u, code)
			}
		}
	})
}

func TestSecurityFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-auth-allow-md5"},
		{"-auth-key-file", filepath.Join(t.TempDir(), "missing")},
		{"-tls-client-ca", "x"},
		{"-tls-cert", "nope.pem", "-tls-key", "nope.pem"},
	} {
		_, stderr, code := rpcdCall(t, append([]string{"-http", "127.0.0.1:0", "-tcp", ""}, args...)...)
		if code != 2 || stderr == "" {
			t.Errorf("rpcd %v: exit %d, %q", args, code, stderr)
		}
	}
}
