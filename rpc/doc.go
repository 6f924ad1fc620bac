// Package rpc is polyrpc's transport-agnostic core: the method registry and
// dispatcher (Server), the error model (Error and its Codes), interceptors,
// the Codec interfaces and registry, and a Client.
//
// The core imports no network package. Codecs (codec/json, codec/xml,
// codec/msgpack, codec/proto) turn messages into requests and back;
// transports (rpc/httprpc, rpc/tcprpc) move messages and hand them to
// Server.ServeMessage. A codec package registers itself when imported:
//
//	s := rpc.NewServer()
//	s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil })
//	http.Handle("/", httprpc.NewHandler(s))
//
// Handlers are plain Go functions: an optional leading context.Context, any
// params, and (R, error) or error as results. All reflection happens at
// registration.
package rpc
