// Package conformance holds polyrpc's conformance suite and nothing else: a
// single table of cases (every value type with its edge values, and every
// outcome of a call) run through every codec (json, xml, msgpack, proto) and
// every transport (HTTP, HTTPS, TCP, TCP with the HMAC handshake, TLS), with
// the same assertions everywhere.
//
// Where a codec cannot carry a value, the case says exactly what that codec
// does instead, as its package documentation describes it: the client
// refuses to encode the call, the server answers -32603, or the value comes
// back changed in a documented way (an XML-RPC time in whole seconds of UTC,
// a msgpack time as a UTC instant). README.md's type-mapping table, between
// the markers <!-- conformance:begin --> and <!-- conformance:end -->, is
// generated from the same table, and the suite checks it:
//
//	go test ./conformance/                                    # run the suite, check README.md
//	go test ./conformance/ -run TestTypeMappingTable -update  # rewrite README.md's table
//
// The package has no API; its tests are the point.
package conformance
