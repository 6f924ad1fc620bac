package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// machine describes where a run happened.
type machine struct {
	goos, goarch string
	cpu          string
	numCPU       int
	gomaxprocs   int
	goVersion    string
	date         time.Time
	loadStart    string
	loadEnd      string
	elapsed      time.Duration
}

func describeMachine() machine {
	return machine{
		goos: runtime.GOOS, goarch: runtime.GOARCH,
		cpu:        cpuModel(),
		numCPU:     runtime.NumCPU(),
		gomaxprocs: runtime.GOMAXPROCS(0),
		goVersion:  runtime.Version(),
		date:       time.Now().UTC(),
		loadStart:  loadAvg(),
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg is the 1, 5 and 15 minute load averages of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func (m machine) String() string {
	return fmt.Sprintf("%s/%s · %s · %d CPUs, GOMAXPROCS=%d · %s · %s",
		m.goos, m.goarch, m.cpu, m.numCPU, m.gomaxprocs, m.goVersion, m.date.Format("2006-01-02 15:04 MST"))
}

// stat is the median and spread of repeated measurements.
type stat struct {
	med, min, max float64
	n             int
}

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{med: math.NaN(), min: math.NaN(), max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

func (s stat) ok() bool { return s.n > 0 }

// mode is a way of calling: one at a time or from many goroutines.
type mode int

const (
	modeOne mode = iota
	modeMany
)

// rates is the calls/s of e on call k in mode m, by round.
func (e *entry) rates(k callKind, m mode) map[int]float64 {
	c := e.cells[k]
	if e.err != nil || c == nil {
		return nil
	}
	out := map[int]float64{}
	if m == modeMany {
		for _, x := range c.conc {
			out[x.round] = x.rate
		}
	} else {
		for _, x := range c.seq {
			out[x.round] = x.rate
		}
	}
	return out
}

// rate is the median and spread of calls/s of e on call k in mode m.
func (e *entry) rate(k callKind, m mode) stat {
	var xs []float64
	for _, x := range e.rates(k, m) {
		xs = append(xs, x)
	}
	return statOf(xs)
}

// cpu is the median over rounds of the process CPU time per call.
func (e *entry) cpu(k callKind, m mode) time.Duration {
	c := e.cells[k]
	if c == nil {
		return 0
	}
	var xs []float64
	if m == modeMany {
		for _, x := range c.conc {
			xs = append(xs, float64(x.cpu))
		}
	} else {
		for _, x := range c.seq {
			xs = append(xs, float64(x.cpu))
		}
	}
	if len(xs) == 0 {
		return 0
	}
	return time.Duration(statOf(xs).med)
}

// latency is the median over rounds of p50 and of p99.
func (e *entry) latency(k callKind) (p50, p99 time.Duration) {
	c := e.cells[k]
	if c == nil || len(c.seq) == 0 {
		return 0, 0
	}
	a, b := make([]float64, len(c.seq)), make([]float64, len(c.seq))
	for i, s := range c.seq {
		a[i], b[i] = float64(s.p50), float64(s.p99)
	}
	return time.Duration(statOf(a).med), time.Duration(statOf(b).med)
}

// problem says why e has no numbers for call k, or "" when it has.
func (e *entry) problem(k callKind) string {
	switch c := e.cells[k]; {
	case e.err != nil:
		return "unavailable: " + e.err.Error()
	case c == nil:
		return "not measured"
	case c.err != nil && len(c.seq) == 0:
		return "failed: " + c.err.Error()
	}
	return ""
}

// ratio of e's median calls/s to ref's, or NaN when either was not
// measured.
func ratio(e, ref *entry, k callKind, m mode) float64 {
	if e == nil || ref == nil {
		return math.NaN()
	}
	a, b := e.rate(k, m), ref.rate(k, m)
	if !a.ok() || !b.ok() || b.med == 0 {
		return math.NaN()
	}
	return a.med / b.med
}

func renderReport(cfg *config, m machine, res *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	gob, tcp := res.find(refGob), res.find(refTCP)

	p("# polyrpc side by side\n\n")
	p("Machine: %s  \n", m)
	p("Load average (1 5 15 min): %s at the start, %s at the end; the run took %s.  \n", m.loadStart, m.loadEnd, m.elapsed.Round(time.Second))
	p("Method: %d rounds, interleaved: each round measures every system on each call and mode in turn, starting at a different system; "+
		"one measurement lasts %v. Numbers are the median over rounds, (min–max) the spread. "+
		"\"%d goroutines\" is %d goroutines sharing one client. CPU/call is the process's CPU time (user+system, client and server) per call, "+
		"which a busy machine disturbs far less than calls/s. Allocations are runtime.MemStats deltas over %d sequential calls (%d for the large calls) after a GC, "+
		"client and server together. ×gob and ×TCP are ratios of median calls/s to %s and to %s.\n\n",
		cfg.rounds, cfg.duration, cfg.goroutines, cfg.goroutines, cfg.allocCallsOf(callAdd), cfg.allocCallsOf(callInts), refGob, refTCP)

	for _, k := range allCalls {
		withTCP := k == callAdd
		p("## %s\n\n", k.title())
		head := []string{"system", "1-at-a-time calls/s (min–max)", "p50", "p99", "CPU/call", "×gob"}
		if withTCP {
			head = append(head, "×TCP")
		}
		head = append(head, fmt.Sprintf("%d goroutines calls/s (min–max)", cfg.goroutines), "CPU/call", "×gob")
		if withTCP {
			head = append(head, "×TCP")
		}
		head = append(head, "allocs/call", "B/call")
		p("| %s |\n|---|%s\n", strings.Join(head, " | "), strings.Repeat("---:|", len(head)-1))
		for _, e := range res.entries {
			if e.err == nil && e.cells[k] == nil {
				continue // the system does not make this call
			}
			if why := e.problem(k); why != "" {
				p("| %s | %s |%s\n", e.sys.name, cellText(why), strings.Repeat(" |", len(head)-2))
				continue
			}
			one, many := e.rate(k, modeOne), e.rate(k, modeMany)
			p50, p99 := e.latency(k)
			c := e.cells[k]
			allocs, bytes := statOf(c.allocs), statOf(c.bytes)
			row := []string{e.sys.name, spread(one), fmtDur(p50), fmtDur(p99), fmtDur(e.cpu(k, modeOne)), fmtRatio(ratio(e, gob, k, modeOne))}
			if withTCP {
				row = append(row, fmtRatio(ratio(e, tcp, k, modeOne)))
			}
			row = append(row, spread(many), fmtDur(e.cpu(k, modeMany)), fmtRatio(ratio(e, gob, k, modeMany)))
			if withTCP {
				row = append(row, fmtRatio(ratio(e, tcp, k, modeMany)))
			}
			row = append(row, fmtAllocs(allocs), fmtBytes(bytes))
			p("| %s |\n", strings.Join(row, " | "))
			if c.err != nil {
				p("| %s (later) | %s |%s\n", e.sys.name, cellText("failed: "+c.err.Error()), strings.Repeat(" |", len(row)-2))
			}
		}
		p("\n")
	}

	p("## Targets (issue 6), from this run\n\n")
	held, total := 0, 0
	for _, t := range targets {
		line, ok, measured := t.eval(res)
		if measured {
			total++
			if ok {
				held++
			}
		}
		p("- %s\n", line)
	}
	p("\n%d of %d measured targets held. The targets are judged on calls/s; the CPU-time ratio beside each is for reading a run on a busy machine.\n\n", held, total)

	p("## Systems\n\n")
	for _, e := range res.entries {
		p("- **%s**: %s\n", e.sys.name, e.sys.desc)
	}
	p("\nSmall call: add(%d, %d). Large calls: echo of %d int64 spread over the whole int64 range; echo of a 50-field struct "+
		"(13 signed ints, 8 floats, 13 strings, 8 bools, 2 times, a []string, a []float64, a []struct, two maps and a nested struct; bench/record.go). "+
		"Every result is checked against the expected value after every measurement.\n", addA, addB, numInts)
	return b.String()
}

// cellText makes s fit in one table cell.
func cellText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:160]) + "…"
	}
	return s
}

func spread(s stat) string {
	if !s.ok() {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", fmtRate(s.med), fmtRate(s.min), fmtRate(s.max))
}

func fmtRate(x float64) string {
	switch {
	case math.IsNaN(x):
		return "—"
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	case x >= 1e3:
		return fmt.Sprintf("%.2fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	default:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

func fmtAllocs(s stat) string {
	if !s.ok() {
		return "—"
	}
	return fmt.Sprintf("%.1f", s.med)
}

func fmtBytes(s stat) string {
	switch {
	case !s.ok():
		return "—"
	case s.med >= 10*1024:
		return fmt.Sprintf("%.0f KiB", s.med/1024)
	default:
		return fmt.Sprintf("%.0f", s.med)
	}
}
