package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get returns the status and body of GET url, or -1 and the error.
func get(url string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHealthAndReadiness: /healthz and /readyz answer without
// authentication; from the moment a shutdown starts /readyz answers 503
// while the call in flight finishes, on listeners still open, and the call
// succeeds; system.health answers over TCP.
func TestHealthAndReadiness(t *testing.T) {
	key := writeKey(t, "alice.key", "s3cret")
	addr, stop, done, logs := startRPCD(t, "-auth-key-file", key, "-log-level", "debug")
	base := "http://" + addr
	if code, body := get(base + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(base + "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if out, stderr, code := rpcdCall(t, "call", "-auth-key-file", key, "tcp://"+tcpAddr(t, logs), "system.health"); code != 0 || out != "\"ok\"\n" {
		t.Errorf("system.health over TCP: %q %q exit %d", out, stderr, code)
	}
	if code, _ := get(base + "/"); code != 401 && code != 405 {
		t.Errorf("GET / with auth on: %d", code)
	}

	// A call in flight, then the shutdown.
	type result struct {
		out, stderr string
		code        int
	}
	call := make(chan result, 1)
	go func() {
		out, stderr, code := rpcdCall(t, "call", "-auth-key-file", key, base+"/RPC2", "demo.sleep", "1500")
		call <- result{out, stderr, code}
	}()
	// Readiness is checked after the shutdown began, while the call runs.
	for !strings.Contains(logs.String(), `msg="call started" method=demo.sleep`) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	sawDraining := false
	var last []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, body := get(base + "/readyz")
		last = append(last, body)
		if code == 503 && body == "draining\n" {
			sawDraining = true
			if code, _ := get(base + "/healthz"); code != 200 {
				t.Errorf("/healthz while draining: %d", code)
			}
			break
		}
		if code == -1 {
			break
		}
	}
	if !sawDraining {
		t.Errorf("/readyz never answered 503 while the call in flight ran: %q", last)
	}
	r := <-call
	if r.code != 0 || r.out != "1500\n" {
		t.Errorf("the call in flight: %q %q exit %d", r.out, r.stderr, r.code)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rpcd did not stop")
	}
}
