package rpc

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// MethodInfo describes a registered method for introspection.
type MethodInfo struct {
	Name string
	Help string
	// Params are the wire parameters: a leading context.Context is not one.
	Params []ParamInfo
	// Variadic is set when the last param takes any number of values; its
	// Type is then the slice type.
	Variadic bool
	// Result is the result type, or nil when the method returns only an error.
	Result reflect.Type
	// Idempotent is set for a method registered with Idempotent.
	Idempotent bool
}

// ParamInfo describes one parameter of a method.
type ParamInfo struct {
	// Name is the name given with WithParamNames; empty when none was given.
	Name string
	Type reflect.Type
}

// MethodOption configures one method at registration.
type MethodOption interface {
	applyMethod(*methodConfig)
}

type methodConfig struct {
	names      []string
	help       string
	idempotent bool
	exports    []export // RegisterService only
}

// export is a method of a service named by Export.
type export struct {
	goName string
	opts   []MethodOption
}

type methodOptionFunc func(*methodConfig)

func (f methodOptionFunc) applyMethod(c *methodConfig) { f(c) }

// Export names a method of a service for RegisterService to register, by its
// Go name, with the options for that method alone.
func Export(goName string, opts ...MethodOption) MethodOption {
	opts = append([]MethodOption(nil), opts...)
	return methodOptionFunc(func(c *methodConfig) { c.exports = append(c.exports, export{goName, opts}) })
}

// WithParamNames names the method's parameters, in order, for calls with
// named params (a JSON-RPC params object). Without it, a method whose only
// parameter is a struct takes named params as that struct's fields.
func WithParamNames(names ...string) MethodOption {
	names = append([]string(nil), names...)
	return methodOptionFunc(func(c *methodConfig) { c.names = names })
}

// WithHelp sets the help text that introspection returns for the method.
func WithHelp(text string) MethodOption {
	return methodOptionFunc(func(c *methodConfig) { c.help = text })
}

// Idempotent marks the method idempotent: running a call of it twice has
// the effect of running it once, so a client may retry a call that failed
// after it may have reached the server. Introspection shows it (MethodInfo,
// rpc.discover); balancing clients retry only such calls once they may have
// run.
func Idempotent() MethodOption {
	return methodOptionFunc(func(c *methodConfig) { c.idempotent = true })
}

// method is a registered handler with everything reflection could tell about
// it computed once, at registration.
type method struct {
	info     MethodInfo
	fn       reflect.Value
	hasCtx   bool
	in       []reflect.Type // wire params; the last is a slice when variadic
	variadic bool
	names    map[string]int // param name → index into in
	// fields maps named params to the fields of the only param, a struct
	// (or pointer to struct), when no param names were given.
	fields    map[string]wire.Field
	hasResult bool
	frames    sync.Pool // of *argFrame
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

func newMethod(name string, fn reflect.Value, opts []MethodOption) (*method, error) {
	if name == "" {
		return nil, fmt.Errorf("rpc: empty method name")
	}
	if !fn.IsValid() || fn.Kind() != reflect.Func || fn.IsNil() {
		return nil, fmt.Errorf("rpc: method %q: handler is %s, not a function", name, typeName(fn))
	}
	var cfg methodConfig
	for _, o := range opts {
		if o != nil {
			o.applyMethod(&cfg)
		}
	}
	if cfg.exports != nil {
		return nil, fmt.Errorf("rpc: method %q: Export is an option of RegisterService", name)
	}
	t := fn.Type()
	m := &method{fn: fn, variadic: t.IsVariadic()}
	m.frames.New = m.newFrame
	m.info.Name = name
	m.info.Help = cfg.help
	m.info.Idempotent = cfg.idempotent
	m.info.Variadic = m.variadic

	switch {
	case t.NumOut() == 1 && t.Out(0) == errorType:
	case t.NumOut() == 2 && t.Out(1) == errorType:
		if err := checkWireType(t.Out(0)); err != nil {
			return nil, fmt.Errorf("rpc: method %q: result: %v", name, err)
		}
		m.hasResult = true
		m.info.Result = t.Out(0)
	default:
		return nil, fmt.Errorf("rpc: method %q: handler %v must return (R, error) or error", name, t)
	}

	first := 0
	if t.NumIn() > 0 && t.In(0) == contextType {
		m.hasCtx = true
		first = 1
	}
	for i := first; i < t.NumIn(); i++ {
		in := t.In(i)
		if in == contextType {
			return nil, fmt.Errorf("rpc: method %q: context.Context must be the first parameter", name)
		}
		if err := checkWireType(in); err != nil {
			return nil, fmt.Errorf("rpc: method %q: parameter %d: %v", name, i-first+1, err)
		}
		m.in = append(m.in, in)
		m.info.Params = append(m.info.Params, ParamInfo{Type: in})
	}

	switch {
	case cfg.names != nil:
		if len(cfg.names) != len(m.in) {
			return nil, fmt.Errorf("rpc: method %q: %d param names for %d params", name, len(cfg.names), len(m.in))
		}
		m.names = make(map[string]int, len(cfg.names))
		for i, n := range cfg.names {
			if n == "" {
				return nil, fmt.Errorf("rpc: method %q: empty param name", name)
			}
			if _, dup := m.names[n]; dup {
				return nil, fmt.Errorf("rpc: method %q: param name %q given twice", name, n)
			}
			m.names[n] = i
			m.info.Params[i].Name = n
		}
	case len(m.in) == 1 && !m.variadic && isStruct(m.in[0]):
		st := m.in[0]
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st != timeType {
			fields := wire.StructFields(st)
			m.fields = make(map[string]wire.Field, len(fields))
			for _, f := range fields {
				m.fields[f.Name] = f
			}
		}
	}
	return m, nil
}

func typeName(v reflect.Value) string {
	if !v.IsValid() {
		return "nil"
	}
	return v.Type().String()
}

func isStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// checkWireType refuses types that no codec can carry.
func checkWireType(t reflect.Type) error {
	return checkWireTypeDepth(t, map[reflect.Type]bool{})
}

func checkWireTypeDepth(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if isProtoMessage(t) {
		return nil // a codec that knows protobuf carries it whole
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128, reflect.Uintptr:
		return fmt.Errorf("type %v cannot be sent over the wire", t)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return fmt.Errorf("interface type %v cannot be decoded; use any or a concrete type", t)
		}
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkWireTypeDepth(t.Elem(), seen)
	case reflect.Map:
		if k := t.Key().Kind(); k != reflect.String {
			return fmt.Errorf("map key type %v is not a string type", t.Key())
		}
		return checkWireTypeDepth(t.Elem(), seen)
	case reflect.Struct:
		if t == timeType {
			return nil
		}
		for _, f := range wire.StructFields(t) {
			if err := checkWireTypeDepth(f.Type, seen); err != nil {
				return fmt.Errorf("field %s: %v", f.Name, err)
			}
		}
	}
	return nil
}

// isProtoMessage reports whether t, or a pointer to it, is a generated
// protobuf message (it has a ProtoReflect method): such types hold fields,
// like oneofs, that only a protobuf-aware codec can carry, and it does.
func isProtoMessage(t reflect.Type) bool {
	if _, ok := t.MethodByName("ProtoReflect"); ok {
		return true
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		_, ok := reflect.PointerTo(t).MethodByName("ProtoReflect")
		return ok
	}
	return false
}

// serviceMethodName turns a Go method name into a wire name: the first rune
// in lower case (GetStateName → getStateName).
func serviceMethodName(prefix, goName string) string {
	r, n := utf8.DecodeRuneInString(goName)
	name := string(unicode.ToLower(r)) + goName[n:]
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// serviceMethods builds the methods of rcvr that opts export.
func serviceMethods(prefix string, rcvr any, opts []MethodOption) ([]*method, error) {
	v := reflect.ValueOf(rcvr)
	if !v.IsValid() {
		return nil, fmt.Errorf("rpc: RegisterService of nil")
	}
	var cfg methodConfig
	for _, o := range opts {
		if o != nil {
			o.applyMethod(&cfg)
		}
	}
	if cfg.names != nil || cfg.help != "" || cfg.idempotent {
		return nil, fmt.Errorf("rpc: RegisterService: give a method's options inside its Export")
	}
	if len(cfg.exports) == 0 {
		return nil, fmt.Errorf("rpc: RegisterService: no method exported; name each with rpc.Export")
	}
	prefix = strings.TrimSuffix(prefix, ".")
	t := v.Type()
	ms := make([]*method, 0, len(cfg.exports))
	for _, e := range cfg.exports {
		mt, ok := t.MethodByName(e.goName)
		if !ok || !mt.IsExported() {
			return nil, fmt.Errorf("rpc: RegisterService: %v has no exported method %q", t, e.goName)
		}
		m, err := newMethod(serviceMethodName(prefix, mt.Name), v.Method(mt.Index), e.opts)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}
