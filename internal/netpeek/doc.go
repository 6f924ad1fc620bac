// Package netpeek tells whether the peer of an idle connection closed it,
// without reading from the connection: a client checks a kept connection
// this way before it sends a call on it.
package netpeek
