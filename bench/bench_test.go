package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSystems makes a handful of calls of every kind on every system, one at
// a time and from several goroutines sharing the client, and checks each
// result: the harness measures only systems that answer correctly.
func TestSystems(t *testing.T) {
	for _, s := range systems {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			var inst *instance
			err := withDeadline(hangAfter, func() (err error) {
				inst, err = s.start(context.Background())
				return err
			})
			if errors.Is(err, errNoCodec) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			hung := false
			defer func() {
				if !hung { // a hung system's goroutines still use it
					inst.close()
				}
			}()
			for _, k := range s.calls {
				t.Run(k.String(), func(t *testing.T) {
					if hung {
						t.Skip("skipped: an earlier call hung")
					}
					err := withDeadline(hangAfter, func() error { return callAndCheck(inst, k) })
					hung = errors.Is(err, errHung)
					if err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// callAndCheck makes call k three times on one caller, then three times on
// each of eight callers at once, and checks every result.
func callAndCheck(inst *instance, k callKind) error {
	one := inst.newCaller(k, false)
	one.kind = k
	for i := 0; i < 3; i++ {
		if err := one.call(); err != nil {
			return err
		}
		if err := checkLast(one); err != nil {
			return err
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for g := 0; g < 8; g++ {
		c := inst.newCaller(k, true)
		c.kind = k
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				err := c.call()
				if err == nil {
					err = checkLast(c)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// TestCheckRejects makes sure that check tells a wrong result from a right one.
func TestCheckRejects(t *testing.T) {
	wrongInts := newInts()
	wrongInts[999]++
	wrongRecord := newRecord()
	wrongRecord.Items[1].Qty++
	tests := []struct {
		kind callKind
		got  any
		ok   bool
	}{
		{callAdd, addA + addB, true},
		{callAdd, addA + addB + 1, false},
		{callAdd, int32(addA + addB), false},
		{callInts, newInts(), true},
		{callInts, wrongInts, false},
		{callStruct, newRecord(), true},
		{callStruct, wrongRecord, false},
		{callStruct, fromPB(toPB(new(newRecord()))), true},
	}
	for _, tt := range tests {
		if err := check(tt.kind, tt.got); (err == nil) != tt.ok {
			t.Errorf("check(%v, %s) = %v, want ok=%v", tt.kind, clipValue(tt.got), err, tt.ok)
		}
	}
}

func TestStats(t *testing.T) {
	s := statOf([]float64{5, 1, 3, 2})
	if s.med != 2.5 || s.min != 1 || s.max != 5 || s.n != 4 {
		t.Errorf("statOf = %+v", s)
	}
	if s := statOf(nil); s.ok() || !math.IsNaN(s.med) {
		t.Errorf("statOf(nil) = %+v", s)
	}
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i + 1)
	}
	if p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99); p50 != 50 || p99 != 99 {
		t.Errorf("percentiles of 1..100 = %v, %v; want 50, 99", p50, p99)
	}
	for _, tt := range []struct{ in, want float64 }{{0.3, 0.5}, {7, 10}, {1200, 2000}, {45000, 50000}} {
		if got := niceStep(tt.in); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestRun runs the whole program on the two reference systems, briefly, and
// checks the table, the targets and the chart it writes.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-only", "^(net/rpc gob|bare TCP)$", "-rounds", "2", "-duration", "20ms", "-warmup", "20ms", "-alloc-calls", "20", "-out", dir}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"| net/rpc gob | ", "| bare TCP | ", "1.00×", "## large: echo []int64 of 1000",
		"TCP+msgpack small 1-at-a-time ≥ 1.3× net/rpc gob: not measured", "GOMAXPROCS=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil || string(md) != out {
		t.Errorf("results.md differs from stdout (err %v)", err)
	}
	f, err := os.Open(filepath.Join(dir, "results.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() < 100 {
		t.Errorf("chart is %v", b)
	}
}
