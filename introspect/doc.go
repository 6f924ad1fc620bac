// Package introspect is a service that describes a polyrpc server to its
// callers, built from the metadata the server's registry already holds (names,
// parameter and result types, help texts). Like any other service it is served
// in every codec. The shortest use:
//
//	s := rpc.NewServer()
//	s.Register("demo.add", add, rpc.WithHelp("Adds two integers."))
//	if err := introspect.Register(s); err != nil {
//		return err
//	}
//
// Register adds the XML-RPC introspection methods of xmlrpc-c
// (system.listMethods, system.methodSignature, system.methodHelp), the
// system.multicall and system.getCapabilities conventions, and rpc.discover,
// which returns an OpenRPC 1.2.6 document for JSON-RPC tooling.
//
// # Signatures
//
// system.methodSignature names Go types by their XML-RPC types: int8, int16,
// int32, uint8 and uint16 are "int", as every value fits the 32-bit <int>;
// int, int64, uint32, uint and uint64 are "i8", because their values may not
// fit (Go's int is 64 bits wide on every platform polyrpc serves; uint64
// values above 2⁶³-1 fit neither); float32 and float64 are "double"; bool is
// "boolean"; time.Time is "dateTime.iso8601"; []byte is "base64"; other
// slices and arrays are "array"; maps and structs are "struct"; a pointer is
// named by what it points to; a method that returns only an error returns
// "nil". A parameter or result of type any is "undefined", the name
// phpxmlrpc gives to a position that takes a value of any type. A variadic
// method has no single signature, so system.methodSignature returns the
// string "undef" instead of an array, as xmlrpc-c does for a method whose
// signature it does not know.
//
// # Faults
//
// system.methodSignature and system.methodHelp answer a name that is not
// registered with rpc.CodeInvalidParams, not rpc.CodeMethodNotFound: the
// method called exists, its param is what is wrong, and a client must be able
// to tell "no such method name" from "this server has no system.methodHelp".
//
// # Multicall
//
// system.multicall runs its calls one after another, in order, each through
// rpc.Server.Invoke, so interceptors (authentication among them) see and may
// refuse every inner call. Each call is a struct with a string methodName and
// an optional params array (missing or nil means no params). A call that is
// not such a struct, or names system.multicall itself, gets a fault entry with
// rpc.CodeInvalidRequest; the other calls still run. More calls than the limit
// (WithMaxMulticall) fail the whole request with rpc.CodeLimitExceeded. Once
// the request's context ends, the remaining calls do not run and the whole
// request fails with the context's error.
//
// # Capabilities
//
// system.getCapabilities returns a struct of {specUrl, specVersion} structs
// named xmlrpc, faults_interop, introspection, multicall, nil and i8, under
// the URLs that XML-RPC implementations advertise. The nil and i8 entries
// describe XML-RPC extensions that matter only to the XML-RPC codec.
//
// # OpenRPC
//
// rpc.discover describes every method with JSON Schemas (draft 7) built from
// the Go types: integers carry their format (int32, int64) and, when narrower,
// their range; time.Time is a date-time string, []byte a base64 string; a
// pointer admits null; any admits everything. Named struct, slice, array and
// map types are described once under components.schemas and referred to with
// $ref, which also ends the recursion of recursive types. Params are named as
// registered (rpc.WithParamNames), else param1, param2, ...; a method whose
// only param is a struct takes named params as that struct's fields, so they
// are its params and its paramStructure is "by-name". A method with param
// names, or with no params, takes them by name or by position ("either"); any
// other method is "by-position", a variadic one included, whose last param
// describes one of the values that may repeat. A method registered with
// rpc.Idempotent carries the specification extension "x-idempotent": true
// (a method without it has no such field); system.methodSignature and
// system.methodHelp say nothing of it. The introspection methods are
// idempotent themselves, but for system.multicall, whose calls may not be.
package introspect
