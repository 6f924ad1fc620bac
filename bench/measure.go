package main

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// hangAfter is how long past its planned duration a measurement may run
// before the system is declared hung and left out of the rest of the run.
const hangAfter = 10 * time.Second

// errHung marks a measurement that did not finish.
var errHung = fmt.Errorf("hung: calls did not return within %v", hangAfter)

// seqResult is one measurement of calls made one at a time.
type seqResult struct {
	round    int
	rate     float64 // calls per second
	p50, p99 time.Duration
	cpu      time.Duration // process CPU time per call
	n        int
}

// concResult is one measurement of calls from many goroutines.
type concResult struct {
	round int
	rate  float64       // calls per second
	cpu   time.Duration // process CPU time per call
}

// measureSeq makes calls one after another for d and times each.
// lat is scratch space, returned for reuse.
func measureSeq(c caller, d time.Duration, lat []time.Duration) (seqResult, []time.Duration, error) {
	lat = lat[:0]
	cpu0 := cpuTime()
	start := time.Now()
	end := start.Add(d)
	t0 := start
	for {
		if err := c.call(); err != nil {
			return seqResult{}, lat, err
		}
		t1 := time.Now()
		lat = append(lat, t1.Sub(t0))
		if t1.After(end) {
			break
		}
		t0 = t1
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if err := checkLast(c); err != nil {
		return seqResult{}, lat, err
	}
	slices.Sort(lat)
	return seqResult{
		rate: float64(len(lat)) / elapsed.Seconds(),
		p50:  percentile(lat, 0.50),
		p99:  percentile(lat, 0.99),
		cpu:  cpu / time.Duration(len(lat)),
		n:    len(lat),
	}, lat, nil
}

// percentile returns the q-quantile of sorted lat (nearest rank).
func percentile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	i := int(q*float64(len(lat))+0.999999) - 1
	return lat[max(0, min(i, len(lat)-1))]
}

// measureConc has g goroutines, each with its own caller of the one shared
// client, call for d, and returns the calls per second of them all. The
// time runs until the last call in flight at d has returned.
func measureConc(callers []caller, d time.Duration) (concResult, error) {
	var (
		stop    atomic.Bool
		total   atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	ready := make(chan struct{})
	for _, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			<-ready
			for { // at least one call each, so that each has a result to check
				if err := c.call(); err != nil {
					errOnce.Do(func() { first = err })
					stop.Store(true)
					break
				}
				n++
				if stop.Load() {
					break
				}
			}
			total.Add(n)
		}()
	}
	cpu0 := cpuTime()
	start := time.Now()
	close(ready)
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if first != nil {
		return concResult{}, first
	}
	for _, c := range callers {
		if err := checkLast(c); err != nil {
			return concResult{}, err
		}
	}
	n := total.Load()
	return concResult{rate: float64(n) / elapsed.Seconds(), cpu: cpu / time.Duration(n)}, nil
}

// measureAllocs makes n calls one after another and returns the heap
// allocations and bytes per call of the whole process: client and server
// together, since both run here.
func measureAllocs(c caller, n int) (allocs, bytes float64, err error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		if err := c.call(); err != nil {
			return 0, 0, err
		}
	}
	runtime.ReadMemStats(&after)
	if err := checkLast(c); err != nil {
		return 0, 0, err
	}
	return float64(after.Mallocs-before.Mallocs) / float64(n),
		float64(after.TotalAlloc-before.TotalAlloc) / float64(n), nil
}

// checkLast checks the result of c's last call.
func checkLast(c caller) error {
	return check(c.kind, c.result())
}

// withDeadline runs f, giving up after limit; f then goes on in the
// background, and the caller must not use what f touches.
func withDeadline(limit time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("panic: %v", v)
			}
		}()
		done <- f()
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errHung
	}
}
