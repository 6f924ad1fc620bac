package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/internal/testcert"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/wsrpc"
)

func wsAdd(t *testing.T, url string, opts ...wsrpc.ClientOption) error {
	t.Helper()
	cl, err := wsrpc.NewClient(url, jsonCodec(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var sum int64
	if err := cl.Call(context.Background(), "demo.add", &sum, 2, 3); err != nil {
		return err
	}
	if sum != 5 {
		t.Errorf("%s: demo.add(2, 3) = %d", url, sum)
	}
	return nil
}

func TestWebSocket(t *testing.T) {
	addr, _, _, _ := startRPCD(t, "-allow-origin", "https://good.example")
	url := "ws://" + addr + "/ws"
	if err := wsAdd(t, url); err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]int{
		"https://evil.example": http.StatusForbidden,
		"https://good.example": http.StatusSwitchingProtocols,
		"http://" + addr:       http.StatusSwitchingProtocols,
	} {
		ws, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if resp == nil {
			t.Fatalf("origin %s: %v", origin, err)
		}
		if resp.StatusCode != want {
			t.Errorf("origin %s: status %d, want %d", origin, resp.StatusCode, want)
		}
		if ws != nil {
			ws.CloseNow()
		}
	}
}

func TestWebSocketAuth(t *testing.T) {
	path := writeKey(t, "alice.key", "s3cret")
	key, err := auth.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	addr, _, _, _ := startRPCD(t, "-auth-key-file", path)
	url := "ws://" + addr + "/ws"
	_, resp, err := websocket.Dial(context.Background(), url, nil)
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned upgrade: %v, want 401", err)
	}
	if err := wsAdd(t, url); err == nil {
		t.Error("a client without the key called")
	}
	if err := wsAdd(t, url, wsrpc.WithHTTPClient(&http.Client{Transport: key.SignHTTP(nil)})); err != nil {
		t.Fatalf("signed: %v", err)
	}
	other := auth.Key{ID: key.ID, Secret: []byte("guess")}
	if err := wsAdd(t, url, wsrpc.WithHTTPClient(&http.Client{Transport: other.SignHTTP(nil)})); err == nil {
		t.Error("a client with a wrong key called")
	}
}

func TestWebSocketTLS(t *testing.T) {
	certs := testcert.New(t)
	addr, _, _, _ := startRPCD(t, "-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey, "-tls-client-ca", certs.CA)
	url := "wss://" + addr + "/ws"
	for _, codec := range []string{"json", "xml", "msgpack", "proto"} {
		c, ok := rpc.LookupCodec(codec)
		if !ok {
			t.Fatalf("no codec %s", codec)
		}
		cl, err := wsrpc.NewClient(url, c, wsrpc.WithTLSConfig(certs.ClientConfig(t, true)))
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		if err := cl.Call(context.Background(), "demo.add", &sum, 2, 3); err != nil || sum != 5 {
			t.Errorf("%s over wss with a client certificate: %d, %v", codec, sum, err)
		}
		cl.Close()
	}
	if err := wsAdd(t, url, wsrpc.WithTLSConfig(certs.ClientConfig(t, false))); err == nil {
		t.Error("called without a client certificate")
	}
}

// TestWebSocketShutdown: when rpcd shuts down, a WebSocket connection is
// closed with 1001 (going away), and rpcd exits.
func TestWebSocketShutdown(t *testing.T) {
	addr, stop, done, _ := startRPCD(t)
	ws, _, err := websocket.Dial(context.Background(), "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	stop()
	_, _, err = ws.Read(context.Background())
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Errorf("on shutdown: %v (status %d), want close 1001", err, got)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}
