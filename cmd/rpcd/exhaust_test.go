//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// These tests attack an rpcd process the way one client with ordinary tools
// could, and measure what it holds from the outside (its RSS, in
// /proc/PID/status), while an honest client on another loopback address
// (127.0.0.2) calls it. They build rpcd once and run it as a process of its
// own, so that the attacker's memory is not counted with the server's.

var (
	rpcdBinOnce sync.Once
	rpcdBin     string
	rpcdBinErr  error
)

// buildRPCD builds rpcd into a directory that lives as long as the test
// binary's temporary directory.
func buildRPCD(t *testing.T) string {
	t.Helper()
	rpcdBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rpcd-exhaust-")
		if err != nil {
			rpcdBinErr = err
			return
		}
		rpcdBin = filepath.Join(dir, "rpcd")
		out, err := exec.Command("go", "build", "-o", rpcdBin, ".").CombinedOutput()
		if err != nil {
			rpcdBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if rpcdBinErr != nil {
		t.Skipf("cannot build rpcd: %v", rpcdBinErr)
	}
	return rpcdBin
}

// rpcdProc is an rpcd process.
type rpcdProc struct {
	cmd       *exec.Cmd
	http, tcp string
	logs      *syncBuffer
}

var servingRE = regexp.MustCompile(`msg="serving (HTTP|TCP)" addr=(\S+)`)

// startProc starts rpcd with args on free loopback ports.
func startProc(t *testing.T, args ...string) *rpcdProc {
	t.Helper()
	bin := buildRPCD(t)
	p := &rpcdProc{logs: &syncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"-http", "127.0.0.1:0", "-tcp", "127.0.0.1:0"}, args...)...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
	for range 1000 {
		for _, m := range servingRE.FindAllStringSubmatch(p.logs.String(), -1) {
			if m[1] == "HTTP" {
				p.http = m[2]
			} else {
				p.tcp = m[2]
			}
		}
		if p.http != "" && p.tcp != "" {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("rpcd did not log its addresses:\n%s", p.logs.String())
	return nil
}

// memory returns the process's resident set and its peak, in bytes.
func (p *rpcdProc) memory(t *testing.T) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

const mib = 1 << 20

// honestDialer dials from 127.0.0.2, another source than the attacker's.
var honestDialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}

// honestHTTP calls demo.add over HTTP from the honest address.
func honestHTTP(ctx context.Context, addr string) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: honestDialer.DialContext}}
	defer hc.CloseIdleConnections()
	body := `{"jsonrpc":"2.0","method":"demo.add","params":[2,3],"id":1}`
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"result":5`)) {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// honestTCP calls demo.add over TCP frames from the honest address.
func honestTCP(ctx context.Context, addr string) error {
	nc, err := honestDialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	if err := frame.Write(nc, []byte(`{"jsonrpc":"2.0","method":"demo.add","params":[2,3],"id":1}`)); err != nil {
		return err
	}
	b, err := frame.Read(bufio.NewReader(nc), nil, 1<<20)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"result":5`)) {
		return fmt.Errorf("reply %s", b)
	}
	return nil
}

// honestCalls calls over both transports within d, and returns what failed.
func honestCalls(p *rpcdProc, d time.Duration) []error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var errs []error
	if err := honestHTTP(ctx, p.http); err != nil {
		errs = append(errs, fmt.Errorf("HTTP: %w", err))
	}
	if err := honestTCP(ctx, p.tcp); err != nil {
		errs = append(errs, fmt.Errorf("TCP: %w", err))
	}
	return errs
}

// echoString is a JSON string of n bytes of payload.
func echoString(n int) string { return `"` + strings.Repeat("x", n) + `"` }

// TestPipelinedBigFramesStayInBudget: one TCP connection pipelines 128
// frames of nearly 4 MiB, each a JSON batch of a slow demo.sleep and a
// demo.echo of the rest, and never reads. rpcd must stay under 400 MB, an
// honest client must be served meanwhile, and once the attacker goes the
// memory must go back under 100 MB within a minute. (Before the memory
// budget: 2.44 GB, and 2.3 GB after the connection was dropped.)
func TestPipelinedBigFramesStayInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("an attack of 512 MiB: not in -short")
	}
	p := startProc(t)
	nc, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	batch := []byte(`[{"jsonrpc":"2.0","method":"demo.sleep","params":[20000],"id":1},` +
		`{"jsonrpc":"2.0","method":"demo.echo","params":[` + echoString(4*mib-200) + `],"id":2}]`)
	sent := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(nc)
		for range 128 {
			if err := frame.Write(w, batch); err != nil {
				sent <- err
				return
			}
		}
		sent <- w.Flush()
	}()
	// The attack holds what it can for a few seconds; the honest client
	// calls meanwhile.
	var peak int64
	for range 5 {
		time.Sleep(time.Second)
		if errs := honestCalls(p, 10*time.Second); errs != nil {
			t.Errorf("honest calls during the attack: %v", errs)
		}
		_, peak = p.memory(t)
	}
	t.Logf("peak RSS during the attack: %d MB", peak/mib)
	if peak > 400*mib {
		t.Errorf("rpcd held %d MB during the attack; want under 400 MB", peak/mib)
	}
	nc.Close()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Error("the attacker's writes never ended after its connection closed")
	}
	var rss int64
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if rss, _ = p.memory(t); rss < 100*mib {
			break
		}
	}
	t.Logf("RSS after the attack: %d MB", rss/mib)
	if rss >= 100*mib {
		t.Errorf("rpcd still holds %d MB a minute after the attack; want under 100 MB", rss/mib)
	}
}

// TestSlowReadersOverHTTP: 40 clients POST a 4 MiB demo.echo and never
// read the reply. rpcd must stay under 400 MB, serve an honest client, and
// drop the readers once their replies make no progress for -write-timeout.
// (Before: ~9.6 MB held per reader, still connected after 330 s.)
func TestSlowReadersOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("an attack of 160 MiB: not in -short")
	}
	p := startProc(t, "-write-timeout", "3s")
	body := `{"jsonrpc":"2.0","method":"demo.echo","params":[` + echoString(4*mib-100) + `],"id":1}`
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", p.http, len(body))
	for range 40 {
		nc, err := net.Dial("tcp", p.http)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		go io.WriteString(nc, head+body) // and never read
	}
	var peak int64
	for range 5 {
		time.Sleep(time.Second)
		if errs := honestCalls(p, 10*time.Second); errs != nil {
			t.Errorf("honest calls during the attack: %v", errs)
		}
		_, peak = p.memory(t)
	}
	t.Logf("peak RSS with 40 slow readers: %d MB", peak/mib)
	if peak > 400*mib {
		t.Errorf("rpcd held %d MB for 40 slow readers; want under 400 MB", peak/mib)
	}
	// The readers, still connected, are dropped by the write timeout,
	// and the memory goes back.
	var rss int64
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if rss, _ = p.memory(t); rss < 100*mib {
			break
		}
	}
	t.Logf("RSS with the slow readers still connected, after -write-timeout: %d MB", rss/mib)
	if rss >= 100*mib {
		t.Errorf("rpcd still holds %d MB for readers that stopped reading a minute ago; want under 100 MB", rss/mib)
	}
}

// TestSilentSocketsLeaveRoomForOthers: one source opens far more silent
// sockets than the connection limit. With limits per source address, an
// honest client from another address is served all along, and the silent
// sockets are dropped after the head timeout, not the idle timeout.
// (Before: 10,010 silent sockets from one process made every honest HTTP
// call fail.)
func TestSilentSocketsLeaveRoomForOthers(t *testing.T) {
	p := startProc(t, "-max-conns", "300", "-max-conns-per-ip", "100", "-read-timeout", "2s", "-handshake-timeout", "2s")
	var socks []net.Conn
	defer func() {
		for _, s := range socks {
			s.Close()
		}
	}()
	for _, addr := range []string{p.http, p.tcp} {
		for range 400 {
			nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				continue // the backlog is full: backpressure, as intended
			}
			socks = append(socks, nc)
		}
	}
	if errs := honestCalls(p, 10*time.Second); errs != nil {
		t.Errorf("honest calls during the flood of silent sockets: %v", errs)
	}
	// The silent sockets are closed after the head timeout: reads on
	// them see EOF, not a five-minute wait.
	var dropped atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range socks {
		wg.Go(func() {
			s.SetReadDeadline(deadline)
			if _, err := s.Read(make([]byte, 1)); err == io.EOF || isReset(err) {
				dropped.Add(1)
			}
		})
	}
	wg.Wait()
	if dropped := int(dropped.Load()); dropped != len(socks) {
		t.Errorf("%d of %d silent sockets dropped within the head timeout", dropped, len(socks))
	}
	logs := p.logs.String()
	if n := strings.Count(logs, "refused connections over the limit per source address"); n == 0 || n > 4 {
		t.Errorf("%d log lines for the refused sockets; want a summary or two per listener:\n%s", n, logs)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestTinyValuesStayInBudget: frames of nearly 4 MiB, each a demo.echo of a
// JSON array of tiny values, which a server decoding into any turns into
// far more memory than the frame: two million ones (8 bytes of Go values
// a byte, under the codecs' bound of 32, so served), or half a million
// one-member objects (46 a byte, refused with -32004 once 32 a byte are
// spent). rpcd must serve honest calls throughout, and stay under 1.5 GB
// (measured: about 350 MB for the ones, 720 MB for the objects, more under
// the race detector): the codecs' bound is per message and not charged to
// the memory budget, so 16 frames decoding at once may each reach 32 times
// their 4 MiB before they are refused; the bound says that is all they
// reach, not the gigabytes of 16 unbounded decodes.
func TestTinyValuesStayInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("an attack of 64 MiB: not in -short")
	}
	for _, tc := range []struct {
		name, elem string
		bound      int64
	}{
		{"ones", "1", 1500 * mib},
		{"one-member objects", `{"a":0}`, 1500 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProc(t)
			nc, err := net.Dial("tcp", p.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			n := (4*mib - 128) / (len(tc.elem) + 1)
			elems := strings.Repeat(tc.elem+",", n-1)
			msg := []byte(`{"jsonrpc":"2.0","method":"demo.echo","params":[[` + elems + tc.elem + `]],"id":1}`)
			go func() {
				w := bufio.NewWriter(nc)
				for range 16 {
					if frame.Write(w, msg) != nil {
						return
					}
				}
				w.Flush()
			}()
			var peak int64
			for range 8 {
				time.Sleep(time.Second)
				if errs := honestCalls(p, 10*time.Second); errs != nil {
					t.Errorf("honest calls during the attack: %v", errs)
				}
				_, peak = p.memory(t)
			}
			t.Logf("peak RSS: %d MB", peak/mib)
			if peak > tc.bound {
				t.Errorf("rpcd held %d MB for 16 frames of tiny values; want under %d MB", peak/mib, tc.bound/mib)
			}
		})
	}
}
