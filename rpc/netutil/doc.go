// Package netutil adapts a server's listeners and handlers to the load
// balancers in front of it, for every polyrpc transport:
//
//   - MaxAge makes connections expire, so that the servers of tcprpc and
//     httprpc close them once their calls are done and long-lived clients
//     spread over new replicas after a scale-up;
//   - ProxyProtocol reads the PROXY protocol header (v1 and v2) that
//     HAProxy, nginx and cloud balancers send ahead of a connection, from
//     trusted proxies only, so that the server sees the client's address
//     (in rpc.Peer, the limits per address and the logs) instead of the
//     proxy's;
//   - ForwardedFor does the same with X-Forwarded-For for an HTTP handler.
//
// The listeners wrap the plain one, below TLS: give the result to Serve of
// a server configured with tcprpc.WithTLS or httprpc.WithTLSConfig, or
// wrap it in tls.NewListener. Their connections have a NetConn method
// returning the connection they wrap, as *tls.Conn has.
//
//	ln, err := net.Listen("tcp", ":9000")
//	ln = netutil.MaxAge(ln, 10*time.Minute)
//	ln, err = netutil.ProxyProtocol(ln, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")})
//	err = srv.Serve(ln)
package netutil
