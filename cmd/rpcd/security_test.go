package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
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

// TestKeyFiles: a key file that others may read is refused unless allowed;
// a key's identity is the name given with NAME=PATH, else an ID derived from
// the secret, so a client's copy of the secret under any file name works
// over HTTP as over TCP, and the debug call line names the identity.
func TestKeyFiles(t *testing.T) {
	loose := writeKey(t, "loose.key", "s3cret")
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := rpcdCall(t, "-http", "127.0.0.1:0", "-tcp", "", "-auth-key-file", loose)
	if code != 2 || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("a key file of mode 0644: exit %d, %q", code, stderr)
	}
	if _, stderr, code := rpcdCall(t, "call", "-auth-key-file", loose, "http://127.0.0.1:1/", "m"); code != 2 || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("rpcd call with a key file of mode 0644: exit %d, %q", code, stderr)
	}

	server := writeKey(t, "server-side.key", "s3cret")
	client := writeKey(t, "my key.txt", "s3cret") // the same secret, another name
	addr, _, _, logs := startRPCD(t, "-log-level", "debug", "-auth-key-file", "alice="+server)
	for _, u := range []string{"http://" + addr + "/", "tcp://" + tcpAddr(t, logs)} {
		if out, stderr, code := rpcdCall(t, "call", "-auth-key-file", client, u, "demo.add", "2", "3"); code != 0 || out != "5\n" {
			t.Errorf("%s with the same secret under another file name: %q %q exit %d", u, out, stderr, code)
		}
	}
	for _, transport := range []string{"http", "tcp"} {
		if !regexp.MustCompile(`msg=call method=demo.add codec=json transport=` + transport + ` remote=\S+ identity=alice duration=\S+ code=0`).MatchString(logs.String()) {
			t.Errorf("no debug call line naming identity alice over %s:\n%s", transport, logs.String())
		}
	}

	// With the escape hatch the loose key serves.
	addr, _, _, _ = startRPCD(t, "-auth-allow-insecure-key-perms", "-auth-key-file", loose)
	if out, stderr, code := rpcdCall(t, "call", "-auth-allow-insecure-key-perms", "-auth-key-file", loose, "http://"+addr+"/", "demo.add", "2", "3"); code != 0 || out != "5\n" {
		t.Errorf("-auth-allow-insecure-key-perms: %q %q exit %d", out, stderr, code)
	}
}

// TestTLSSuites: rpcd's TLS listeners offer TLS 1.2 with AEAD suites only,
// and ALPN http/1.1 on HTTP.
func TestTLSSuites(t *testing.T) {
	certs := testcert.New(t)
	addr, _, _, logs := startRPCD(t, "-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey)
	for _, a := range []string{addr, tcpAddr(t, logs)} {
		conf := certs.ClientConfig(t, true)
		conf.MaxVersion = tls.VersionTLS12
		conf.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		if c, err := tls.Dial("tcp", a, conf); err == nil {
			c.Close()
			t.Errorf("%s: a TLS 1.2 CBC-SHA1 suite was accepted", a)
		}
		conf.CipherSuites = nil
		c, err := tls.Dial("tcp", a, conf)
		if err != nil {
			t.Fatalf("%s: TLS 1.2 with an AEAD suite: %v", a, err)
		}
		c.Close()
	}
	conf := certs.ClientConfig(t, true)
	conf.NextProtos = []string{"http/1.1"}
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN on the HTTP listener: %q, want http/1.1", p)
	}
}
