package netlimit

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func tcp(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// syncBuffer is a log destination for several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestWaitHoldsBackAtTheLimitAndLogsTheBurstOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		l := New(2, 0, slog.New(slog.NewTextHandler(&logs, nil)), "test")
		a, b := tcp("127.0.0.1:1"), tcp("127.0.0.2:1")
		for _, addr := range []net.Addr{a, b} {
			if !l.Wait() || !l.Admit(addr) {
				t.Fatal("refused under the limit")
			}
		}
		waited := make(chan bool)
		for range 3 {
			go func() { waited <- l.Wait() }()
		}
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("Wait returned at the limit")
		default:
		}
		time.Sleep(time.Second)
		// Places free up one at a time, and are taken at once: one burst.
		for range 3 {
			l.Release(a)
			if !<-waited {
				t.Fatal("Wait reported a closed limiter")
			}
			l.Admit(a)
			time.Sleep(time.Second)
		}
		l.Release(a)
		time.Sleep(2 * logEvery) // below the limit long enough: the burst ends
		l.Close()
		out := logs.String()
		if n := strings.Count(out, "connection limit reached"); n != 1 {
			t.Errorf("%d 'limit reached' lines for one burst:\n%s", n, out)
		}
		if n := strings.Count(out, "accepting again"); n != 1 || !strings.Contains(out, "accepts_held_back=3") ||
			!strings.Contains(out, "held_back_for=3s") {
			t.Errorf("no summary of the burst:\n%s", out)
		}
	})
}

func TestAdmitLimitsEachSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		l := New(0, 2, slog.New(slog.NewTextHandler(&logs, nil)), "test")
		// Two IPv6 addresses of one /64 are one source; another /64 is not.
		for _, s := range []string{"127.0.0.1:1", "127.0.0.1:2", "[2001:db8::1]:1", "[2001:db8::2]:1", "[2001:db8:0:1::1]:1"} {
			if !l.Admit(tcp(s)) {
				t.Fatalf("%s refused under its limit", s)
			}
		}
		for range 1000 {
			if l.Admit(tcp("127.0.0.1:3")) || l.Admit(tcp("[2001:db8::3]:1")) {
				t.Fatal("a source over its limit admitted")
			}
		}
		if !l.Admit(tcp("127.0.0.2:1")) {
			t.Error("another source refused")
		}
		l.Release(tcp("127.0.0.1:1"))
		if !l.Admit(tcp("127.0.0.1:4")) {
			t.Error("a source under its limit again refused")
		}
		time.Sleep(logEvery + time.Second)
		// The first refusal is logged at once, the rest summed up per
		// source once logEvery has passed.
		out := logs.String()
		if n := strings.Count(out, "refused connections"); n != 3 {
			t.Errorf("%d log lines for 2000 refusals from 2 sources, want 3:\n%s", n, out)
		}
		for _, want := range []string{"source=127.0.0.1/32 refused=1 ", "source=127.0.0.1/32 refused=999 ", "source=2001:db8::/64 refused=1000 "} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in the log:\n%s", want, out)
			}
		}
	})
}
