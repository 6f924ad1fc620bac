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
	"os"
	"strings"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// clientFlags are the flags rpcd call and rpcd list share.
type clientFlags struct {
	codec                  string
	timeout                time.Duration
	authKeyFile            string
	authAllowMD5           bool
	authAllowInsecurePerms bool
	tlsCA                  string
	tlsCert                string
	tlsKey                 string
	cluster                clusterFlags
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.codec, "codec", "json", "wire `codec`: json, xml, msgpack or proto")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up after this `duration`")
	f.registerSecurity(fs)
	f.cluster.register(fs)
}

// registerSecurity registers the authentication and TLS flags, which rpcd
// load shares.
func (f *clientFlags) registerSecurity(fs *flag.FlagSet) {
	fs.StringVar(&f.authKeyFile, "auth-key-file", "", "authenticate with the key in this `file` (its exact bytes; mode 0600)")
	fs.BoolVar(&f.authAllowInsecurePerms, "auth-allow-insecure-key-perms", false, "accept a key file that its group or others may read or write")
	fs.BoolVar(&f.authAllowMD5, "auth-allow-md5", false, "accept the legacy HMAC-MD5 handshake of Python 3.11 and older")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "trust the CA certificates in this PEM `file` (tls:// and https://)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "client certificate PEM `file` for mutual TLS")
	fs.StringVar(&f.tlsKey, "tls-key", "", "client key PEM `file` for mutual TLS")
}

// usageError exits with status 2 and the message.
func usageError(format string, args ...any) error {
	return exitError{code: 2, msg: "rpcd: " + fmt.Sprintf(format, args...)}
}

// dial makes a client for a URL (see parseTarget).
func (f *clientFlags) dial(rawURL string) (*rpc.Client, error) {
	t, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	codec, err := lookupCodec(f.codec)
	if err != nil {
		return nil, err
	}
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	auth, err := f.authenticator()
	if err != nil {
		return nil, err
	}
	switch t.scheme {
	case "http", "https":
		return httprpc.NewClient(t.url, codec, httpOptions(tlsConf, auth)...)
	}
	var opts []tcprpc.Option
	switch t.scheme {
	case "tls":
		if tlsConf == nil {
			tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts = append(opts, tcprpc.WithTLS(tlsConf))
	case "unix":
		opts = append(opts, tcprpc.WithNetwork("unix"))
	}
	if auth != nil {
		opts = append(opts, tcprpc.WithClientHandshake(auth.handshake))
	}
	return tcprpc.NewClient(t.addr, codec, opts...)
}

// httpOptions are the options of an HTTP client: its TLS, and its requests
// signed when it authenticates.
func httpOptions(tlsConf *tls.Config, auth *clientAuth) []httprpc.Option {
	var opts []httprpc.Option
	if tlsConf != nil {
		opts = append(opts, httprpc.WithTLSConfig(tlsConf))
	}
	if auth != nil {
		opts = append(opts, httprpc.WithWrapper(auth.key.SignHTTP))
	}
	return opts
}

// lookupCodec finds a codec by its -codec name.
func lookupCodec(name string) (rpc.Codec, error) {
	if c, ok := rpc.LookupCodec(name); ok {
		return c, nil
	}
	var names []string
	for _, c := range rpc.Codecs() {
		names = append(names, c.Name())
	}
	return nil, usageError("unknown codec %q (have %s)", name, strings.Join(names, ", "))
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

// callError maps a failed call to rpcd's exit statuses: 1 for a fault the
// server sent, 2 for anything else, a refusal of the caller's credentials
// (rpc.CodeUnauthenticated) included. A call that got no answer within
// -timeout is blamed on the timeout, whatever the transport or the codec
// was doing when the deadline came; one interrupted (ctx ended) says so.
func callError(ctx, callCtx context.Context, err error, timeout time.Duration) error {
	var e *rpc.Error
	switch {
	case errors.As(err, &e) && e.Code == rpc.CodeUnauthenticated:
		return exitError{code: 2, msg: "rpcd: authentication failed (-auth-key-file): " + sanitize(e.Message)}
	case errors.As(err, &e) && e.Code == rpc.CodeDeadlineExceeded && sentDeadlinePassed(callCtx, timeout):
		// The deadline travels with the call: the server gave up when it
		// passed, a moment before the client would have.
		return exitError{code: 2, msg: fmt.Sprintf("rpcd: no reply within %v (-timeout)", timeout)}
	case errors.As(err, &e):
		return exitError{code: 1, msg: faultText(e)}
	case ctx.Err() != nil:
		return exitError{code: 2, msg: "rpcd: interrupted"}
	}
	return exitError{code: 2, msg: "rpcd: " + sanitize(blameTimeout(callCtx, err, timeout).Error())}
}

// isFault reports whether err is a fault: an error the server answered
// the call with.
func isFault(err error) bool {
	var e *rpc.Error
	return errors.As(err, &e)
}

// sentDeadlinePassed reports whether the deadline of callCtx, which the
// call sent to the server, has passed or as good as (the server's clock
// runs from when the call arrived, a little later): a -32001 then answers
// -timeout, not the server's own -call-timeout.
func sentDeadlinePassed(callCtx context.Context, timeout time.Duration) bool {
	d, ok := callCtx.Deadline()
	return ok && time.Until(d) <= max(timeout/10, 10*time.Millisecond)
}

// blameTimeout returns the error of a call that failed with no answer: the
// timeout's when callCtx's deadline had passed, whatever the transport or
// the codec was doing then, else err.
func blameTimeout(callCtx context.Context, err error, timeout time.Duration) error {
	if err != nil && !isFault(err) && errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no reply within %v (-timeout)", timeout)
	}
	return err
}

// faultText shows a fault as "fault CODE: MESSAGE", then its data, if any,
// as JSON, every character a terminal would act on escaped.
func faultText(e *rpc.Error) string {
	msg := fmt.Sprintf("fault %d: %s", e.Code, sanitize(e.Message))
	if e.Data == nil {
		return msg
	}
	data, err := marshalJSON(e.Data)
	if err != nil {
		return msg + "\n" + sanitize(fmt.Sprintf("%v", e.Data))
	}
	return msg + "\n" + strings.TrimSuffix(string(data), "\n")
}

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rpcd call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	named := fs.String("named", "", "send named params: a JSON `object`, instead of positional PARAMs")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rpcd call [flags] URL METHOD [PARAM...]\n\n"+
			"Calls METHOD and prints its result as JSON. A PARAM that looks like JSON\n"+
			"(an array, an object, a quoted string, a number, true, false or null) must\n"+
			"be valid JSON, its numbers 64-bit integers or floats; any other word is\n"+
			"sent as a string. A fault prints \"fault CODE: MESSAGE\" and its data as\n"+
			"JSON on stderr. Characters that a terminal would act on (controls, bidi\n"+
			"overrides) in what the server sent are printed as escapes (\\u001b).\n\n"+
			"URL is %s.\n\n%s\n\n%s\n\n"+
			"Exit status: 0 success, 1 fault, 2 other errors (usage, transport,\n"+
			"authentication, no reply within -timeout).\n\nflags:\n", urlForms, targetForms, flagsBeforeURL)
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return helpDone(err)
	}
	if len(rest) < 2 {
		fs.Usage()
		return exitError{code: 2}
	}
	rawURL, method := rest[0], rest[1]
	if err := checkTarget(rawURL); err != nil {
		return err
	}
	params, err := parseParams(rest[2:])
	if err != nil {
		return err
	}
	var namedParams map[string]any
	if *named != "" {
		if len(params) > 0 {
			return usageError("give either -named or positional params, not both")
		}
		v, err := parseParam(*named)
		if err != nil {
			return usageError("-named: %v", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return usageError("-named wants a JSON object, got %s", abbrev(*named))
		}
		namedParams = m
	}
	callCtx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	c, err := cf.open(callCtx, rawURL, method)
	if err != nil {
		return err
	}
	defer c.Close()
	var result any
	if namedParams != nil {
		err = c.CallNamed(callCtx, method, &result, namedParams)
	} else {
		err = c.Call(callCtx, method, &result, params...)
	}
	if err != nil {
		return callError(ctx, callCtx, err, cf.timeout)
	}
	return printJSON(stdout, result)
}

// marshalJSON is encoding/json's indented text of v, with no HTML escapes
// and the characters that a terminal acts on escaped (sanitizeJSON).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return sanitizeJSON(buf.Bytes()), nil
}

func printJSON(w io.Writer, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return exitError{code: 2, msg: "rpcd: the result cannot be shown as JSON: " + sanitize(err.Error())}
	}
	_, err = w.Write(b)
	return err
}
