// Package rpc is polyrpc's transport-agnostic core: the method registry and
// dispatcher (Server), the error model (Error and its Codes), interceptors,
// the Codec interface and registry, and a Client.
//
// A service registers plain Go functions and serves them over a transport;
// every imported codec serves every method:
//
//	import (
//		"github.com/polyrpc/polyrpc/codec/json" // each codec package registers its codec when imported
//		"github.com/polyrpc/polyrpc/rpc"
//		"github.com/polyrpc/polyrpc/rpc/httprpc"
//	)
//
//	s, err := rpc.NewServer()
//	...
//	err = s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil },
//		rpc.WithParamNames("a", "b"))
//	h, err := httprpc.NewHandler(s)
//	http.Handle("/", h)
//
// and a client calls them in one codec:
//
//	c, err := httprpc.NewClient("http://127.0.0.1:8000/", json.New())
//	var sum int64
//	err = c.Call(ctx, "demo.add", &sum, 2, 3)
//
// Handlers are plain Go functions: an optional leading context.Context, any
// params, and (R, error) or error as results. All reflection happens at
// registration.
//
// # Choosing a codec and a transport
//
// Codecs (the wire format of one message):
//
//   - codec/json, JSON-RPC 2.0 (and 1.0): what browsers, curl, Python's
//     json and most languages speak; named params; batches. The default
//     choice for calls from other languages.
//   - codec/xml, XML-RPC: for clients that only speak it, such as Python's
//     xmlrpc.client and system.multicall users. Its messages carry no ids,
//     so over TCP a connection carries one call at a time.
//   - codec/msgpack, MessagePack-RPC: compact and fast, binary-safe, with
//     libraries in every language.
//   - codec/proto, protobuf: the most compact, and the only one that
//     carries generated protobuf messages as they are.
//
// Transports (how messages move):
//
//   - rpc/httprpc: an http.Handler and a client. Goes through proxies, load
//     balancers and browsers; one call per request.
//   - rpc/tcprpc: length-prefixed frames (Python's
//     multiprocessing.connection framing) over TCP, TLS or Unix sockets.
//     One connection carries every concurrent call, matched by id: the
//     fastest, for service-to-service calls.
//   - InProcess: no wire at all but the codec's, for tests.
//
// The core imports no network package: codecs and transports are packages
// of their own, and the interfaces their authors implement are in package
// rpc/wire.
package rpc
