package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	stdjson "encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// clientFlags are the flags rpcd call and rpcd list share.
type clientFlags struct {
	codec        string
	timeout      time.Duration
	authKeyFile  string
	authAllowMD5 bool
	tlsCA        string
	tlsCert      string
	tlsKey       string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.codec, "codec", "json", "wire `codec`: json, xml, msgpack or proto")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up after this `duration`")
	f.registerSecurity(fs)
}

// registerSecurity registers the authentication and TLS flags, which rpcd
// load shares.
func (f *clientFlags) registerSecurity(fs *flag.FlagSet) {
	fs.StringVar(&f.authKeyFile, "auth-key-file", "", "authenticate with the key in this `file` (its exact bytes)")
	fs.BoolVar(&f.authAllowMD5, "auth-allow-md5", false, "accept the legacy HMAC-MD5 handshake of Python 3.11 and older")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "trust the CA certificates in this PEM `file` (tls:// and https://)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "client certificate PEM `file` for mutual TLS")
	fs.StringVar(&f.tlsKey, "tls-key", "", "client key PEM `file` for mutual TLS")
}

// usageError exits with status 2 and the message.
func usageError(format string, args ...any) error {
	return exitError{code: 2, msg: "rpcd: " + fmt.Sprintf(format, args...)}
}

// dial makes a client for a URL: http:// and https:// over HTTP; tcp://,
// tls:// and unix:// over framed streams.
func (f *clientFlags) dial(rawURL string) (*rpc.Client, error) {
	codec, ok := rpc.LookupCodec(f.codec)
	if !ok {
		var names []string
		for _, c := range rpc.Codecs() {
			names = append(names, c.Name())
		}
		return nil, usageError("unknown codec %q (have %s)", f.codec, strings.Join(names, ", "))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, usageError("bad URL %q: %v", rawURL, err)
	}
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	auth, err := f.authenticator()
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https":
		var rt http.RoundTripper = &httprpc.RoundTripper{TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment}
		if auth != nil {
			if rt, err = auth.wrapHTTP(rt); err != nil {
				return nil, usageError("-auth-key-file: %v", err)
			}
		}
		return httprpc.NewClient(rawURL, codec, httprpc.WithRoundTripper(rt)), nil
	case "tcp", "tls":
		if u.Host == "" || u.Port() == "" {
			return nil, usageError("%s URL needs host:port: %q", u.Scheme, rawURL)
		}
		var opts []tcprpc.ClientOption
		if u.Scheme == "tls" {
			if tlsConf == nil {
				tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			opts = append(opts, tcprpc.WithTLS(tlsConf))
		}
		if auth != nil {
			opts = append(opts, tcprpc.WithClientHandshake(auth.handshake))
		}
		return tcprpc.NewClient(u.Host, codec, opts...), nil
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if path == "" {
			return nil, usageError("unix URL needs a path: unix:///path/to/socket")
		}
		opts := []tcprpc.ClientOption{tcprpc.WithNetwork("unix")}
		if auth != nil {
			opts = append(opts, tcprpc.WithClientHandshake(auth.handshake))
		}
		return tcprpc.NewClient(path, codec, opts...), nil
	}
	return nil, usageError("unsupported URL scheme %q: use http, https, tcp, tls or unix", u.Scheme)
}

func (f *clientFlags) tlsConfig() (*tls.Config, error) {
	if f.tlsCA == "" && f.tlsCert == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, usageError("-tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError("-tls-ca: no certificate in %s", f.tlsCA)
		}
		conf.RootCAs = pool
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, usageError("-tls-cert/-tls-key: %v", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// parseParam reads a command-line param as a JSON literal with exact
// integers; a word that is not JSON is a string.
func parseParam(s string) any {
	d := stdjson.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return s
	}
	if _, err := d.Token(); err != io.EOF {
		return s
	}
	return naturalNumbers(v)
}

// naturalNumbers turns json.Numbers into int64 (or uint64) when whole and
// in range, float64 otherwise.
func naturalNumbers(v any) any {
	switch x := v.(type) {
	case stdjson.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i := range x {
			x[i] = naturalNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = naturalNumbers(x[k])
		}
	}
	return v
}

// callError maps a failed call to rpcd's exit statuses: 1 for a fault the
// server sent, 2 for anything else.
func callError(err error) error {
	var e *rpc.Error
	if errors.As(err, &e) {
		return exitError{code: 1, msg: fmt.Sprintf("fault %d: %s", e.Code, e.Message)}
	}
	return exitError{code: 2, msg: "rpcd: " + err.Error()}
}

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rpcd call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	named := fs.String("named", "", "send named params: a JSON `object`, instead of positional PARAMs")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rpcd call [flags] URL METHOD [PARAM...]\n\n"+
			"Calls METHOD and prints its result as JSON. Each PARAM is a JSON literal;\n"+
			"a word that is not JSON is a string. URL is http://, https://, tcp://host:port,\n"+
			"tls://host:port or unix:///path. Exit status: 0 success, 1 fault, 2 other errors.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return exitError{code: 2}
	}
	rawURL, method := fs.Arg(0), fs.Arg(1)
	var params []any
	for _, p := range fs.Args()[2:] {
		params = append(params, parseParam(p))
	}
	var namedParams map[string]any
	if *named != "" {
		if len(params) > 0 {
			return usageError("give either -named or positional params, not both")
		}
		v, ok := parseParam(*named).(map[string]any)
		if !ok {
			return usageError("-named wants a JSON object, got %q", *named)
		}
		namedParams = v
	}
	c, err := cf.dial(rawURL)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	var result any
	if namedParams != nil {
		err = c.CallNamed(ctx, method, &result, namedParams)
	} else {
		err = c.Call(ctx, method, &result, params...)
	}
	if err != nil {
		return callError(err)
	}
	return printJSON(stdout, result)
}

func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitError{code: 2, msg: "rpcd: the result cannot be shown as JSON: " + err.Error()}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func runList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rpcd list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	verbose := fs.Bool("v", false, "show each method's signature and help text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rpcd list [flags] URL\n\nLists the server's methods (system.listMethods).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{code: 2}
	}
	c, err := cf.dial(fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	var names []string
	if err := c.Call(ctx, "system.listMethods", &names); err != nil {
		return callError(err)
	}
	var out bytes.Buffer
	for _, name := range names {
		if !*verbose {
			fmt.Fprintln(&out, name)
			continue
		}
		var sig any
		var help string
		if err := c.Call(ctx, "system.methodSignature", &sig, name); err != nil {
			return callError(err)
		}
		if err := c.Call(ctx, "system.methodHelp", &help, name); err != nil {
			return callError(err)
		}
		fmt.Fprintf(&out, "%s %s\n", name, formatSignatures(sig))
		if help != "" {
			for _, line := range strings.Split(strings.TrimRight(help, "\n"), "\n") {
				fmt.Fprintf(&out, "    %s\n", line)
			}
		}
	}
	_, err = stdout.Write(out.Bytes())
	return err
}

// formatSignatures shows [[ret, p1, p2], ...] as "(p1, p2) ret | ...".
func formatSignatures(sig any) string {
	list, ok := sig.([]any)
	if !ok {
		return fmt.Sprint(sig)
	}
	var parts []string
	for _, s := range list {
		types, ok := s.([]any)
		if !ok || len(types) == 0 {
			parts = append(parts, fmt.Sprint(s))
			continue
		}
		var params []string
		for _, p := range types[1:] {
			params = append(params, fmt.Sprint(p))
		}
		parts = append(parts, fmt.Sprintf("(%s) %v", strings.Join(params, ", "), types[0]))
	}
	return strings.Join(parts, " | ")
}
