package introspect

import (
	"errors"
	"fmt"

	"github.com/polyrpc/polyrpc/rpc"
)

// The names of the methods that Register adds.
const (
	listMethodsName     = "system.listMethods"
	methodSignatureName = "system.methodSignature"
	methodHelpName      = "system.methodHelp"
	multicallName       = "system.multicall"
	getCapabilitiesName = "system.getCapabilities"
	discoverName        = "rpc.discover"
)

// service holds what the introspection methods need. It reads the server's
// registry on every call, so methods registered after Register show up too.
type service struct {
	s   *rpc.Server
	cfg config
}

// Register adds the introspection methods to s: system.listMethods,
// system.methodSignature, system.methodHelp, system.multicall,
// system.getCapabilities and rpc.discover (see the package documentation).
// It fails before registering anything if s already has a method of one of
// those names. The methods are safe for concurrent use, as every handler must
// be.
func Register(s *rpc.Server, opts ...Option) error {
	if s == nil {
		return errors.New("introspect: Register with a nil server")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return err
	}
	svc := &service{s: s, cfg: cfg}
	methods := []struct {
		name string
		fn   any
		opts []rpc.MethodOption
	}{
		{listMethodsName, svc.listMethods, []rpc.MethodOption{rpc.Idempotent(), rpc.WithHelp(
			"Returns the names of all the methods this server offers, sorted.")}},
		{methodSignatureName, svc.methodSignature, []rpc.MethodOption{rpc.Idempotent(), rpc.WithParamNames("name"), rpc.WithHelp(
			"Given the name of a method, returns an array of its signatures, each an array of " +
				"XML-RPC type names with the result type first; the string \"undef\" when the " +
				"method has no signature that can be stated (it takes any number of params).")}},
		{methodHelpName, svc.methodHelp, []rpc.MethodOption{rpc.Idempotent(), rpc.WithParamNames("name"), rpc.WithHelp(
			"Given the name of a method, returns its help text (an empty string when it has none).")}},
		{multicallName, svc.multicall, []rpc.MethodOption{rpc.WithParamNames("calls"), rpc.WithHelp(
			"Makes several calls in one request. Takes an array of structs " +
				"{methodName: string, params: array} and returns one entry per call, in order: " +
				"a one-element array holding the call's result, or a struct " +
				"{faultCode: int, faultString: string} when the call failed. " +
				"A nested system.multicall is refused.")}},
		{getCapabilitiesName, svc.getCapabilities, []rpc.MethodOption{rpc.Idempotent(), rpc.WithHelp(
			"Returns the specifications this server implements, by name, each a struct " +
				"{specUrl: string, specVersion: int}.")}},
		{discoverName, svc.discover, []rpc.MethodOption{rpc.Idempotent(), rpc.WithHelp(
			"Returns an OpenRPC document describing every method of this server.")}},
	}
	// Check every name first: the core registers methods one at a time, and a
	// clash halfway would leave half a service behind.
	for _, m := range methods {
		if _, taken := s.Method(m.name); taken {
			return fmt.Errorf("introspect: method %q already registered", m.name)
		}
	}
	for _, m := range methods {
		if err := s.Register(m.name, m.fn, m.opts...); err != nil {
			return err
		}
	}
	return nil
}

func (svc *service) listMethods() ([]string, error) {
	ms := svc.s.Methods()
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names, nil
}

func (svc *service) methodHelp(name string) (string, error) {
	m, err := svc.lookup(name)
	if err != nil {
		return "", err
	}
	return m.Help, nil
}

// lookup finds the method that an introspection call asks about.
func (svc *service) lookup(name string) (rpc.MethodInfo, error) {
	m, ok := svc.s.Method(name)
	if !ok {
		return m, &rpc.Error{
			Code:    rpc.CodeInvalidParams,
			Message: fmt.Sprintf("invalid params: no method named %q", name),
		}
	}
	return m, nil
}
