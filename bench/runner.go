package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
)

// cell holds the measurements of one system on one call.
type cell struct {
	one  caller   // the caller of the one-at-a-time and allocation modes
	many []caller // the callers of the concurrent mode

	seq    []seqResult
	conc   []concResult
	allocs []float64
	bytes  []float64
	err    error // the first failure; the cell is measured no more
}

// entry is one system in a run.
type entry struct {
	sys   system
	inst  *instance
	err   error // the system could not be started
	cells map[callKind]*cell
}

// results is everything a run measured.
type results struct {
	entries []*entry
}

// find returns the entry of the system named name, or nil.
func (r *results) find(name string) *entry {
	for _, e := range r.entries {
		if e.sys.name == name {
			return e
		}
	}
	return nil
}

// newCaller returns a caller of call k, marked with k for checking.
func (e *entry) newCaller(k callKind, concurrent bool) caller {
	c := e.inst.newCaller(k, concurrent)
	c.kind = k
	return c
}

// measureAll starts the systems, checks and warms each call, then runs the
// rounds. In every round each call and mode is measured for every system in
// turn, starting at a different system each round, so that systems compared
// with each other are measured close together in time.
func measureAll(ctx context.Context, cfg *config, systems []system, log io.Writer) *results {
	res := &results{}
	for _, s := range systems {
		e := &entry{sys: s, cells: map[callKind]*cell{}}
		res.entries = append(res.entries, e)
		err := withDeadline(hangAfter, func() (err error) {
			e.inst, err = s.start(ctx)
			return err
		})
		if err != nil {
			e.err = err
			fmt.Fprintf(log, "%-24s unavailable: %v\n", s.name, err)
			continue
		}
		for _, k := range s.calls {
			c := &cell{}
			e.cells[k] = c
			if isHung(e) {
				c.err = fmt.Errorf("not tried: %w on an earlier call", errHung)
				continue
			}
			c.err = withDeadline(hangAfter+cfg.warmup, func() error { return warm(cfg, e, k, c) })
			if c.err != nil {
				fmt.Fprintf(log, "%-24s %-6s failed: %v\n", s.name, k, c.err)
			}
		}
		fmt.Fprintf(log, "%-24s started\n", s.name)
	}
	defer func() {
		for _, e := range res.entries {
			if e.inst != nil && !isHung(e) {
				e.inst.close()
			}
		}
	}()

	var lat []time.Duration
	for r := 0; r < cfg.rounds; r++ {
		t0 := time.Now()
		var spent [3]time.Duration // per mode, for the progress line
		for _, k := range allCalls {
			for mode := 0; mode < 3; mode++ {
				tm := time.Now()
				for i := range res.entries {
					if ctx.Err() != nil {
						return res
					}
					e := res.entries[(i+r)%len(res.entries)]
					c := e.cells[k]
					if e.err != nil || c == nil || c.err != nil || isHung(e) {
						continue
					}
					runtime.GC() // so that one system's garbage is not another's pause
					var err error
					switch mode {
					case 0:
						err = withDeadline(cfg.duration+hangAfter, func() error {
							s, l, err := measureSeq(c.one, cfg.duration, lat)
							lat = l
							if err == nil {
								s.round = r
								c.seq = append(c.seq, s)
							}
							return err
						})
						if err == errHung {
							lat = nil // the hung measurement still owns it
						}
					case 1:
						err = withDeadline(cfg.duration+hangAfter, func() error {
							x, err := measureConc(c.many, cfg.duration)
							if err == nil {
								x.round = r
								c.conc = append(c.conc, x)
							}
							return err
						})
					case 2:
						err = withDeadline(hangAfter, func() error {
							a, b, err := measureAllocs(c.one, cfg.allocCallsOf(k))
							if err == nil {
								c.allocs = append(c.allocs, a)
								c.bytes = append(c.bytes, b)
							}
							return err
						})
					}
					if err != nil {
						c.err = err
						fmt.Fprintf(log, "%-24s %-6s failed in round %d: %v\n", e.sys.name, k, r+1, err)
					}
				}
				spent[mode] += time.Since(tm)
			}
		}
		fmt.Fprintf(log, "round %d/%d done in %v (one at a time %v, concurrent %v, allocations %v); load %s\n",
			r+1, cfg.rounds, time.Since(t0).Round(time.Millisecond), spent[0].Round(time.Millisecond),
			spent[1].Round(time.Millisecond), spent[2].Round(time.Millisecond), loadAvg())
	}
	return res
}

// isHung reports whether a measurement of e never finished; such a system
// is neither measured nor closed again, as its goroutines still run.
func isHung(e *entry) bool {
	for _, c := range e.cells {
		if errors.Is(c.err, errHung) {
			return true
		}
	}
	return false
}

// warm checks call k of e once, one at a time and from every goroutine of
// the concurrent mode, and runs both modes briefly so that connections are
// dialed and caches filled before anything is measured.
func warm(cfg *config, e *entry, k callKind, c *cell) error {
	c.one = e.newCaller(k, false)
	if err := c.one.call(); err != nil {
		return err
	}
	if err := checkLast(c.one); err != nil {
		return err
	}
	c.many = make([]caller, cfg.goroutines)
	for i := range c.many {
		c.many[i] = e.newCaller(k, true)
	}
	if _, _, err := measureSeq(c.one, cfg.warmup/2, nil); err != nil {
		return err
	}
	_, err := measureConc(c.many, cfg.warmup/2)
	return err
}
