package rpc

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Server is a registry of methods and the dispatcher that serves calls to
// them in any of its codecs. Transports hand it whole messages with
// ServeMessage. A Server is safe for concurrent use; methods may be
// registered while it serves.
type Server struct {
	cfg     serverConfig
	codecs  []Codec
	byName  map[string]Codec
	handler Handler // interceptors around invoke

	mu      sync.Mutex // serialises registration
	methods atomic.Pointer[map[string]*method]
}

// NewServer returns a server with no methods. Unless WithCodecs says
// otherwise, it serves every codec registered so far.
func NewServer(opts ...Option) *Server {
	cfg := defaultServerConfig()
	for _, o := range opts {
		o.applyServer(&cfg)
	}
	s := &Server{cfg: cfg}
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
	return s
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

// RegisterService registers every exported method of rcvr whose results are
// (R, error) or error, named prefix + "." + the Go name with its first letter
// in lower case (GetStateName → prefix.getStateName); with an empty prefix,
// the name alone. Other methods are skipped.
func (s *Server) RegisterService(prefix string, rcvr any) error {
	fns, err := serviceMethods(prefix, rcvr)
	if err != nil {
		return err
	}
	ms := make([]*method, 0, len(fns))
	for name, fn := range fns {
		m, err := newMethod(name, fn, nil)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return s.add(ms...)
}

func (s *Server) add(ms ...*method) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.methods.Load()
	for _, m := range ms {
		if _, dup := old[m.info.Name]; dup {
			return fmt.Errorf("rpc: method %q already registered", m.info.Name)
		}
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

// Codec returns the server's codec with the given name.
func (s *Server) Codec(name string) (Codec, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// ServeMessage serves one message in codec c (a request, a notification or a
// batch) and appends the encoded reply to dst. It appends nothing when the
// message held only notifications. Every failure, down to a message that
// cannot be parsed, becomes an error reply in the codec's own shape. ctx
// carries the transport's Peer and ends when the caller goes away.
func (s *Server) ServeMessage(ctx context.Context, c Codec, msg, dst []byte) []byte {
	if bc, ok := c.(BatchCodec); ok {
		items, isBatch, err := bc.SplitBatch(msg, s.cfg.maxBatch)
		if err != nil {
			return s.appendError(ctx, c, dst, "", &Response{Error: decodeError(err)})
		}
		if isBatch {
			return s.serveBatch(ctx, bc, items, dst)
		}
	}
	return s.serveOne(ctx, c, msg, dst)
}

// serving holds one call's request and response; pooled, as both escape
// into interface calls.
type serving struct {
	req  Request
	resp Response
}

var servingPool = sync.Pool{New: func() any { return new(serving) }}

func (s *Server) serveOne(ctx context.Context, c Codec, msg, dst []byte) []byte {
	sv := servingPool.Get().(*serving)
	defer func() {
		*sv = serving{}
		servingPool.Put(sv)
	}()
	req, resp := &sv.req, &sv.resp
	if err := c.DecodeRequest(msg, req); err != nil {
		*resp = Response{ID: req.ID, Dialect: req.Dialect, Error: decodeError(err)}
		return s.appendError(ctx, c, dst, req.Method, resp)
	}
	result, err := s.call(ctx, c.Name(), req)
	if req.Notification {
		return dst
	}
	*resp = Response{ID: req.ID, Dialect: req.Dialect, Result: result, Error: AsError(err)}
	if resp.Error != nil {
		return s.appendError(ctx, c, dst, req.Method, resp)
	}
	return s.appendResponse(ctx, c, dst, req.Method, resp)
}

// appendError encodes an error reply and tells the error handler of the
// conditions it wants to hear of. Panics are told to the panic handler
// instead, once.
func (s *Server) appendError(ctx context.Context, c Codec, dst []byte, method string, resp *Response) []byte {
	if s.cfg.onError != nil {
		switch resp.Error.Code {
		case CodeParseError, CodeInvalidRequest, CodeLimitExceeded:
			s.cfg.onError(ctx, method, resp.Error)
		}
	}
	return s.appendResponse(ctx, c, dst, method, resp)
}

// maxBatchWorkers bounds the goroutines that serve one batch.
const maxBatchWorkers = 16

func (s *Server) serveBatch(ctx context.Context, bc BatchCodec, items [][]byte, dst []byte) []byte {
	switch {
	case len(items) == 0:
		return s.appendError(ctx, bc, dst, "", &Response{Error: &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"}})
	case s.cfg.maxBatch > 0 && len(items) > s.cfg.maxBatch:
		return s.appendError(ctx, bc, dst, "", &Response{Error: &Error{
			Code:    CodeLimitExceeded,
			Message: fmt.Sprintf("batch of %d calls exceeds the limit of %d", len(items), s.cfg.maxBatch),
		}})
	}
	replies := make([][]byte, len(items))
	workers := min(len(items), maxBatchWorkers, 2*runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i, item := range items {
			replies[i] = s.serveOne(ctx, bc, item, nil)
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
					replies[i] = s.serveOne(ctx, bc, items[i], nil)
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

// appendResponse encodes resp; a result or error data that the codec cannot
// carry turns into a CodeInternal error naming the reason, told to the
// error handler.
func (s *Server) appendResponse(ctx context.Context, c Codec, dst []byte, method string, resp *Response) []byte {
	out, err := c.AppendResponse(dst, resp)
	if err == nil {
		return out
	}
	resp.Result = nil
	resp.Error = &Error{Code: CodeInternal, Message: "internal error: cannot encode the result: " + err.Error()}
	if s.cfg.onError != nil {
		s.cfg.onError(ctx, method, resp.Error)
	}
	out, err = c.AppendResponse(dst, resp)
	if err != nil {
		return dst
	}
	return out
}

func decodeError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Code: CodeParseError, Message: "parse error: " + err.Error()}
}

// Invoke serves one decoded request through the interceptors, as
// ServeMessage does for each call, and returns its result. It serves calls
// made from inside the server, such as the calls of system.multicall; the
// CallInfo of ctx, if any, lends the codec name.
func (s *Server) Invoke(ctx context.Context, req *Request) (any, error) {
	codec := ""
	if ci, ok := CallInfoFromContext(ctx); ok {
		codec = ci.Codec
	}
	return s.call(ctx, codec, req)
}

// callContext carries the CallInfo of a call at the cost of one allocation.
type callContext struct {
	context.Context
	info CallInfo
}

func (c *callContext) Value(key any) any {
	if key == (callKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

func (s *Server) call(ctx context.Context, codec string, req *Request) (result any, err error) {
	cc := &callContext{Context: ctx}
	cc.info = CallInfo{Method: req.Method, Codec: codec, Notification: req.Notification}
	cc.info.Peer, _ = PeerFromContext(ctx)
	ctx = cc
	if s.cfg.callTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.callTimeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			if s.cfg.onPanic != nil {
				s.cfg.onPanic(ctx, req.Method, v, debug.Stack())
			}
			result, err = nil, &Error{Code: CodeInternal, Message: "internal error"}
		}
	}()
	result, err = s.handler(ctx, req)
	if err != nil {
		return nil, AsError(err)
	}
	return result, nil
}

// invoke is the innermost handler: it finds the method, decodes the params
// into its parameter types and calls it.
func (s *Server) invoke(ctx context.Context, req *Request) (any, error) {
	m := (*s.methods.Load())[req.Method]
	if m == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: "method not found: " + clip(req.Method)}
	}
	f := m.getFrame()
	defer m.putFrame(f)
	args, err := m.decodeArgs(ctx, req.Params, f)
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

func (m *method) decodeArgs(ctx context.Context, p Params, f *argFrame) ([]reflect.Value, error) {
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

func (m *method) decodePositional(p Params, n int, fields reflect.Value, args []reflect.Value) error {
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

func (m *method) decodeNamed(p Params, fields reflect.Value, args []reflect.Value) error {
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
