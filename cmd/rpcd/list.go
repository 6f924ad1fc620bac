package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/polyrpc/polyrpc/rpc"
)

const listUsage = `usage: rpcd list [flags] URL

Lists the server's methods: system.listMethods, or the methods of its
rpc.discover document. With -v, each method's signature, with its params'
names and types where the server states them, and its help text; then the
named types the signatures use. Signatures come from rpc.discover (OpenRPC)
when the server has it, else from system.methodSignature and
system.methodHelp:

    demo.add(a int, b int) int
    validator1.easyStructTest({moe int, larry int, curly int}) int
    sum(...any) any

Types: int, float, bool, string, time, bytes, null, []T (array of T),
map[string]T, {name T, ...} (an object and its fields), object, a named
type, T|U (either); any is a value of any type. A method with no result
shows none; [name T] is an optional param, ...T any number of them; (...)
means the server states no signature. {...} as the only param means the
params are sent by name (rpcd call -named). Characters that a terminal
would act on are printed as escapes (\u001b).

URL is %s.

%s

%s

flags:
`

func runList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rpcd list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	verbose := fs.Bool("v", false, "show each method's signature and help text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), listUsage, urlForms, targetForms, flagsBeforeURL)
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return helpDone(err)
	}
	if len(rest) != 1 {
		fs.Usage()
		return exitError{code: 2}
	}
	callCtx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	c, err := cf.open(callCtx, rest[0], "system.listMethods", "rpc.discover", "system.methodSignature", "system.methodHelp")
	if err != nil {
		return err
	}
	defer c.Close()
	fail := func(err error) error { return callError(ctx, callCtx, err, cf.timeout) }

	var names []string
	listErr := c.Call(callCtx, "system.listMethods", &names)
	if listErr != nil && !lacks(listErr) {
		return fail(listErr)
	}
	var doc *openRPC
	if *verbose || listErr != nil {
		var raw any
		err := c.Call(callCtx, "rpc.discover", &raw)
		switch {
		case err == nil:
			doc = parseOpenRPC(raw)
		case !lacks(err):
			return fail(err)
		}
	}
	if listErr != nil {
		// No system.listMethods: rpc.discover names the methods, if any.
		if doc == nil {
			return fail(listErr)
		}
		names = doc.names
	}

	var out bytes.Buffer
	for _, name := range names {
		if !*verbose {
			fmt.Fprintln(&out, sanitize(name))
			continue
		}
		m, ok := doc.method(name)
		if !ok {
			if m, err = xmlrpcMethod(callCtx, c, name); err != nil {
				return fail(err)
			}
		}
		for _, sig := range m.sigs {
			fmt.Fprintln(&out, sanitize(sig))
		}
		if help := strings.TrimRight(m.help, "\n"); help != "" {
			for line := range strings.SplitSeq(help, "\n") {
				fmt.Fprintf(&out, "    %s\n", sanitize(strings.TrimSuffix(line, "\r")))
			}
		}
	}
	if *verbose && doc != nil && len(doc.types) > 0 {
		fmt.Fprintln(&out)
		for _, name := range slices.Sorted(maps.Keys(doc.types)) {
			fmt.Fprintln(&out, sanitize("type "+name+" "+doc.types[name]))
		}
	}
	_, err = stdout.Write(out.Bytes())
	return err
}

// methodDoc is what rpcd list -v shows of a method.
type methodDoc struct {
	sigs []string // each a line such as "subtract(minuend int, subtrahend int) int"
	help string
}

// xmlrpcMethod describes a method by system.methodSignature and
// system.methodHelp, for servers without rpc.discover. A fault, as from a
// server that lacks either, leaves that part unknown.
func xmlrpcMethod(ctx context.Context, c caller, name string) (methodDoc, error) {
	var sig any
	var m methodDoc
	if err := c.Call(ctx, "system.methodSignature", &sig, name); err != nil && !lacks(err) {
		return m, err
	}
	m.sigs = xmlrpcSignatures(name, sig)
	if err := c.Call(ctx, "system.methodHelp", &m.help, name); err != nil {
		if !lacks(err) {
			return m, err
		}
		m.help = ""
	}
	return m, nil
}

// xmlrpcSignatures shows what system.methodSignature returned: an array of
// signatures, each an array of XML-RPC type names with the result first.
// Anything else, such as xmlrpc-c's "undef" or Python's "signatures not
// supported", means the signature is unknown: name(...).
func xmlrpcSignatures(name string, sig any) []string {
	list, _ := sig.([]any)
	var out []string
	for _, s := range list {
		types, ok := s.([]any)
		if !ok || len(types) == 0 {
			continue
		}
		var params []string
		for _, p := range types[1:] {
			params = append(params, xmlrpcTypeName(p))
		}
		line := name + "(" + strings.Join(params, ", ") + ")"
		if r := xmlrpcTypeName(types[0]); r != "null" {
			line += " " + r
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return []string{name + "(...)"}
	}
	return out
}

// xmlrpcTypeName maps an XML-RPC type name onto the names rpcd list uses
// for OpenRPC's schemas, so that one server reads the same either way.
func xmlrpcTypeName(t any) string {
	s, _ := t.(string)
	switch s {
	case "int", "i4", "i8":
		return "int"
	case "double":
		return "float"
	case "boolean":
		return "bool"
	case "string":
		return "string"
	case "dateTime.iso8601":
		return "time"
	case "base64":
		return "bytes"
	case "array":
		return "[]any"
	case "struct":
		return "object"
	case "nil":
		return "null"
	case "", "undefined", "undef", "any", "mixed":
		return "any"
	}
	return s
}

// openRPC is what rpcd list uses of an rpc.discover document.
type openRPC struct {
	names   []string
	methods map[string]methodDoc
	types   map[string]string // components.schemas: name → type
}

// method returns the description of a method; none on a nil document.
func (d *openRPC) method(name string) (methodDoc, bool) {
	if d == nil {
		return methodDoc{}, false
	}
	m, ok := d.methods[name]
	return m, ok
}

// parseOpenRPC reads an OpenRPC document as a client decodes it (maps and
// slices); nil when v is not one.
func parseOpenRPC(v any) *openRPC {
	root, _ := v.(map[string]any)
	methods, ok := root["methods"].([]any)
	if !ok {
		return nil
	}
	d := &openRPC{methods: map[string]methodDoc{}, types: map[string]string{}}
	for _, mv := range methods {
		m, _ := mv.(map[string]any)
		name, ok := m["name"].(string)
		if !ok {
			continue
		}
		d.names = append(d.names, name)
		help, _ := m["description"].(string)
		if help == "" {
			help, _ = m["summary"].(string)
		}
		d.methods[name] = methodDoc{sigs: []string{openRPCSignature(name, m)}, help: help}
	}
	slices.Sort(d.names)
	components, _ := root["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for name, s := range schemas {
		d.types[name] = schemaType(s, 0)
	}
	return d
}

// openRPCSignature shows an OpenRPC method object as
// name(param type, ...) result. The names polyrpc makes up for params it
// has no names for (param1, param2, ...) are left out.
func openRPCSignature(name string, m map[string]any) string {
	params, _ := m["params"].([]any)
	var ps []string
	for i, pv := range params {
		p, _ := pv.(map[string]any)
		pname, _ := p["name"].(string)
		if pname == "param"+strconv.Itoa(i+1) {
			pname = ""
		}
		typ := schemaType(p["schema"], 0)
		required, _ := p["required"].(bool)
		desc, _ := p["description"].(string)
		switch {
		case strings.HasPrefix(desc, "Variadic"):
			typ = "..." + typ
		case !required:
			typ = "[" + strings.TrimSpace(pname+" "+typ) + "]"
			pname = ""
		}
		ps = append(ps, strings.TrimSpace(pname+" "+typ))
	}
	var line string
	if structure, _ := m["paramStructure"].(string); structure == "by-name" {
		// The params are the fields of one object.
		fields := make([]string, len(ps))
		for i, p := range ps {
			fields[i] = strings.TrimSuffix(strings.TrimPrefix(p, "["), "]")
		}
		line = name + "({" + strings.Join(fields, ", ") + "})"
	} else {
		line = name + "(" + strings.Join(ps, ", ") + ")"
	}
	result, _ := m["result"].(map[string]any)
	if r := schemaType(result["schema"], 0); r != "null" {
		line += " " + r
	}
	return line
}

// maxSchemaDepth bounds how deep schemaType follows a schema: a server's
// document may nest without end.
const maxSchemaDepth = 8

// schemaRef is where OpenRPC keeps the named schemas that $ref points to.
const schemaRef = "#/components/schemas/"

// schemaType shows a JSON Schema, as rpc.discover describes values, as a
// short type: see listUsage.
func schemaType(v any, depth int) string {
	s, ok := v.(map[string]any)
	if !ok {
		return "any" // the schema true, or no schema
	}
	if depth >= maxSchemaDepth {
		return "…"
	}
	if ref, ok := s["$ref"].(string); ok {
		if name, ok := strings.CutPrefix(ref, schemaRef); ok {
			return name
		}
		if strings.Contains(ref, "open-rpc/meta-schema") {
			return "OpenRPC"
		}
		return ref
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			return joinTypes(alts, func(a any) string { return schemaType(a, depth+1) })
		}
	}
	switch t := s["type"].(type) {
	case string:
		return schemaTypeNamed(t, s, depth)
	case []any:
		return joinTypes(t, func(a any) string {
			name, _ := a.(string)
			return schemaTypeNamed(name, s, depth)
		})
	}
	return "any"
}

func joinTypes(alts []any, name func(any) string) string {
	var names []string
	for _, a := range alts {
		if n := name(a); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, "|")
}

// schemaTypeNamed shows schema s, of the JSON type typ.
func schemaTypeNamed(typ string, s map[string]any, depth int) string {
	switch typ {
	case "integer":
		return "int"
	case "number":
		return "float"
	case "boolean":
		return "bool"
	case "null":
		return "null"
	case "string":
		switch {
		case s["format"] == "date-time":
			return "time"
		case s["contentEncoding"] == "base64":
			return "bytes"
		}
		return "string"
	case "array":
		return "[]" + schemaType(s["items"], depth+1)
	case "object":
		if props, ok := s["properties"].(map[string]any); ok && len(props) > 0 {
			var fields []string
			for _, k := range slices.Sorted(maps.Keys(props)) {
				fields = append(fields, k+" "+schemaType(props[k], depth+1))
			}
			return "{" + strings.Join(fields, ", ") + "}"
		}
		if _, ok := s["additionalProperties"].(map[string]any); ok {
			return "map[string]" + schemaType(s["additionalProperties"], depth+1)
		}
		return "object"
	}
	return "any"
}

// lacks reports whether err is a fault that says the server lacks what list
// asked for (a method it does not have, say): any fault but -32001, which
// ends a call at the deadline it was sent with, as good as no reply.
func lacks(err error) bool {
	var e *rpc.Error
	return errors.As(err, &e) && e.Code != rpc.CodeDeadlineExceeded
}
