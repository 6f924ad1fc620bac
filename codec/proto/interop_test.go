package proto_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// python is the system interpreter, the one Debian's python3-protobuf
// package serves (a pyenv python3 does not see it).
const python = "/usr/bin/python3"

// TestPythonInterop has Python build requests with code that protoc
// generates from polyrpc.proto at test time, serves them, and lets Python
// check the responses (testdata/interop.py). It needs protoc and Python's
// protobuf package: apt-get install protobuf-compiler python3-protobuf.
func TestPythonInterop(t *testing.T) {
	t.Parallel()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc not found; apt-get install protobuf-compiler")
	}
	if out, err := exec.Command(python, "-c", "import google.protobuf").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import google.protobuf (apt-get install python3-protobuf): %v: %s", python, err, out)
	}
	dir := t.TempDir()
	gen := exec.Command(protoc, "--python_out="+dir, "--proto_path=.", "--proto_path=testdata", "polyrpc.proto", "thing.proto")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v: %s", err, out)
	}

	// The script runs from the temporary directory, read here so that go
	// test's cache knows of it.
	script, err := os.ReadFile(filepath.Join("testdata", "interop.py"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "interop.py"), script, 0o644); err != nil {
		t.Fatal(err)
	}

	s, c, _, _ := newServer(t)
	cmd := exec.Command(python, filepath.Join(dir, "interop.py"), dir, filepath.Join("testdata", "golden"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	served := 0
	for {
		var head [4]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			t.Errorf("reading a request: %v", err)
			break
		}
		msg := make([]byte, binary.BigEndian.Uint32(head[:]))
		if _, err := io.ReadFull(r, msg); err != nil {
			t.Errorf("reading a request: %v", err)
			break
		}
		if len(msg) == 0 {
			break
		}
		reply := s.ServeMessage(context.Background(), c, msg, nil)
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(reply)))
		if _, err := stdin.Write(append(frame, reply...)); err != nil {
			t.Errorf("writing a response: %v", err)
			break
		}
		served++
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if served < 20 {
		t.Errorf("served %d requests", served)
	}
}
