package main

import (
	"context"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
)

// register registers methods on s, failing the test on an error.
func register(t *testing.T, s *rpc.Server, methods map[string]any) {
	t.Helper()
	for name, fn := range methods {
		if err := s.Register(name, fn); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListSignatureSources runs rpcd list -v against servers that describe
// their methods in each way rpcd knows, or not at all: it always lists
// the methods, with one vocabulary of types, never "undef" or "undefined".
func TestListSignatureSources(t *testing.T) {
	t.Parallel()
	add := func(a, b int64) (int64, error) { return a + b, nil }
	tests := []struct {
		name    string
		methods map[string]any
		out     string // rpcd list -v's whole output
		names   string // rpcd list's
	}{{
		name: "XML-RPC introspection, no rpc.discover",
		methods: map[string]any{
			"add": add,
			"system.listMethods": func() ([]string, error) {
				return []string{"add", "sum", "ping", "mixed", "odd"}, nil
			},
			"system.methodSignature": func(name string) (any, error) {
				switch name {
				case "add":
					return [][]string{{"int", "int", "int"}, {"double", "double", "double"}}, nil
				case "ping":
					return [][]string{{"nil"}}, nil
				case "mixed":
					return [][]string{{"struct", "array", "base64", "dateTime.iso8601", "boolean", "i8", "undefined"}}, nil
				case "odd":
					return []any{"not a signature", []any{}}, nil
				}
				return "undef", nil
			},
			"system.methodHelp": func(name string) (string, error) {
				if name == "add" {
					return "Adds.\nTwo lines.\n", nil
				}
				return "", nil
			},
		},
		out: "add(int, int) int\nadd(float, float) float\n    Adds.\n    Two lines.\n" +
			"sum(...)\nping()\nmixed([]any, bytes, time, bool, int, any) object\nodd(...)\n",
		names: "add\nsum\nping\nmixed\nodd\n",
	}, {
		name: "system.listMethods alone",
		methods: map[string]any{
			"add":                add,
			"system.listMethods": func() ([]string, error) { return []string{"add", "system.listMethods"}, nil },
		},
		out:   "add(...)\nsystem.listMethods(...)\n",
		names: "add\nsystem.listMethods\n",
	}, {
		name: "rpc.discover alone",
		methods: map[string]any{
			"add": add,
			"rpc.discover": func() (map[string]any, error) {
				return map[string]any{"openrpc": "1.2.6", "methods": []any{
					map[string]any{"name": "subtract", "description": "Subtracts.", "paramStructure": "either",
						"params": []any{
							map[string]any{"name": "minuend", "required": true, "schema": map[string]any{"type": "integer"}},
							map[string]any{"name": "subtrahend", "required": true, "schema": map[string]any{"type": "integer"}},
						},
						"result": map[string]any{"name": "result", "schema": map[string]any{"type": "integer"}}},
					map[string]any{"name": "add", "params": []any{
						map[string]any{"name": "param1", "required": true, "schema": map[string]any{"$ref": "#/components/schemas/Pair"}},
						map[string]any{"name": "scale", "schema": map[string]any{"type": []any{"number", "null"}}},
					}, "result": map[string]any{"name": "sum", "schema": map[string]any{}}},
				}, "components": map[string]any{"schemas": map[string]any{
					"Pair": map[string]any{"type": "object", "properties": map[string]any{
						"b": map[string]any{"type": "string", "format": "date-time"},
						"a": map[string]any{"type": "array", "items": map[string]any{"type": "string", "contentEncoding": "base64"}},
					}},
				}}}, nil
			},
		},
		out:   "add(Pair, [scale float|null]) any\nsubtract(minuend int, subtrahend int) int\n    Subtracts.\n\ntype Pair {a []bytes, b time}\n",
		names: "add\nsubtract\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newRPCServer(t)
			register(t, s, tt.methods)
			u := serveHTTP(t, s)
			for _, codec := range []string{"json", "xml", "msgpack", "proto"} {
				out, stderr, code := rpcdCall(t, "list", "-v", "-codec", codec, u)
				if code != 0 || out != tt.out {
					t.Errorf("rpcd list -v -codec %s: exit %d, stderr %q\n%s\nwant\n%s", codec, code, stderr, out, tt.out)
				}
				out, stderr, code = rpcdCall(t, "list", "-codec", codec, u)
				if code != 0 || out != tt.names {
					t.Errorf("rpcd list -codec %s: exit %d, stderr %q\n%s\nwant\n%s", codec, code, stderr, out, tt.names)
				}
			}
		})
	}

	// A server that lists nothing gets the fault of system.listMethods.
	s := newRPCServer(t)
	register(t, s, map[string]any{"add": add})
	for _, args := range [][]string{{"list"}, {"list", "-v"}} {
		_, stderr, code := rpcdCall(t, append(args, serveHTTP(t, s))...)
		if code != 1 || !strings.Contains(stderr, "fault -32601: method not found: system.listMethods") {
			t.Errorf("rpcd %v against no introspection: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestSchemaType(t *testing.T) {
	t.Parallel()
	deep := map[string]any{"type": "integer"}
	for range 20 {
		deep = map[string]any{"type": "array", "items": deep}
	}
	for _, tt := range []struct {
		schema any
		want   string
	}{
		{nil, "any"},
		{true, "any"},
		{map[string]any{}, "any"},
		{map[string]any{"type": "integer", "format": "int32", "minimum": 0}, "int"},
		{map[string]any{"type": "number"}, "float"},
		{map[string]any{"type": "boolean"}, "bool"},
		{map[string]any{"type": "null"}, "null"},
		{map[string]any{"type": "string"}, "string"},
		{map[string]any{"type": "string", "format": "date-time"}, "time"},
		{map[string]any{"type": "string", "contentEncoding": "base64"}, "bytes"},
		{map[string]any{"type": "array"}, "[]any"},
		{map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}, "[]int"},
		{map[string]any{"type": "object"}, "object"},
		{map[string]any{"type": "object", "additionalProperties": map[string]any{}}, "map[string]any"},
		{map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "boolean"}}, "map[string]bool"},
		{map[string]any{"type": "object", "properties": map[string]any{"y": map[string]any{}, "x": map[string]any{"type": "integer"}}}, "{x int, y any}"},
		{map[string]any{"type": []any{"integer", "null"}}, "int|null"},
		{map[string]any{"oneOf": []any{map[string]any{"$ref": "#/components/schemas/T"}, map[string]any{"type": "null"}}}, "T|null"},
		{map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "integer"}}}, "int"},
		{map[string]any{"$ref": "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json"}, "OpenRPC"},
		{map[string]any{"$ref": "other.json#/x"}, "other.json#/x"},
		{map[string]any{"type": "unknown"}, "any"},
		{deep, "[][][][][][][][]…"},
	} {
		if got := schemaType(tt.schema, 0); got != tt.want {
			t.Errorf("schemaType(%v) = %q, want %q", tt.schema, got, tt.want)
		}
	}
}

// TestListTransportErrors checks that rpcd list fails on a call that got no
// answer, rather than taking it for a server without introspection.
func TestListTransportErrors(t *testing.T) {
	t.Parallel()
	s := newRPCServer(t)
	register(t, s, map[string]any{
		"system.listMethods": func() ([]string, error) { return []string{"slow"}, nil },
		"rpc.discover": func(ctx context.Context) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	u := serveHTTP(t, s)
	if out, stderr, code := rpcdCall(t, "list", "-v", "-timeout", "100ms", u); code != 2 || stderr != "rpcd: no reply within 100ms (-timeout)" {
		t.Errorf("rpcd list -v with a slow rpc.discover: exit %d, stderr %q\n%s", code, stderr, out)
	}
	if out, stderr, code := rpcdCall(t, "list", u); code != 0 || out != "slow\n" {
		t.Errorf("rpcd list: exit %d, stderr %q\n%s", code, stderr, out)
	}
}
