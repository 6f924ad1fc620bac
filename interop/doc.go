// Package interop holds end-to-end tests: polyrpc's own client and server
// across real transports, and third-party peers (CPython's standard library,
// gorilla/rpc, kolo/xmlrpc) against them. It has no non-test code.
package interop
