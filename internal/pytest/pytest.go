// Package pytest runs Python scripts from Go tests, for interop tests against
// CPython's standard library. Tests skip with a clear message where no
// python3 is installed.
package pytest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is one interpreter.
type Python struct {
	// Version is what the interpreter reports, e.g. "3.12.1".
	Version string
	// pyenv is the PYENV_VERSION that selects it, empty for the default one.
	pyenv string
}

// Wanted are the versions interop tests try, selected with PYENV_VERSION
// where pyenv manages python3.
var Wanted = []string{"3.11", "3.12", "3.13"}

var (
	findOnce sync.Once
	found    []Python
)

func discover() []Python {
	if _, err := exec.LookPath("python3"); err != nil {
		return nil
	}
	var out []Python
	seen := map[string]bool{}
	pyenvVersions := map[string]string{}
	if b, err := exec.Command("pyenv", "versions", "--bare").Output(); err == nil {
		for _, v := range strings.Fields(string(b)) {
			for _, w := range Wanted {
				if strings.HasPrefix(v, w+".") {
					pyenvVersions[w] = v // the last listed, the newest patch
				}
			}
		}
	}
	for _, w := range Wanted {
		if v, ok := pyenvVersions[w]; ok {
			if got := version(v); strings.HasPrefix(got, w+".") && !seen[got] {
				seen[got] = true
				out = append(out, Python{Version: got, pyenv: v})
			}
		}
	}
	if len(out) == 0 {
		if got := version(""); got != "" {
			out = append(out, Python{Version: got})
		}
	}
	return out
}

func version(pyenv string) string {
	cmd := exec.Command("python3", "-c", "import platform; print(platform.python_version())")
	cmd.Env = env(pyenv)
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func env(pyenv string) []string {
	e := os.Environ()
	if pyenv != "" {
		e = append(e, "PYENV_VERSION="+pyenv)
	}
	return append(e, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
}

// All returns the interpreters of the Wanted versions that are installed
// (at least the default python3), or skips t when there is none.
func All(t testing.TB) []Python {
	t.Helper()
	findOnce.Do(func() { found = discover() })
	if len(found) == 0 {
		t.Skip("python3 is not installed: skipping the CPython interop test")
	}
	return found
}

// Default returns one interpreter, preferring the newest, or skips t.
func Default(t testing.TB) Python {
	all := All(t)
	return all[len(all)-1]
}

// Minor returns "3.12" for "3.12.1".
func (p Python) Minor() string {
	parts := strings.SplitN(p.Version, ".", 3)
	if len(parts) < 2 {
		return p.Version
	}
	return parts[0] + "." + parts[1]
}

// Run runs script with args and returns its standard output; it fails t,
// showing standard error, when the script exits non-zero or runs longer than
// timeout.
func (p Python) Run(t testing.TB, timeout time.Duration, script string, args ...string) string {
	t.Helper()
	out, errOut, err := p.Exec(timeout, script, args...)
	if err != nil {
		t.Fatalf("python %s: %v\nstdout:\n%s\nstderr:\n%s", p.Version, err, out, errOut)
	}
	return out
}

// Exec runs script with args and returns standard output, standard error and
// the error of the run.
func (p Python) Exec(timeout time.Duration, script string, args ...string) (stdout, stderr string, err error) {
	return p.exec(timeout, append([]string{"-c", script}, args...))
}

// RunFile runs the script at path (relative to the test's directory), as Run.
func (p Python) RunFile(t testing.TB, timeout time.Duration, path string, args ...string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := p.exec(timeout, append([]string{abs}, args...))
	if err != nil {
		t.Fatalf("python %s %s: %v\nstdout:\n%s\nstderr:\n%s", p.Version, path, err, out, errOut)
	}
	return out
}

func (p Python) exec(timeout time.Duration, argv []string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", argv...)
	cmd.Env = env(p.pyenv)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// Start runs script with args in the background, waits for the first line
// it prints and returns it; the process is killed when t ends. Servers
// written in Python print their port this way.
func (p Python) Start(t testing.TB, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "python3", append([]string{"-c", script}, args...)...)
	cmd.Env = env(p.pyenv)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		cmd.Wait()
		t.Fatalf("python %s printed no line: %v\nstderr:\n%s", p.Version, err, errOut.String())
	}
	return strings.TrimSpace(line)
}
