package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/polyrpc/polyrpc/metrics"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
	"github.com/polyrpc/polyrpc/tracing"
)

// observe is what an observed system turns on, at both ends.
type observe struct {
	suffix, desc string
	metrics      bool
	sampler      sdktrace.Sampler // nil: no tracing
}

// The observed systems: metrics alone, tracing alone (every call
// sampled), both with every call sampled, and both with 1% of the traces
// sampled, parent-based, as production usually runs.
var (
	observeMetrics = observe{
		suffix:  " +metrics",
		desc:    "metrics.Server/Client (Prometheus registry)",
		metrics: true,
	}
	observeTracing = observe{
		suffix:  " +tracing",
		desc:    "tracing.Server/Client (OpenTelemetry SDK, every call sampled, batch span processor to a discarding exporter)",
		sampler: sdktrace.AlwaysSample(),
	}
	observeBoth = observe{
		suffix:  " +metrics+tracing",
		desc:    "metrics.Server/Client (Prometheus registry) and tracing.Server/Client (OpenTelemetry SDK, every call sampled, batch span processor to a discarding exporter)",
		metrics: true,
		sampler: sdktrace.AlwaysSample(),
	}
	observeBoth1 = observe{
		suffix:  " +metrics+tracing 1% sampled",
		desc:    "metrics.Server/Client (Prometheus registry) and tracing.Server/Client (OpenTelemetry SDK, ParentBased(TraceIDRatioBased(0.01)), batch span processor to a discarding exporter)",
		metrics: true,
		sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01)),
	}
)

// polyrpcTCPObserved is polyrpcTCP with o's interceptors on, at both ends,
// as a production service runs: the metrics package's interceptors on a
// registry of their own, and OpenTelemetry's SDK with o's sampler, its
// spans batched to an exporter that drops them (the cost up to the export,
// not of a collector). Its twin without them is polyrpcTCP(codec).
func polyrpcTCPObserved(codec string, o observe) system {
	return system{
		name:  "polyrpc tcp+" + codec + o.suffix,
		desc:  "polyrpc tcp+" + codec + " with " + o.desc + " interceptors on both ends",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			c, err := lookupCodec(codec)
			if err != nil {
				return nil, err
			}
			var (
				s            *rpc.Server
				sides, cides []rpc.Interceptor
				shutdown     = func() {}
			)
			if o.metrics {
				m, err := metrics.New(prometheus.NewRegistry())
				if err != nil {
					return nil, err
				}
				registered := func(method string) bool { _, ok := s.Method(method); return ok }
				sides = append(sides, m.Server(registered))
				cides = append(cides, m.Client())
			}
			if o.sampler != nil {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(o.sampler), sdktrace.WithBatcher(discardSpans{}))
				tr := tracing.WithTracerProvider(tp)
				sides = append(sides, tracing.Server(tr))
				cides = append(cides, tracing.Client(tr))
				shutdown = func() { tp.Shutdown(context.Background()) }
			}
			s, err = newPolyServer(rpc.WithInterceptors(sides...))
			if err != nil {
				shutdown()
				return nil, err
			}
			ln, err := listen()
			if err != nil {
				shutdown()
				return nil, err
			}
			srv, err := tcprpc.NewServer(s)
			if err != nil {
				shutdown()
				return nil, err
			}
			go srv.Serve(ln)
			d, err := tcprpc.Dialer(ln.Addr().String())
			if err != nil {
				srv.Close()
				shutdown()
				return nil, err
			}
			cl, err := rpc.NewStreamClient(d, c, rpc.WithInterceptors(cides...))
			if err != nil {
				srv.Close()
				shutdown()
				return nil, err
			}
			return &instance{
				newCaller: polyCaller(cl),
				close:     closers(shutdown, func() { srv.Close() }, func() { cl.Close() }),
			}, nil
		},
	}
}

// discardSpans is a span exporter that drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
