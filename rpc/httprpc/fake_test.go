package httprpc_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// lineCodec is a line-based text codec for testing the transport without a
// real wire format. A message is one line, or a batch of several:
//
//	call <id> <method> <arg>...   a request
//	note <method> <arg>...        a notification
//	ok <id> <value>               a result
//	err <id> <code> <message>     an error (id "-" when unknown)
//
// Arguments and values are integers, Go-quoted strings or nil.
type lineCodec struct{}

var (
	_ rpc.Codec       = lineCodec{}
	_ wire.BatchCodec = lineCodec{}
	_ wire.MediaTyper = lineCodec{}
	_ wire.Sniffer    = lineCodec{}
)

func (lineCodec) Name() string { return "line" }

func (lineCodec) MediaTypes() []string {
	return []string{"text/x-line-rpc", "application/x-line-rpc"}
}

func (lineCodec) Sniff(b byte) bool { return b == 'c' || b == 'n' }

// tokens splits a line into words and quoted strings, unquoting the latter.
func tokens(line string) ([]any, error) {
	var out []any
	for {
		line = strings.TrimLeft(line, " \t\r")
		if line == "" {
			return out, nil
		}
		if line[0] == '"' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("line: bad string in %q", line)
			}
			s, _ := strconv.Unquote(q)
			out = append(out, s)
			line = line[len(q):]
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if word == "nil" {
			out = append(out, nil)
		} else if n, err := strconv.ParseInt(word, 10, 64); err == nil {
			out = append(out, n)
		} else {
			out = append(out, word)
		}
		line = rest
	}
}

func appendValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "nil"...), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case string:
		return strconv.AppendQuote(dst, v), nil
	}
	return dst, fmt.Errorf("line: cannot encode %T", v)
}

type lineParams []any

func (p lineParams) Len() int                      { return len(p) }
func (p lineParams) DecodeAt(i int, dst any) error { return lineDecode(dst, p[i]) }
func (p lineParams) Names() []string               { return nil }
func (p lineParams) DecodeNamed(string, any) error { return errors.New("line: no named params") }
func (lineCodec) DecodeRequest(msg []byte, req *wire.Request) error {
	toks, err := tokens(string(bytes.TrimSpace(msg)))
	if err != nil {
		return &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
	}
	kind, _ := at[string](toks, 0)
	switch kind {
	case "call":
		id, ok := at[int64](toks, 1)
		if !ok {
			return &wire.Error{Code: wire.CodeInvalidRequest, Message: "line: call without id"}
		}
		req.ID.Raw = strconv.AppendInt(nil, id, 10)
		toks = toks[2:]
	case "note":
		req.Notification = true
		toks = toks[1:]
	default:
		return &wire.Error{Code: wire.CodeParseError, Message: "line: not a call"}
	}
	m, ok := at[string](toks, 0)
	if !ok {
		return &wire.Error{Code: wire.CodeInvalidRequest, Message: "line: no method"}
	}
	req.Method = m
	req.Params = lineParams(toks[1:])
	return nil
}

func at[T any](toks []any, i int) (T, bool) {
	var zero T
	if i >= len(toks) {
		return zero, false
	}
	v, ok := toks[i].(T)
	return v, ok
}

func appendID(dst []byte, raw []byte) []byte {
	if raw == nil {
		return append(dst, '-')
	}
	return append(dst, raw...)
}

func (lineCodec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	n := len(dst)
	if resp.Error != nil {
		dst = append(dst, "err "...)
		dst = appendID(dst, resp.ID.Raw)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(resp.Error.Code), 10)
		dst = append(dst, ' ')
		return strconv.AppendQuote(dst, resp.Error.Message), nil
	}
	dst = append(dst, "ok "...)
	dst = appendID(dst, resp.ID.Raw)
	dst = append(dst, ' ')
	out, err := appendValue(dst, resp.Result)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

func (lineCodec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	n := len(dst)
	if call.Named != nil {
		return dst, errors.New("line: no named params")
	}
	if call.Notification {
		dst = append(dst, "note "...)
	} else {
		dst = append(dst, "call "...)
		dst = strconv.AppendUint(dst, call.ID.Seq, 10)
		dst = append(dst, ' ')
	}
	dst = append(dst, call.Method...)
	for _, a := range call.Args {
		var err error
		dst = append(dst, ' ')
		if dst, err = appendValue(dst, a); err != nil {
			return dst[:n], err
		}
	}
	return dst, nil
}

type lineValue struct{ v any }

func (v lineValue) Decode(dst any) error { return lineDecode(dst, v.v) }

// lineDecode stores v, an int64, a string or nil, in *dst: of v's kind, of
// another integer type, or of type any.
func lineDecode(dst any, v any) error {
	d := reflect.ValueOf(dst)
	if d.Kind() != reflect.Pointer || d.IsNil() {
		return errors.New("line: decoding into a non-pointer")
	}
	d = d.Elem()
	if v == nil {
		d.SetZero()
		return nil
	}
	sv := reflect.ValueOf(v)
	switch {
	case d.Kind() == reflect.Interface && sv.Type().AssignableTo(d.Type()):
		d.Set(sv)
	case sv.Kind() == reflect.String && d.Kind() == reflect.String:
		d.SetString(sv.String())
	case sv.Kind() == reflect.Int64 && d.CanInt():
		if d.OverflowInt(sv.Int()) {
			return &wire.Error{Code: wire.CodeInvalidParams, Message: fmt.Sprintf("line: %d overflows %s", v, d.Type())}
		}
		d.SetInt(sv.Int())
	default:
		return &wire.Error{Code: wire.CodeInvalidParams, Message: fmt.Sprintf("line: cannot decode %T into %s", v, d.Type())}
	}
	return nil
}

func (lineCodec) DecodeReply(msg []byte, r *wire.Reply) error {
	toks, err := tokens(string(bytes.TrimSpace(msg)))
	if err != nil {
		return err
	}
	kind, _ := at[string](toks, 0)
	if id, ok := at[int64](toks, 1); ok {
		r.ID.Seq = uint64(id)
	}
	switch {
	case kind == "ok" && len(toks) == 3:
		r.Result = lineValue{toks[2]}
		return nil
	case kind == "err" && len(toks) == 4:
		code, _ := at[int64](toks, 2)
		m, _ := at[string](toks, 3)
		r.Error = &wire.Error{Code: int(code), Message: m}
		return nil
	}
	return fmt.Errorf("line: bad reply %q", msg)
}

// SplitBatch: a message of several lines is a batch, one call a line.
func (lineCodec) SplitBatch(msg []byte, _ int) ([][]byte, bool, error) {
	msg = bytes.TrimSpace(msg)
	if !bytes.Contains(msg, []byte("\n")) {
		return nil, false, nil
	}
	var items [][]byte
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			items = append(items, line)
		}
	}
	return items, true, nil
}

func (lineCodec) AppendBatch(dst []byte, items [][]byte) []byte {
	for i, it := range items {
		if i > 0 {
			dst = append(dst, '\n')
		}
		dst = append(dst, it...)
	}
	return dst
}

// streamCodec is a codec without media types, as a stream-only codec would
// be: the HTTP handler must ignore it.
type streamCodec struct{ rpc.Codec }

func (streamCodec) Name() string { return "stream" }

// otherCodec claims a media type that the test server does not serve.
type otherCodec struct{ lineCodec }

func (otherCodec) Name() string         { return "other" }
func (otherCodec) MediaTypes() []string { return []string{"application/x-other"} }
