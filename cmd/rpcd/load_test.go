package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
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
	s := rpc.NewServer(rpc.WithCodecs(jsonCodec(t)))
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
	hs := httptest.NewServer(httprpc.NewHandler(s))
	defer hs.Close()

	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"load", "-clients", "4", "-calls", "8", "-codecs", "json", "-urls", hs.URL + "/"}, &stdout, &stderr)
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
