package netpeek_test

import (
	"net"
	"runtime"
	"testing"

	"github.com/polyrpc/polyrpc/internal/netpeek"
)

func TestForeign(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"\x15\x03\x03\x00\x02", "TLS"}, // an alert
		{"\x16\x03\x01\x02\x00", "TLS"}, // a client hello
		{"HTTP/1.1 400 Bad Request", "HTTP"},
		{"POST /RPC2 HTTP/1.1", "HTTP"},
		{"GET / HTTP/1.0", "HTTP"},
		{"\x00\x00\x00\x10{", ""}, // a frame
		{"\x15\x03", ""},          // too short to tell
		{"#CHALLENGE#", ""},
		{"", ""},
	} {
		if got := netpeek.Foreign([]byte(tt.in)); got != tt.want {
			t.Errorf("Foreign(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnsent: bytes written to a peer that reads nothing are counted, where
// the system can tell.
func TestUnsent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := netpeek.New(c)
	n, ok := p.Unsent()
	if runtime.GOOS != "linux" {
		if ok {
			t.Errorf("Unsent() = %d, true on %s", n, runtime.GOOS)
		}
		return
	}
	if !ok || n != 0 {
		t.Fatalf("Unsent() = %d, %v on a fresh connection, want 0, true", n, ok)
	}
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	// The peer's kernel acknowledges at once what fits in its buffer, so
	// Unsent may be 0 already; it is never more than was written.
	if n, ok := p.Unsent(); !ok || n < 0 || n > 1000 {
		t.Errorf("Unsent() = %d, %v after 1000 bytes", n, ok)
	}
	if n, ok := (*netpeek.Peeker)(nil).Unsent(); ok || n != 0 {
		t.Errorf("nil Peeker: Unsent() = %d, %v", n, ok)
	}
}
