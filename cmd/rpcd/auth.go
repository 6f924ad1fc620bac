package main

import (
	"context"
	"net"
	"net/http"
)

// clientAuth authenticates rpcd call and rpcd list.
type clientAuth struct{}

func (f *clientFlags) authenticator() (*clientAuth, error) {
	if f.authKeyFile == "" {
		return nil, nil
	}
	return nil, usageError("-auth-key-file: authentication is not built yet")
}

func (a *clientAuth) wrapHTTP(rt http.RoundTripper) http.RoundTripper { return rt }

func (a *clientAuth) handshake(ctx context.Context, nc net.Conn) error { return nil }
