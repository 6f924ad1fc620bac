package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/tracing"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// rpcd traces every call it serves (package tracing). Without
// -otlp-endpoint its spans record nothing, but a caller's trace context
// (the traceparent header, or metadata entry) still reaches the handler's
// context, so the debug call line carries the caller's trace id. With it,
// spans are exported over OTLP/HTTP (protobuf) in batches, as service.name
// "rpcd" (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override), sampled
// as the caller's are (parent-based, else always; OTEL_TRACES_SAMPLER
// overrides), and what is left is flushed on shutdown, for at most 5 s
// (and -shutdown-timeout) once the calls in flight are done. The exporter's other
// settings come from the OTEL_EXPORTER_OTLP_* environment variables
// (headers, timeout, compression, certificates).

// otlpUsage is the usage of -otlp-endpoint.
const otlpUsage = "export the calls' traces over OTLP/HTTP to this `URL` (http://host:4318/v1/traces; a URL without a path gets /v1/traces); off by default"

// setOTLPEndpoint sets -otlp-endpoint: an http or https URL with a host.
func (c *config) setOTLPEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("want an http:// or https:// URL with a host and no user, as http://localhost:4318/v1/traces")
	}
	if u.Path == "" {
		u.Path = "/v1/traces"
	}
	c.otlpEndpoint = u.String()
	return nil
}

// tracer is rpcd's tracing: the provider of its spans, and, when they are
// exported, what flushes and stops the export. A nil *tracer records
// nothing.
type tracer struct {
	tp       trace.TracerProvider
	shutdown func(context.Context) error
}

// startTracing returns rpcd's tracing: exporting to endpoint when it is
// not empty, with the export's failures logged to log.
func startTracing(endpoint string, log *slog.Logger) (*tracer, error) {
	if endpoint == "" {
		return &tracer{tp: noop.NewTracerProvider()}, nil
	}
	// OpenTelemetry reports a failed export to its global handler, by
	// default the standard logger: rpcd's own it is.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: exporting spans failed", "err", err)
	}))
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("rpcd: -otlp-endpoint: %w", err)
	}
	// The environment's resource attributes come last, so that they
	// override rpcd's name.
	res, err := resource.New(context.Background(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName("rpcd")),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("rpcd: tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &tracer{tp: tp, shutdown: tp.Shutdown}, nil
}

// interceptor returns the server interceptor that traces calls.
func (t *tracer) interceptor() rpc.Interceptor {
	var tp trace.TracerProvider = noop.NewTracerProvider()
	if t != nil && t.tp != nil {
		tp = t.tp
	}
	return tracing.Server(tracing.WithTracerProvider(tp))
}

// maxFlush bounds the time rpcd takes to export its last spans as it
// stops, so that a collector that is down does not hold the process up:
// spans are worth less than a prompt exit.
const maxFlush = 5 * time.Second

// stop exports the spans not yet exported, taking at most timeout (and
// maxFlush), and stops the export.
func (t *tracer) stop(timeout time.Duration, log *slog.Logger) {
	if t == nil || t.shutdown == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(timeout, maxFlush))
	defer cancel()
	if err := t.shutdown(ctx); err != nil {
		log.Warn("tracing: exporting the last spans failed", "err", err)
	}
}

// appendTraceID appends the trace id of ctx's span to a call's log line,
// when it has one.
func appendTraceID(ctx context.Context, attrs []slog.Attr) []slog.Attr {
	if id := tracing.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	return attrs
}
