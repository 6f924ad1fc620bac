// Package wire is polyrpc's interface for the authors of codecs and
// transports: what a message holds once a codec has read it (Request,
// Response, Call, Reply), the optional abilities a codec may have (batches,
// media types, first-byte sniffing, self-delimiting messages, messages
// without ids), the streams a stream transport hands to a client, and the
// reflection plans that every codec shares (PlanOf, StructFields): a Go
// type's wire kind, fields and limits, and errors worded in the protocol's
// terms rather than Go's.
//
// Applications need none of it: they use package rpc, whose Codec interface
// is written in terms of this package's types. The dependency goes one way:
// rpc imports wire, codecs and transports import both.
package wire
