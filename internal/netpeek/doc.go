// Package netpeek looks at a connection without reading what the
// application reads: whether the peer of an idle connection closed it (a
// client checks a kept connection this way before it sends a call on it),
// and which protocol the first bytes of a peer that speaks another one
// belong to.
package netpeek
