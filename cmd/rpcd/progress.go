package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress is redrawn this often as a bar on a terminal, and written as a
// line this often otherwise (a log or a CI job wants few lines).
const (
	barInterval  = 200 * time.Millisecond
	lineInterval = 5 * time.Second
	barWidth     = 20
)

// progress shows how far rpcd load has got, on stderr, while its workers
// count calls. Its counts are safe for concurrent use.
type progress struct {
	w     io.Writer
	bar   bool // a bar redrawn in place; else a line now and then
	total int64
	start time.Time

	done   atomic.Int64 // calls finished, whatever their outcome
	failed atomic.Int64 // of them, lost, duplicated or mismatched

	mu sync.Mutex // held while writing to w
}

// println writes a line of its own to w: on a terminal, in place of the
// bar, which the next tick redraws below it.
func (p *progress) println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintln(p.w, line)
}

func newProgress(w io.Writer, total int64) *progress {
	return &progress{w: w, bar: isTerminal(w), total: total}
}

// isTerminal reports whether w is a terminal (a character device), where
// a bar can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run shows the progress until stop is closed, then erases the bar, if it
// drew one, so that the summary starts on a clean line.
func (p *progress) run(stop <-chan struct{}) {
	interval := lineInterval
	if p.bar {
		interval = barInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			if p.bar {
				p.mu.Lock()
				fmt.Fprint(p.w, "\r\x1b[K")
				p.mu.Unlock()
			}
			return
		case now := <-t.C:
			if p.bar {
				p.mu.Lock()
				fmt.Fprint(p.w, "\r"+p.status(now)+"\x1b[K")
				p.mu.Unlock()
			} else {
				p.println("rpcd load: " + p.status(now))
			}
		}
	}
}

// status shows the counts at now: a bar then the numbers on a terminal,
// the numbers alone otherwise.
func (p *progress) status(now time.Time) string {
	done, failed := p.done.Load(), p.failed.Load()
	pct := int64(100)
	if p.total > 0 {
		pct = done * 100 / p.total
	}
	elapsed := now.Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	if !p.bar {
		return fmt.Sprintf("%d%% %d/%d calls, %.0f calls/s, %d failed, %v", pct, done, p.total, rate, failed, elapsed.Round(time.Second))
	}
	// Short enough for 80 columns: a wrapped line is not redrawn in place.
	s := fmt.Sprintf("%3d%% %d/%d calls %.0f/s %d failed", pct, done, p.total, rate, failed)
	fill := int(min(max(pct, 0), 100) * barWidth / 100)
	return "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barWidth-fill) + "] " + s
}
