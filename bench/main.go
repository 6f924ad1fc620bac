// Command bench measures polyrpc side by side with its peers: every system
// runs in this process on loopback, and the same three calls are measured
// one at a time, from many goroutines sharing one client, and for
// allocations. Repetitions are interleaved across systems, so that a busy
// machine slows them all alike. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
}

// config is the run's settings, from its flags.
type config struct {
	duration   time.Duration
	rounds     int
	only       *regexp.Regexp
	out        string
	goroutines int
	allocCalls int
	warmup     time.Duration
	cpuProfile string
}

// allocCallsOf is the number of calls of an allocation measurement of k.
func (cfg *config) allocCallsOf(k callKind) int {
	if k == callAdd {
		return cfg.allocCalls
	}
	return max(1, cfg.allocCalls/4)
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	only := fs.String("only", "", "measure only the systems whose names match this regexp (e.g. 'gob|msgpack|bare')")
	fs.DurationVar(&cfg.duration, "duration", 200*time.Millisecond, "length of one measurement")
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds; each measures every system once per call and mode, interleaved")
	fs.StringVar(&cfg.out, "out", ".", "directory for results.md and results.png")
	fs.IntVar(&cfg.goroutines, "goroutines", 64, "goroutines sharing one client in the concurrent mode")
	fs.IntVar(&cfg.allocCalls, "alloc-calls", 200, "sequential calls per allocation measurement of the small call (a quarter of it for the large calls)")
	fs.DurationVar(&cfg.warmup, "warmup", 100*time.Millisecond, "warm-up per system and call, before the rounds")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the measurements to this file (for go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		return nil, fmt.Errorf("-only: %w", err)
	}
	cfg.only = re
	if cfg.duration <= 0 || cfg.rounds < 1 || cfg.goroutines < 1 || cfg.allocCalls < 1 {
		return nil, errors.New("-duration, -rounds, -goroutines and -alloc-calls must be positive")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var selected []system
	for _, s := range systems {
		if cfg.only.MatchString(s.name) {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("-only %q matches no system", cfg.only)
	}

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	m := describeMachine()
	start := time.Now()
	res := measureAll(ctx, cfg, selected, stderr)
	m.loadEnd = loadAvg()
	m.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}

	report := renderReport(cfg, m, res)
	if _, err := io.WriteString(stdout, report); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	png, err := renderChart(res, cfg.goroutines)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.out, "results.png"), png, 0o644)
}
