package rpc_test

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// fakeCodec is a minimal codec for testing the core without a real wire
// format: an envelope {"m":method,"id":n,"p":params} in encoding/json, each
// param decoded by encoding/json into the type wanted. A message starting
// with '[' is a batch.
type fakeCodec struct{}

var _ wire.BatchCodec = fakeCodec{}

type fakeEnvelope struct {
	Method string             `json:"m,omitempty"`
	ID     *uint64            `json:"id,omitempty"`
	Params stdjson.RawMessage `json:"p,omitempty"`
	Result stdjson.RawMessage `json:"r,omitempty"`
	Error  *fakeError         `json:"e,omitempty"`
	Meta   map[string]string  `json:"md,omitempty"`
}

// IDKey implements wire.IDKeyer: ids are whole numbers.
func (fakeCodec) IDKey(raw []byte) (wire.Key, bool) {
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return wire.Key{Num: n}, err == nil
}

type fakeError struct {
	Code    int    `json:"c"`
	Message string `json:"msg"`
	Data    any    `json:"d,omitempty"`
}

func (fakeCodec) Name() string { return "fake" }

func decodeNatural(b []byte) (any, error) {
	d := stdjson.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return naturalize(v), nil
}

func naturalize(v any) any {
	switch x := v.(type) {
	case stdjson.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = naturalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = naturalize(x[k])
		}
	}
	return v
}

func (fakeCodec) DecodeRequest(msg []byte, req *wire.Request) error {
	var env fakeEnvelope
	if err := stdjson.Unmarshal(msg, &env); err != nil {
		return &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
	}
	if env.ID != nil {
		req.ID.Raw = []byte(strconv.FormatUint(*env.ID, 10))
	} else {
		req.Notification = true
	}
	if env.Method == "" {
		return &wire.Error{Code: wire.CodeInvalidRequest, Message: "no method"}
	}
	req.Method = env.Method
	req.Meta = env.Meta
	if len(env.Params) > 0 {
		var p fakeParams
		switch env.Params[0] {
		case '[':
			p.list = []stdjson.RawMessage{}
			if err := stdjson.Unmarshal(env.Params, &p.list); err != nil {
				return &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
			}
		case '{':
			if err := stdjson.Unmarshal(env.Params, &p.named); err != nil {
				return &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
			}
		default:
			return &wire.Error{Code: wire.CodeInvalidRequest, Message: "params neither list nor object"}
		}
		req.Params = p
	}
	return nil
}

type fakeParams struct {
	list  []stdjson.RawMessage
	named map[string]stdjson.RawMessage
}

func (p fakeParams) Len() int {
	if p.named != nil {
		return -1
	}
	return len(p.list)
}
func (p fakeParams) DecodeAt(i int, dst any) error { return fakeValue(p.list[i]).Decode(dst) }
func (p fakeParams) Names() []string {
	var out []string
	for k := range p.named {
		out = append(out, k)
	}
	return out
}
func (p fakeParams) DecodeNamed(name string, dst any) error {
	return fakeValue(p.named[name]).Decode(dst)
}

func (fakeCodec) AppendResponse(dst []byte, resp *wire.Response) ([]byte, error) {
	env := fakeEnvelope{Meta: resp.Meta}
	if resp.ID.Raw != nil {
		id, _ := strconv.ParseUint(string(resp.ID.Raw), 10, 64)
		env.ID = &id
	}
	if resp.Error != nil {
		env.Error = &fakeError{Code: int(resp.Error.Code), Message: resp.Error.Message, Data: resp.Error.Data}
	} else {
		r, err := stdjson.Marshal(resp.Result)
		if err != nil {
			return dst, err
		}
		env.Result = r
	}
	b, err := stdjson.Marshal(env)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (fakeCodec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	env := fakeEnvelope{Method: call.Method, Meta: call.Meta}
	if !call.Notification {
		id := call.ID.Seq
		env.ID = &id
	}
	var p any = call.Args
	if call.Named != nil {
		p = call.Named
	}
	raw, err := stdjson.Marshal(p)
	if err != nil {
		return dst, err
	}
	env.Params = raw
	b, err := stdjson.Marshal(env)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

type fakeValue []byte

func (v fakeValue) Decode(dst any) error {
	if p, ok := dst.(*any); ok {
		n, err := decodeNatural(v)
		*p = n
		return err
	}
	return stdjson.Unmarshal(v, dst)
}

func (fakeCodec) DecodeReply(msg []byte, r *wire.Reply) error {
	var env fakeEnvelope
	if err := stdjson.Unmarshal(msg, &env); err != nil {
		return err
	}
	if env.ID != nil {
		r.ID.Seq = *env.ID
	}
	r.Meta = env.Meta
	if env.Error != nil {
		r.Error = &wire.Error{Code: env.Error.Code, Message: env.Error.Message, Data: naturalize(env.Error.Data)}
		return nil
	}
	if env.Result == nil {
		return errors.New("fake: reply without result or error")
	}
	r.Result = fakeValue(env.Result)
	return nil
}

func (fakeCodec) SplitBatch(msg []byte, max int) ([][]byte, bool, error) {
	if len(msg) == 0 || msg[0] != '[' {
		return nil, false, nil
	}
	var raws []stdjson.RawMessage
	if err := stdjson.Unmarshal(msg, &raws); err != nil {
		return nil, true, &wire.Error{Code: wire.CodeParseError, Message: err.Error()}
	}
	if max > 0 && len(raws) > max {
		return nil, true, &wire.Error{Code: wire.CodeLimitExceeded, Message: "batch too large"}
	}
	items := make([][]byte, len(raws))
	for i, r := range raws {
		items[i] = r
	}
	return items, true, nil
}

func (fakeCodec) AppendBatch(dst []byte, items [][]byte) []byte {
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, it...)
	}
	return append(dst, ']')
}

// request builds a fake-codec request message.
func request(id uint64, method string, params string) []byte {
	if params == "" {
		return fmt.Appendf(nil, `{"m":%q,"id":%d}`, method, id)
	}
	return fmt.Appendf(nil, `{"m":%q,"id":%d,"p":%s}`, method, id, params)
}

// mustServer returns a new server or fails the test.
func mustServer(t testing.TB, opts ...rpc.Option) *rpc.Server {
	t.Helper()
	s, err := rpc.NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// logRecorder is a slog.Handler that keeps what is logged, every attribute
// as text.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logRecorder) logger() *slog.Logger { return slog.New(l) }

func (l *logRecorder) records() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs)
}

func (*logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
