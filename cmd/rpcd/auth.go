package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/polyrpc/polyrpc/auth"
)

// clientAuth authenticates rpcd call and rpcd list with one key: the
// multiprocessing handshake on streams, PolyRPC-HMAC over HTTP.
type clientAuth struct {
	key    auth.Key
	client *auth.Client
}

func (f *clientFlags) authenticator() (*clientAuth, error) {
	if f.authKeyFile == "" {
		if f.authAllowMD5 {
			return nil, usageError("-auth-allow-md5 needs -auth-key-file")
		}
		return nil, nil
	}
	key, err := loadKey(f.authKeyFile, f.authAllowInsecurePerms)
	if err != nil {
		return nil, usageError("-auth-key-file: %v", err)
	}
	c, err := auth.NewClient(key, auth.WithAllowMD5(f.authAllowMD5))
	if err != nil {
		return nil, usageError("-auth-key-file: %v", err)
	}
	return &clientAuth{key: key, client: c}, nil
}

func (a *clientAuth) handshake(ctx context.Context, nc net.Conn) error {
	return a.client.Handshake(ctx, nc)
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// loadKey loads the key of an -auth-key-file flag: [NAME=]PATH. NAME, when
// given, is the identity of the callers that hold the key; otherwise it is
// the ID derived from the secret (auth.Key). A "=" in a path whose part
// before it holds a path separator is part of the path.
func loadKey(flag string, allowInsecurePerms bool) (auth.Key, error) {
	name, path := "", flag
	if i := strings.IndexByte(flag, '='); i > 0 && !strings.ContainsRune(flag[:i], filepath.Separator) {
		name, path = flag[:i], flag[i+1:]
	}
	k, err := auth.LoadKeyFile(path, auth.WithAllowInsecureKeyPerms(allowInsecurePerms))
	if err != nil {
		return auth.Key{}, err
	}
	if name != "" {
		k.ID = name
	}
	return k, nil
}

// serverAuth loads the serve flags' keys; nil when authentication is off.
func serverAuth(cfg config) (*auth.KeySet, error) {
	if len(cfg.authKeyFiles) == 0 {
		if cfg.authAllowMD5 {
			return nil, fmt.Errorf("rpcd: -auth-allow-md5 needs -auth-key-file")
		}
		return nil, nil
	}
	var keys []auth.Key
	for _, f := range cfg.authKeyFiles {
		k, err := loadKey(f, cfg.authAllowInsecurePerms)
		if err != nil {
			return nil, fmt.Errorf("rpcd: -auth-key-file: %w", err)
		}
		keys = append(keys, k)
	}
	ks, err := auth.NewKeySet(keys...)
	if err != nil {
		return nil, fmt.Errorf("rpcd: -auth-key-file: %w", err)
	}
	return ks, nil
}

// aeadSuites are the TLS 1.2 cipher suites rpcd offers: forward secret and
// AEAD only. Go's defaults add CBC-SHA1 suites, which testssl marks
// obsolete. (TLS 1.3's suites are not configurable and all AEAD.)
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLS builds the listeners' TLS configuration; nil when TLS is off.
func serverTLS(cfg config) (*tls.Config, error) {
	if cfg.tlsCert == "" && cfg.tlsKey == "" {
		if cfg.tlsClientCA != "" {
			return nil, fmt.Errorf("rpcd: -tls-client-ca needs -tls-cert and -tls-key")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("rpcd: -tls-cert/-tls-key: %w", err)
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, CipherSuites: aeadSuites}
	if cfg.tlsClientCA != "" {
		pem, err := os.ReadFile(cfg.tlsClientCA)
		if err != nil {
			return nil, fmt.Errorf("rpcd: -tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("rpcd: -tls-client-ca: no certificate in %s", cfg.tlsClientCA)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return conf, nil
}
