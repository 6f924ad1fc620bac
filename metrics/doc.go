// Package metrics measures polyrpc servers and clients for Prometheus
// (github.com/prometheus/client_golang): calls started, in flight and
// handled per method and code, their duration, the sizes of requests and
// replies, and the transports' connections, limits hit and authentication
// failures.
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg)
//	...
//	var srv *rpc.Server
//	registered := func(method string) bool { _, ok := srv.Method(method); return ok }
//	srv, err = rpc.NewServer(rpc.WithInterceptors(m.Server(registered)))
//	...
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Names and labels follow OpenTelemetry's RPC semantic conventions as
// OpenTelemetry's Prometheus exporter spells them (rpc.server.call.duration
// in seconds becomes rpc_server_call_duration_seconds):
//
//	rpc_server_call_duration_seconds     histogram  rpc_system_name, rpc_method, rpc_status_code, transport
//	rpc_server_calls_started_total       counter    rpc_system_name, rpc_method, transport
//	rpc_server_calls_in_flight           gauge      rpc_system_name, rpc_method, transport
//	rpc_server_request_size_bytes        histogram  rpc_system_name, rpc_method, transport
//	rpc_server_response_size_bytes       histogram  rpc_system_name, rpc_method, transport
//	rpc_client_call_duration_seconds     histogram  rpc_system_name, rpc_method, rpc_status_code
//	rpc_client_calls_started_total       counter    rpc_system_name, rpc_method
//	rpc_client_calls_in_flight           gauge      rpc_system_name, rpc_method
//	rpc_client_request_size_bytes        histogram  rpc_system_name, rpc_method
//	rpc_client_response_size_bytes       histogram  rpc_system_name, rpc_method
//	rpc_server_connections_open          gauge      transport
//	rpc_server_limit_hits_total          counter    transport, limit
//	rpc_server_auth_failures_total       counter    transport
//
// The calls handled per method and code are the _count of the duration
// histograms. Notifications are calls; they have no response size.
//
// # Labels
//
// No label takes a value a client chose, but from a bounded set:
//
//   - rpc_system_name is the protocol of the call's codec (rpc.Call.Codec):
//     json → jsonrpc, xml → xmlrpc, msgpack → msgpackrpc, proto →
//     polyrpc (polyrpc's own protobuf envelope), as package tracing's
//     rpc.system.name; another codec's name as it is (the program chose its
//     codecs); _OTHER for a call without a codec (Server.Invoke outside a
//     call).
//   - rpc_method, on a server, is the method's name when it is registered
//     at the time of the call (registered reports it: see Server), built-in
//     methods such as system.multicall included, and _OTHER otherwise.
//     On a client it is the name the program called, for the first 1000
//     distinct names, and _OTHER after them.
//   - rpc_status_code is 0 for success, else the error's code (rpc.Code) as
//     a decimal string when it is one of the codes JSON-RPC 2.0, the XML-RPC
//     fault-interop specification and polyrpc reserve (-32700 to -32702,
//     -32600 to -32603, -32500, -32400, -32300, -32000 to -32004), and
//     _OTHER for any other code: a handler can return any number. On a
//     server it is the code the caller is sent (rpc.AsError); on a client,
//     the code of the server's answer, -32001 or -32002 for a call whose
//     context ended first, and _OTHER for a call that got no answer (a
//     transport error).
//   - transport is rpc.Peer.Transport on a server ("http", "tcp", "unix",
//     "inproc"; _OTHER when the call has no Peer); for the process-wide
//     metrics below, "http" (httprpc, on either engine) or "tcp" (tcprpc,
//     Unix sockets included).
//   - limit names the option of the limit that was hit: max_conns (an
//     accept held back), max_conns_per_ip (a connection closed),
//     max_message_size (a request refused: HTTP 413, or a TCP frame that
//     ends its connection), max_memory (TCP: a connection not read while
//     the memory budget is spent; HTTP: a request refused for it, 413 or
//     503), max_in_flight (a TCP connection not read until a call ends).
//
// # Sizes
//
// Request and response sizes are the messages as their codec reads and
// writes them (rpc.Call.RequestSize, rpc.Call.ReplySize): without the
// transport's framing, HTTP headers or gzip; for a call in a batch, its own
// part of the batch.
//
// # Transport metrics are process-wide
//
// Connections, limits hit and authentication failures are reported by
// every polyrpc transport of the process to one observer (the
// connections are counted where the transports' connection limiters count
// them; authentication failures are those auth logs: a failed TCP handshake,
// an HTTP request whose credentials were wrong). New installs the Metrics it
// returns as that observer, replacing the one installed before, so the last
// Metrics made counts them all. Make it before the transports serve:
// connections opened earlier are not counted, and their closing makes the
// gauge low.
package metrics
