package metrics

import (
	"fmt"
	"math"
)

// Option configures New.
type Option interface {
	apply(*config) error
}

type option func(*config) error

func (o option) apply(c *config) error { return o(c) }

type config struct {
	durationBuckets []float64
	sizeBuckets     []float64
}

// defaultDurationBuckets, in seconds, reach from the 100 µs of a small
// call on a LAN to OpenTelemetry's recommended 10 s.
var defaultDurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// defaultSizeBuckets, in bytes: 64 B to 16 MiB in steps of 4.
var defaultSizeBuckets = []float64{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20}

// WithDurationBuckets sets the upper bounds, in seconds, of the buckets of
// the call duration histograms, in increasing order. None means the
// default: 100 µs to 10 s in 16 buckets.
func WithDurationBuckets(bounds ...float64) Option {
	bounds = append([]float64(nil), bounds...)
	return option(func(c *config) error {
		if err := checkBuckets("WithDurationBuckets", bounds); err != nil {
			return err
		}
		c.durationBuckets = bounds
		return nil
	})
}

// WithSizeBuckets sets the upper bounds, in bytes, of the buckets of the
// request and response size histograms, in increasing order. None means
// the default: 64 B to 16 MiB in steps of 4.
func WithSizeBuckets(bounds ...float64) Option {
	bounds = append([]float64(nil), bounds...)
	return option(func(c *config) error {
		if err := checkBuckets("WithSizeBuckets", bounds); err != nil {
			return err
		}
		c.sizeBuckets = bounds
		return nil
	})
}

func checkBuckets(name string, b []float64) error {
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("metrics: %s: bound %v is not a finite number from 0 up", name, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("metrics: %s: bounds must increase: %v after %v", name, v, b[i-1])
		}
	}
	return nil
}

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("metrics: nil Option")
		}
		if err := o.apply(&c); err != nil {
			return c, err
		}
	}
	if len(c.durationBuckets) == 0 {
		c.durationBuckets = defaultDurationBuckets
	}
	if len(c.sizeBuckets) == 0 {
		c.sizeBuckets = defaultSizeBuckets
	}
	return c, nil
}
