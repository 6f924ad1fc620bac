package rpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// Server is a registry of methods and the dispatcher that serves calls to
// them in any of its codecs. Transports hand it whole messages with
// ServeMessage. A Server is safe for concurrent use; methods may be
// registered while it serves.
type Server struct {
	cfg     config
	budget  *wire.Budget
	codecs  []Codec
	byName  map[string]Codec
	handler Handler // interceptors around invoke

	mu      sync.Mutex // serialises registration
	methods atomic.Pointer[map[string]*method]
}

// NewServer returns a server with no methods. Unless WithCodecs says
// otherwise, it serves every codec registered so far. It fails only for an
// invalid option.
func NewServer(opts ...Option) (*Server, error) {
	cfg, err := newConfig(false, opts)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, budget: wire.NewBudget(cfg.maxMemory)}
	s.codecs = cfg.codecs
	if s.codecs == nil {
		s.codecs = Codecs()
	}
	s.byName = make(map[string]Codec, len(s.codecs))
	for _, c := range s.codecs {
		s.byName[c.Name()] = c
	}
	s.handler = chain(s.invoke, cfg.interceptors)
	empty := map[string]*method{}
	s.methods.Store(&empty)
	return s, nil
}

// Register registers fn under name. fn is a function whose first parameter
// may be a context.Context, whose other parameters are the call's params (the
// last may be variadic), and which returns (R, error) or error. All
// reflection happens here; a signature that cannot be served is an error.
func (s *Server) Register(name string, fn any, opts ...MethodOption) error {
	m, err := newMethod(name, reflect.ValueOf(fn), opts)
	if err != nil {
		return err
	}
	return s.add(m)
}

// RegisterService registers the methods of rcvr that opts name with Export,
// and no other: a Close or a Reset meant for the program that holds rcvr
// does not become remotely callable by being exported in Go. Each is named
// prefix + "." + its Go name with the first letter in lower case
// (GetStateName → prefix.getStateName; with an empty prefix, the name
// alone), and takes the options given in its Export:
//
//	s.RegisterService("counter", c,
//		rpc.Export("Add", rpc.WithParamNames("n"), rpc.WithHelp("Adds n.")),
//		rpc.Export("Get"))
func (s *Server) RegisterService(prefix string, rcvr any, opts ...MethodOption) error {
	ms, err := serviceMethods(prefix, rcvr, opts)
	if err != nil {
		return err
	}
	return s.add(ms...)
}

func (s *Server) add(ms ...*method) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.methods.Load()
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if _, dup := old[m.info.Name]; dup || seen[m.info.Name] {
			return fmt.Errorf("rpc: method %q already registered", m.info.Name)
		}
		seen[m.info.Name] = true
	}
	next := make(map[string]*method, len(old)+len(ms))
	for k, v := range old {
		next[k] = v
	}
	for _, m := range ms {
		next[m.info.Name] = m
	}
	s.methods.Store(&next)
	return nil
}

// Methods describes the registered methods, sorted by name.
func (s *Server) Methods() []MethodInfo {
	ms := *s.methods.Load()
	out := make([]MethodInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Method describes the method registered under name.
func (s *Server) Method(name string) (MethodInfo, bool) {
	m, ok := (*s.methods.Load())[name]
	if !ok {
		return MethodInfo{}, false
	}
	return m.info, true
}

// Codecs returns the codecs the server serves, sorted by name.
func (s *Server) Codecs() []Codec {
	return append([]Codec(nil), s.codecs...)
}

// Budget is the server's memory budget (see WithMaxMemory), which its
// transports share: they acquire a message's bytes before reading it.
func (s *Server) Budget() *wire.Budget { return s.budget }

// Codec returns the server's codec with the given name.
func (s *Server) Codec(name string) (Codec, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// ServeMessage serves one message in codec c (a request, a notification or a
// batch) and appends the encoded reply to dst. It appends nothing when the
// message held only notifications. Every failure, down to a message that
// cannot be parsed, becomes an error reply in the codec's own shape. ctx
// carries the transport's Peer (see WithPeer) and ends when the caller goes
// away. Transports call it; msg is not kept once it returns.
func (s *Server) ServeMessage(ctx context.Context, c Codec, msg, dst []byte) []byte {
	if bc, ok := c.(wire.BatchCodec); ok {
		items, isBatch, err := bc.SplitBatch(msg, s.cfg.maxBatch)
		if err != nil {
			return s.appendError(ctx, c, dst, &wire.Request{}, decodeError(err))
		}
		if isBatch {
			return s.serveBatch(ctx, c, bc, items, dst)
		}
	}
	return s.serveOne(ctx, c, msg, dst, false)
}

// serving holds one call's request and response; pooled, as both escape
// into interface calls.
type serving struct {
	req  wire.Request
	resp wire.Response
	werr wire.Error
}

var servingPool = sync.Pool{New: func() any { return new(serving) }}

func (s *Server) serveOne(ctx context.Context, c Codec, msg, dst []byte, inBatch bool) []byte {
	sv := servingPool.Get().(*serving)
	defer func() {
		*sv = serving{}
		servingPool.Put(sv)
	}()
	req := &sv.req
	if err := c.DecodeRequest(msg, req); err != nil {
		return s.appendError(ctx, c, dst, req, decodeError(err))
	}
	if req.Method == wire.CancelMethod && req.Notification {
		s.cancelCall(ctx, c, req)
		return dst
	}
	if err := validRequestMetadata(req); err != nil {
		return s.appendError(ctx, c, dst, req, &Error{Code: CodeInvalidRequest, Message: "invalid request: " + err.Error()})
	}
	cc, entries := newCallContext(ctx, &req.Entries)
	cc.call = Call{Method: req.Method, Codec: c.Name(), Notification: req.Notification, Params: req.Params, md: req.Meta, entries: entries, reqSize: len(msg)}
	cc.call.Peer, _ = PeerFromContext(ctx)
	if !inBatch {
		if cr, ok := wire.CarrierFrom(ctx); ok {
			if err := cr.Validate(); err != nil {
				return s.appendError(ctx, c, dst, req, &Error{Code: CodeInvalidRequest, Message: "invalid request: " + err.Error()})
			}
			cc.call.carrier = cr
		}
	}
	if e := s.setDeadline(cc); e != nil {
		if req.Notification {
			return dst
		}
		return s.appendError(ctx, c, dst, req, e)
	}
	if table, ok := wire.CallTableFrom(ctx); ok && !req.Notification && req.ID.Raw != nil {
		if k, ok := c.(wire.IDKeyer); ok {
			if key, ok := k.IDKey(req.ID.Raw); ok && table.Add(key, cc) {
				defer table.Remove(key, cc)
			}
		}
	}
	result, err := s.run(cc)
	if cc.call.carrier != nil && cc.call.reply != nil {
		cc.call.carrier.SetReply(cc.call.reply)
	}
	if req.Notification {
		return dst
	}
	sv.resp.Meta = cc.call.reply
	var out []byte
	if err != nil {
		out = s.appendResponse(ctx, c, dst, req, sv, nil, AsError(err))
	} else {
		out = s.appendResponse(ctx, c, dst, req, sv, result, nil)
	}
	cc.call.replied(len(out) - len(dst))
	return out
}

// validRequestMetadata reports why the metadata of req is not valid.
func validRequestMetadata(req *wire.Request) error {
	if req.Meta != nil {
		if err := req.Meta.Validate(); err != nil {
			return err
		}
	}
	if req.Entries.Len() > 0 {
		return req.Entries.Validate()
	}
	return nil
}

// maxTimeout bounds the timeout a caller may send: beyond it, as good as
// none.
const maxTimeout = 365 * 24 * time.Hour

// setDeadline gives the call its deadline: the one its caller sent
// (metadata.TimeoutKey, in whole milliseconds), capped by the server's
// WithCallTimeout. A timeout that is not a whole number of milliseconds
// from 0 up is refused.
func (s *Server) setDeadline(cc *callContext) *Error {
	var d time.Duration
	v := cc.call.metadataValue(metadata.TimeoutKey)
	if v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return &Error{Code: CodeInvalidRequest, Message: "invalid request: " + metadata.TimeoutKey + " " + strconv.Quote(clip(v)) + " is not a whole number of milliseconds"}
		}
		if ms < int64(maxTimeout/time.Millisecond) {
			d = time.Duration(ms) * time.Millisecond
		}
	}
	if t := s.cfg.callTimeout; t > 0 && (d == 0 || t < d) {
		d = t
	}
	if d > 0 {
		cc.deadline = time.Now().Add(d)
	} else if v == "0" {
		cc.deadline = time.Now() // the caller's time is up
	}
	return nil
}

// cancelCall serves CancelMethod: it cancels the call in flight on the
// same connection whose id its params name, if there is one.
func (s *Server) cancelCall(ctx context.Context, c Codec, req *wire.Request) {
	table, ok := wire.CallTableFrom(ctx)
	if !ok || req.Params == nil {
		return
	}
	var id any
	if req.Params.Len() >= 0 {
		if req.Params.Len() != 1 {
			return
		}
		// Positional: [{"id": X}], for codecs whose params are an array.
		var p map[string]any
		if req.Params.DecodeAt(0, &p) != nil {
			return
		}
		id = p["id"]
	} else if req.Params.DecodeNamed("id", &id) != nil {
		return
	}
	if key, ok := wire.KeyOf(id); ok {
		table.Cancel(key)
	}
}

// appendError encodes the error reply to a message the server refused, and
// logs why.
func (s *Server) appendError(ctx context.Context, c Codec, dst []byte, req *wire.Request, e *Error) []byte {
	attrs := []any{"codec", c.Name(), "code", int(e.Code), "error", e.Message}
	if req.Method != "" {
		attrs = append(attrs, "method", clip(req.Method))
	}
	if p, ok := PeerFromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, "remote", p.Addr.String())
	}
	s.cfg.log.WarnContext(ctx, "rpc: refused a message", attrs...)
	var sv serving
	return s.appendResponse(ctx, c, dst, req, &sv, nil, e)
}

// maxBatchWorkers bounds the goroutines that serve one batch.
const maxBatchWorkers = 16

func (s *Server) serveBatch(ctx context.Context, c Codec, bc wire.BatchCodec, items [][]byte, dst []byte) []byte {
	switch {
	case len(items) == 0:
		return s.appendError(ctx, c, dst, &wire.Request{}, &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"})
	case len(items) > s.cfg.maxBatch:
		return s.appendError(ctx, c, dst, &wire.Request{}, &Error{
			Code:    CodeLimitExceeded,
			Message: fmt.Sprintf("batch of %d calls exceeds the limit of %d", len(items), s.cfg.maxBatch),
		})
	}
	replies := make([][]byte, len(items))
	workers := min(len(items), maxBatchWorkers, 2*runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i, item := range items {
			replies[i] = s.serveOne(ctx, c, item, nil, true)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(items) {
						return
					}
					replies[i] = s.serveOne(ctx, c, items[i], nil, true)
				}
			})
		}
		wg.Wait()
	}
	out := replies[:0]
	for _, r := range replies {
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return dst
	}
	return bc.AppendBatch(dst, out)
}

// appendResponse encodes the response to req: result, or e when not nil,
// with the reply metadata in sv.resp.Meta. A
// result or error data that the codec cannot carry turns into a
// CodeInternal error naming the reason, and is logged.
func (s *Server) appendResponse(ctx context.Context, c Codec, dst []byte, req *wire.Request, sv *serving, result any, e *Error) []byte {
	resp := &sv.resp
	*resp = wire.Response{ID: req.ID, Dialect: req.Dialect, Result: result, Meta: resp.Meta}
	if e != nil {
		resp.Error = e.toWire(&sv.werr)
	}
	out, err := c.AppendResponse(dst, resp)
	if err == nil {
		return out
	}
	s.cfg.log.ErrorContext(ctx, "rpc: cannot encode a reply", "method", clip(req.Method), "codec", c.Name(), "error", err)
	resp.Result = nil
	resp.Error = (&Error{Code: CodeInternal, Message: "internal error: cannot encode the result: " + err.Error()}).toWire(&sv.werr)
	out, err = c.AppendResponse(dst, resp)
	if err != nil {
		return dst
	}
	return out
}

func decodeError(err error) *Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return fromWire(we)
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Code: CodeParseError, Message: "parse error: " + err.Error()}
}

// Invoke calls the method registered under name with params in natural Go
// values (as a codec decodes them when it does not know the types: bool,
// int64, float64, string, []byte, time.Time, []any, map[string]any, or any
// Go value that converts), through the interceptors, as ServeMessage calls
// it. It serves calls made from inside the server, such as the calls of
// system.multicall; the call that ctx belongs to, if any, lends its codec
// and peer.
func (s *Server) Invoke(ctx context.Context, method string, params ...any) (any, error) {
	codec := ""
	if outer, ok := CallFromContext(ctx); ok {
		codec = outer.Codec
	}
	if params == nil {
		params = []any{}
	}
	cc := &callContext{Context: ctx}
	cc.call = Call{Method: method, Codec: codec, Params: &goParams{args: params}}
	cc.call.Peer, _ = PeerFromContext(ctx)
	if t := s.cfg.callTimeout; t > 0 {
		cc.deadline = time.Now().Add(t)
	}
	return s.run(cc)
}

// run serves the call of cc through the interceptors, turning a panic
// into CodeInternal.
func (s *Server) run(cc *callContext) (result any, err error) {
	defer cc.release()
	defer func() {
		if v := recover(); v != nil {
			s.cfg.log.ErrorContext(cc, "rpc: handler panicked", "method", clip(cc.call.Method), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			result, err = nil, &Error{Code: CodeInternal, Message: "internal error"}
		}
	}()
	result, err = s.handler(cc, &cc.call)
	if err != nil {
		return nil, AsError(err)
	}
	return result, nil
}

// invoke is the innermost handler: it finds the method, decodes the params
// into its parameter types and calls it.
func (s *Server) invoke(ctx context.Context, call *Call) (any, error) {
	m := (*s.methods.Load())[call.Method]
	if m == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: "method not found: " + clip(call.Method)}
	}
	f := m.getFrame()
	defer m.putFrame(f)
	args, err := m.decodeArgs(ctx, call.Params, f)
	if err != nil {
		return nil, err
	}
	var out []reflect.Value
	if m.variadic {
		out = m.fn.CallSlice(args)
	} else {
		out = m.fn.Call(args)
	}
	if e := out[len(out)-1]; !e.IsNil() {
		return nil, e.Interface().(error)
	}
	if m.hasResult {
		return out[0].Interface(), nil
	}
	return nil, nil
}

// argFrame holds the decoded params of one call: a struct with a field per
// param, and the argument list for reflect. Frames are pooled per method, so
// that decoding allocates only what the values themselves need.
type argFrame struct {
	fields reflect.Value // the struct, addressable
	args   []reflect.Value
	// ctx holds the call's context for a method that takes one, and
	// ctxArg is ctx as reflect sees it: a Value of the interface type
	// itself, which reflect passes without boxing the context again.
	ctx    *context.Context
	ctxArg reflect.Value
}

func (m *method) getFrame() *argFrame {
	return m.frames.Get().(*argFrame)
}

func (m *method) putFrame(f *argFrame) {
	// Drop every reference the call made, so the pool keeps nothing alive.
	f.fields.SetZero()
	clear(f.args)
	if f.ctx != nil {
		*f.ctx = nil
	}
	m.frames.Put(f)
}

func (m *method) newFrame() any {
	var fields []reflect.StructField
	for i, t := range m.in {
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("P%d", i), Type: t})
	}
	off := 0
	if m.hasCtx {
		off = 1
	}
	f := &argFrame{
		fields: reflect.New(reflect.StructOf(fields)).Elem(),
		args:   make([]reflect.Value, off+len(m.in)),
	}
	if m.hasCtx {
		f.ctx = new(context.Context)
		f.ctxArg = reflect.ValueOf(f.ctx).Elem()
	}
	return f
}

func (m *method) decodeArgs(ctx context.Context, p wire.Params, f *argFrame) ([]reflect.Value, error) {
	n := 0
	if p != nil {
		n = p.Len()
	}
	args := f.args
	if m.hasCtx {
		*f.ctx = ctx
		args[0] = f.ctxArg
		args = args[1:]
	}
	if n >= 0 {
		return f.args, m.decodePositional(p, n, f.fields, args)
	}
	return f.args, m.decodeNamed(p, f.fields, args)
}

func (m *method) decodePositional(p wire.Params, n int, fields reflect.Value, args []reflect.Value) error {
	k := len(m.in)
	fixed := k
	if m.variadic {
		fixed = k - 1
		if n < fixed {
			return invalidParams(fmt.Sprintf("%s wants at least %d params, got %d", m.info.Name, fixed, n))
		}
	} else if n != k {
		return invalidParams(fmt.Sprintf("%s wants %d params, got %d", m.info.Name, k, n))
	}
	for i := range fixed {
		v := fields.Field(i)
		if err := p.DecodeAt(i, v.Addr().Interface()); err != nil {
			return invalidParams(fmt.Sprintf("param %d: %v", i+1, err))
		}
		args[i] = v
	}
	if m.variadic {
		cnt := n - fixed
		sl := reflect.MakeSlice(m.in[k-1], cnt, cnt)
		for j := range cnt {
			if err := p.DecodeAt(fixed+j, sl.Index(j).Addr().Interface()); err != nil {
				return invalidParams(fmt.Sprintf("param %d: %v", fixed+j+1, err))
			}
		}
		args[k-1] = sl
	}
	return nil
}

func (m *method) decodeNamed(p wire.Params, fields reflect.Value, args []reflect.Value) error {
	names := p.Names()
	switch {
	case m.names != nil:
		for _, name := range names {
			i, ok := m.names[name]
			if !ok {
				return invalidParams(fmt.Sprintf("%s has no param %q", m.info.Name, clip(name)))
			}
			v := fields.Field(i)
			if err := p.DecodeNamed(name, v.Addr().Interface()); err != nil {
				return invalidParams(fmt.Sprintf("param %q: %v", name, err))
			}
			args[i] = v
		}
		for i, a := range args {
			if a.IsValid() {
				continue
			}
			if m.variadic && i == len(args)-1 {
				args[i] = reflect.MakeSlice(m.in[i], 0, 0)
				continue
			}
			return invalidParams(fmt.Sprintf("%s: missing param %q", m.info.Name, m.info.Params[i].Name))
		}
		return nil
	case m.fields != nil:
		// The struct is the frame's field, or a fresh one for a pointer
		// param: the handler may keep a pointer.
		sv := fields.Field(0)
		if t := m.in[0]; t.Kind() == reflect.Pointer {
			sv.Set(reflect.New(t.Elem()))
			sv = sv.Elem()
		}
		for _, name := range names {
			f, ok := m.fields[name]
			if !ok {
				return invalidParams(fmt.Sprintf("%s has no param %q", m.info.Name, clip(name)))
			}
			fv := fieldByIndexAlloc(sv, f.Index)
			if err := p.DecodeNamed(name, fv.Addr().Interface()); err != nil {
				return invalidParams(fmt.Sprintf("param %q: %v", name, err))
			}
		}
		args[0] = fields.Field(0)
		return nil
	case len(m.in) == 0 && len(names) == 0:
		return nil
	}
	return invalidParams(m.info.Name + " takes positional params only")
}

// maxEchoed bounds how much of a client's text an error message repeats, so
// that a hostile method name does not come back as a huge reply.
const maxEchoed = 128

func clip(s string) string {
	if len(s) <= maxEchoed {
		return s
	}
	// Cut at a rune boundary so the message stays valid UTF-8.
	cut := maxEchoed
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
