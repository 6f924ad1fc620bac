// Package cluster is a client of a service served by several servers: it
// spreads calls over their endpoints, ejects the failing ones and fails
// over, as one client would to one server.
//
// The endpoints are URLs of any transport. A Resolver finds them: Static
// for a fixed list, DNS for the A/AAAA or SRV records of a name, or any
// other (package resolver/etcd watches an etcd prefix). A DialFunc, which
// the caller gives, turns each URL into the *rpc.Client of that endpoint
// (this package imports no transport), typically switching on the scheme:
//
//	dial := func(ctx context.Context, u string) (*rpc.Client, error) {
//		switch {
//		case strings.HasPrefix(u, "tcp://"):
//			return tcprpc.NewClient(strings.TrimPrefix(u, "tcp://"), codec)
//		case strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "https://"):
//			return httprpc.NewClient(u, codec)
//		}
//		return nil, fmt.Errorf("unknown scheme in %q", u)
//	}
//	c, err := cluster.New(cluster.Static("tcp://10.0.0.1:9000", "tcp://10.0.0.2:9000"), dial,
//		cluster.WithIdempotent("kv.get"))
//
// Each endpoint has one rpc.Client: a connection for a stream transport
// (TCP, WebSocket), a pool of them for HTTP.
//
// # What is sent again
//
// A call that provably never reached a server is sent to another endpoint,
// always: the dial failed or was refused, the transport says nothing was
// sent, or the server answered that it is draining. A transport says that
// nothing was sent with an error in the chain that has a method
// NotSent() bool returning true; an HTTP transport reports a status with a
// method HTTPStatus() int, of which 503 is a server refusing the call
// before it ran. A call that failed after it may have reached a server (its
// connection was lost while the reply was awaited, an HTTP 502 or 504) may
// have run: it is sent again only for the methods named by WithIdempotent,
// at most twice, after a delay, and within the retry budget, so that a
// retry never doubles a call of any other method. The server's answers,
// errors included, are never sent again.
//
// Servers mark their idempotent methods with rpc.Idempotent, which
// rpc.discover (package introspect) shows as "x-idempotent": true; the
// client is told by WithIdempotent.
package cluster
