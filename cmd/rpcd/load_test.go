package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
)

var (
	tcpCodecsRE = regexp.MustCompile(`msg="serving TCP" addr=(\S+) .*codecs="\[([^\]]*)\]"`)
	countsRE    = regexp.MustCompile(`(?m)^lost=(\d+) duplicated=(\d+) mismatched=(\d+)$`)
	totalRE     = regexp.MustCompile(`(?m)^calls=(\d+) `)
)

// loadCounts parses rpcd load's totals.
func loadCounts(t *testing.T, out string) (calls, lost, dup, mismatched int) {
	t.Helper()
	m, n := countsRE.FindStringSubmatch(out), totalRE.FindStringSubmatch(out)
	if m == nil || n == nil {
		t.Fatalf("no counts in rpcd load's output:\n%s", out)
	}
	atoi := func(s string) int { i, _ := strconv.Atoi(s); return i }
	return atoi(n[1]), atoi(m[1]), atoi(m[2]), atoi(m[3])
}

// TestLoad drives rpcd, served in-process, with a small load of every codec
// it serves over TCP and HTTP: no reply may be lost, duplicated or another
// call's.
func TestLoad(t *testing.T) {
	addr, stop, done, logs := startRPCD(t)
	var m []string
	for i := 0; m == nil && i < 500; i++ {
		m = tcpCodecsRE.FindStringSubmatch(logs.String())
		time.Sleep(5 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no TCP address and codecs logged:\n%s", logs.String())
	}
	codecs := strings.Join(strings.Fields(m[2]), ",")
	if !strings.Contains(codecs, "json") {
		t.Fatalf("rpcd serves codecs %q", codecs)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"load", "-clients", "8", "-calls", "50", "-concurrency", "2",
		"-codecs", codecs, "-urls", "tcp://" + m[1] + ",http://" + addr + "/", "-timeout", "1m"}, &stdout, &stderr)
	t.Logf("codecs %s:\n%s%s", codecs, stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("rpcd load: %v", err)
	}
	calls, lost, dup, mismatched := loadCounts(t, stdout.String())
	if calls != 400 || lost != 0 || dup != 0 || mismatched != 0 {
		t.Errorf("calls=%d lost=%d duplicated=%d mismatched=%d, want 400 calls, none bad", calls, lost, dup, mismatched)
	}
	// Every codec ran over both transports.
	for _, codec := range strings.Split(codecs, ",") {
		for _, u := range []string{"tcp://" + m[1], "http://" + addr + "/"} {
			if !strings.Contains(stdout.String(), codec+" "+u+" ") {
				t.Errorf("no calls in %s over %s", codec, u)
			}
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestLoadCountsFaults checks that rpcd load notices what it is for: a
// server whose demo.echo fails a call, garbles one reply and answers another
// with an earlier call's value.
func TestLoadCountsFaults(t *testing.T) {
	s := newRPCServer(t)
	var mu sync.Mutex
	last := map[string]map[string]any{} // by client: the previous call's value
	err := s.Register("demo.echo", func(v map[string]any) (any, error) {
		client, call := fmt.Sprint(v["client"]), fmt.Sprint(v["call"])
		n, _ := strconv.Atoi(call)
		mu.Lock()
		prev := last[client]
		last[client] = v
		mu.Unlock()
		switch {
		case n < 0: // rpcd load's probe
		case n%4 == 1:
			return nil, errors.New("lost")
		case n%4 == 2:
			v["pad"] = "garbled"
		case n%4 == 3:
			return prev, nil
		}
		return v, nil
	}, rpc.WithParamNames("value"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"load", "-clients", "4", "-calls", "8", "-codecs", "json", "-urls", serveHTTP(t, s)}, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("rpcd load = %v, want exit status 1\n%s%s", err, stdout.String(), stderr.String())
	}
	// Per client, calls 1 and 5 fail, 2 and 6 are garbled, and 3 and 7 get
	// the reply of 2 and 6 again.
	calls, lost, dup, mismatched := loadCounts(t, stdout.String())
	if calls != 32 || lost != 8 || dup != 8 || mismatched != 8 {
		t.Errorf("calls=%d lost=%d duplicated=%d mismatched=%d, want 32, 8, 8, 8\n%s%s",
			calls, lost, dup, mismatched, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "duplicated reply") || !strings.Contains(stderr.String(), "garbled") {
		t.Errorf("failures not described:\n%s", stderr.String())
	}
}

func TestLoadUsage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"-clients", "0"}, "must be positive"},
		{[]string{"-codecs", "nope"}, `unknown codec "nope"`},
		{[]string{"-urls", ""}, "no codec or no URL"},
		{[]string{"extra"}, "unexpected argument"},
		// A URL that does not answer fails once, up front.
		{[]string{"-codecs", "json", "-urls", "tcp://" + deadAddr, "-timeout", "10s"}, "codec json at tcp://" + deadAddr + " does not work"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"load"}, tt.args...), &stdout, &stderr)
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg+stderr.String(), tt.msg) {
			t.Errorf("rpcd load %v = %v (stderr %q), want exit status 2 with %q", tt.args, err, stderr.String(), tt.msg)
		}
	}
}

// TestLoadInterrupted stops rpcd load as Ctrl-C does, by ending its
// context, while it runs: it must stop making calls, count none of the
// calls it did not make or cut short as lost, and say it was interrupted.
func TestLoadInterrupted(t *testing.T) {
	s := newRPCServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int64
	err := s.Register("demo.echo", func(v map[string]any) (any, error) {
		if fmt.Sprint(v["call"]) != "-1" && served.Add(1) == 50 { // not the probe
			cancel()
		}
		return v, nil
	}, rpc.WithParamNames("value"))
	if err != nil {
		t.Fatal(err)
	}
	const planned = 4 * 100000
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"load", "-clients", "4", "-calls", "100000", "-concurrency", "2", "-codecs", "json", "-urls", serveHTTP(t, s)}, &stdout, &stderr)
	out := stdout.String()
	t.Logf("%s%s", out, stderr.String())
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "rpcd load: interrupted: ") {
		t.Errorf("rpcd load = %v, want exit status 1, interrupted", err)
	}
	calls, lost, dup, mismatched := loadCounts(t, out)
	if lost != 0 || dup != 0 || mismatched != 0 {
		t.Errorf("lost=%d duplicated=%d mismatched=%d, want none", lost, dup, mismatched)
	}
	// Every call made was served; the calls in flight when the run stopped
	// may have been served or not.
	if n := int(served.Load()); calls < 1 || calls > n || n > calls+8 {
		t.Errorf("calls=%d, served %d", calls, n)
	}
	m := regexp.MustCompile(`(?m)^interrupted: (\d+) of (\d+) calls made, (\d+) cancelled in flight, (\d+) not started$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no interruption in the summary:\n%s", out)
	}
	atoi := func(s string) int { i, _ := strconv.Atoi(s); return i }
	if made, total, cancelled, notStarted := atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4]); made != calls || total != planned ||
		cancelled > 8 || made+cancelled+notStarted != planned {
		t.Errorf("%s: want %d made of %d, at most 8 (every call in flight) cancelled, the rest not started", m[0], calls, planned)
	}
	if strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("calls cut short reported as failures:\n%s", stderr.String())
	}
}

// TestProgress checks rpcd load's progress: a line every 5s when stderr
// is not a terminal, a bar redrawn in place when it is.
func TestProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &syncBuffer{} // the race detector sees no order in fake time
		p := newProgress(w, 1000)
		if p.bar {
			t.Fatal("a buffer taken for a terminal")
		}
		p.start = time.Now()
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			p.run(stop)
		}()
		p.done.Add(100)
		p.failed.Add(2)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if w.String() != "" {
			t.Errorf("progress before 5s: %q", w.String())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		p.done.Add(150)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		p.println("rpcd load: an error")
		close(stop)
		<-done
		want := "rpcd load: 10% 100/1000 calls, 20 calls/s, 2 failed, 5s\n" +
			"rpcd load: 25% 250/1000 calls, 25 calls/s, 2 failed, 10s\n" +
			"rpcd load: an error\n"
		if w.String() != want {
			t.Errorf("progress lines:\n%q\nwant\n%q", w.String(), want)
		}

		w = &syncBuffer{}
		p = newProgress(w, 1000)
		p.bar = true
		p.start = time.Now()
		stop, done = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			p.run(stop)
		}()
		p.done.Add(500)
		time.Sleep(barInterval)
		synctest.Wait()
		p.println("rpcd load: an error")
		p.done.Add(500)
		time.Sleep(barInterval)
		synctest.Wait()
		close(stop)
		<-done
		want = "\r[==========          ]  50% 500/1000 calls 2500/s 0 failed\x1b[K" +
			"\r\x1b[Krpcd load: an error\n" +
			"\r[====================] 100% 1000/1000 calls 2500/s 0 failed\x1b[K" +
			"\r\x1b[K"
		if w.String() != want {
			t.Errorf("progress bar:\n%q\nwant\n%q", w.String(), want)
		}
	})
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer taken for a terminal")
	}
}
