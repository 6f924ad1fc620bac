package deploy

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	rpcdOnce sync.Once
	rpcdBin  string
	rpcdErr  error
)

// buildRPCD builds rpcd once per test binary.
func buildRPCD(t *testing.T) string {
	t.Helper()
	rpcdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deploy-rpcd-")
		if err != nil {
			rpcdErr = err
			return
		}
		rpcdBin = filepath.Join(dir, "rpcd")
		out, err := exec.Command("go", "build", "-o", rpcdBin, "../cmd/rpcd").CombinedOutput()
		if err != nil {
			rpcdErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if rpcdErr != nil {
		t.Fatalf("cannot build rpcd: %v", rpcdErr)
	}
	return rpcdBin
}

// logBuffer collects a process's output safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replica is an rpcd process.
type replica struct {
	t         *testing.T
	args      []string
	cmd       *exec.Cmd
	done      chan struct{}
	http, tcp string // host:port
	logs      *logBuffer
}

var servingRE = regexp.MustCompile(`msg="serving (HTTP|TCP)" addr=(\S+)`)

// startReplica starts rpcd with args; httpAddr and tcpAddr are its listen
// addresses (127.0.0.1:0 for a free port each).
func startReplica(t *testing.T, httpAddr, tcpAddr string, args ...string) *replica {
	t.Helper()
	r := &replica{t: t, args: args, logs: &logBuffer{}}
	r.start(httpAddr, tcpAddr)
	t.Cleanup(r.stop)
	return r
}

func (r *replica) start(httpAddr, tcpAddr string) {
	t := r.t
	t.Helper()
	r.logs = &logBuffer{}
	r.http, r.tcp = "", ""
	r.cmd = exec.Command(buildRPCD(t), append([]string{"-http", httpAddr, "-tcp", tcpAddr}, r.args...)...)
	r.cmd.Stderr = r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done)
	for range 1000 {
		for _, m := range servingRE.FindAllStringSubmatch(r.logs.String(), -1) {
			if m[1] == "HTTP" {
				r.http = m[2]
			} else {
				r.tcp = m[2]
			}
		}
		if (httpAddr == "" || r.http != "") && (tcpAddr == "" || r.tcp != "") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("rpcd did not log its addresses:\n%s", r.logs.String())
}

// restart starts the replica again on the same addresses.
func (r *replica) restart() { r.start(r.http, r.tcp) }

// kill ends the replica with SIGKILL.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	<-r.done
}

// stop ends the replica as SIGTERM does, and waits.
func (r *replica) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

// calls counts the calls of method in the replica's debug call log lines.
func (r *replica) calls(method string) int {
	return strings.Count(r.logs.String(), `msg=call method=`+method+` `)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for programs that take no port 0.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// need returns the path of program, or skips the test saying how to get it.
func need(t *testing.T, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, serr := os.Stat(filepath.Join(dir, program)); serr == nil {
				return filepath.Join(dir, program)
			}
		}
		t.Skipf("%s is not installed (Debian package %s; .ci/run installs it): %v", program, debianPackage, err)
	}
	return p
}

// waitListening waits until addr accepts connections, or fails the test
// with the program's log.
func waitListening(t *testing.T, addr string, log func() string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s:\n%s", addr, log())
}

// startProgram runs a program in the foreground for the test's duration.
func startProgram(t *testing.T, name string, args ...string) *logBuffer {
	t.Helper()
	logs := &logBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return logs
}

// writeFile writes a file of the test's temporary directory.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// currentUser is the user name programs that drop privileges should keep.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// load is calls made by several goroutines until it ends, counted.
type load struct {
	t            *testing.T
	done, failed atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
}

// startLoad runs call(g, i), the i-th call of goroutine g, from n goroutines
// until end; a call's error fails the test (the first three are reported).
func startLoad(t *testing.T, n int, call func(g, i int) error) *load {
	l := &load{t: t, stop: make(chan struct{})}
	for g := range n {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if err := call(g, i); err != nil && l.failed.Add(1) <= 3 {
					t.Errorf("a call failed under load: %v", err)
				}
				l.done.Add(1)
			}
		})
	}
	return l
}

// wait waits until n more calls than at its start were made.
func (l *load) wait(n int64) {
	at := l.done.Load()
	for l.done.Load() < at+n {
		time.Sleep(10 * time.Millisecond)
	}
}

// end stops the load and logs what it made.
func (l *load) end(what string) {
	l.t.Helper()
	close(l.stop)
	l.wg.Wait()
	l.t.Logf("%s: %d calls, %d failed", what, l.done.Load(), l.failed.Load())
}
