// Package wsrpc carries polyrpc calls over WebSocket (RFC 6455): a server
// side, Handler, which an HTTP server mounts at a path such as GET /ws, and
// a client, NewClient, for ws:// and wss:// URLs that multiplexes
// concurrent calls over one connection as the TCP client does.
//
// It lives outside rpc/ because it imports github.com/coder/websocket; the
// packages under rpc/ use the standard library only.
//
// # Messages
//
// Each WebSocket message is one RPC message (a request, a notification, a
// batch, a reply, a $/cancelRequest) in any codec the server serves. The
// codecs whose messages are text travel in text messages: JSON-RPC ("json")
// and XML-RPC ("xml"); the others in binary messages: msgpack-rpc
// ("msgpack") and protobuf ("proto"). A reply has the message type of its
// codec. The server tells the codec of each message by its first byte, as
// the TCP transport does (wire.Sniffer), unless the connection pinned one
// with its subprotocol.
//
// # Subprotocols
//
// A client may name one codec for the whole connection in
// Sec-WebSocket-Protocol; the server then reads every message in it:
//
//	jsonrpc     JSON-RPC 2.0 (codec "json")
//	xmlrpc      XML-RPC (codec "xml")
//	msgpackrpc  msgpack-rpc (codec "msgpack")
//	protobuf    polyrpc's protobuf envelope (codec "proto")
//
// (Subprotocol maps a codec name to its subprotocol.) A connection without
// a subprotocol, or with one the server does not know, is sniffed. The Go
// client offers its codec's subprotocol.
//
// # Limits and close codes
//
// A message over the maximum message size closes the connection with 1009
// (message too big); a text message that is not UTF-8 with 1007; a message
// no codec recognises with 1003; a connection silent beyond the idle
// timeout, with no call in flight, with 1001; Shutdown closes every
// connection with 1001 (going away); a panic outside the handlers (which
// rpc.Server recovers itself) with 1011 (internal error); a message larger
// than the server's whole memory budget with 1009. A reply that cannot be
// written within the write timeout, or a peer that does not answer a ping
// within the ping interval, ends the connection without a close frame. At most the maximum calls in flight are served
// at once per connection: the server then stops reading the connection
// until one ends (backpressure), so a client that floods it only waits.
//
// The server pings every connection at the ping interval (30 s by default)
// and closes one that does not answer within it.
//
// # Security
//
// The cross-origin policy applies to the upgrade: an Origin other than the
// request's host, and not allowed by WithAllowOrigin, is refused with 403.
// Authentication is the HTTP server's: wrap the Handler in
// auth.NewHTTPHandler to require PolyRPC-HMAC on the upgrade request (a GET
// without body, signed as any other request; the client signs it with an
// http.Client whose Transport is auth.Key.SignHTTP, see WithHTTPClient), and
// serve it over TLS with client certificates for mutual TLS. The identity
// the wrapper proved is each call's rpc.Peer.Identity.
package wsrpc
