// Package xml is polyrpc's XML-RPC codec (http://xmlrpc.com/spec.md), with
// the <nil/> and <i8> extensions and the fault-interop codes. Importing it
// registers the codec under the name "xml"; servers pick it by the media
// type text/xml (or application/xml) or by a message's first byte, '<'.
//
//	import "github.com/polyrpc/polyrpc/codec/xml" // registers "xml"
//
//	s, err := rpc.NewServer()
//	if err != nil {
//		return err
//	}
//	s.Register("demo.add", func(a, b int64) (int64, error) { return a + b, nil })
//
//	c, err := rpc.NewClient(rpc.InProcess(s), xml.New())
//	if err != nil {
//		return err
//	}
//	var sum int64
//	err = c.Call(ctx, "demo.add", &sum, 2, 3)
//
// # Reading
//
// The decoder reads liberally what real peers send: an optional XML
// declaration (UTF-8, or ISO-8859-1, which is transcoded; other encodings
// are refused with fault code -32701), comments, whitespace, untyped values
// as strings, i1 i2 i4 i8 int biginteger within 64 bits, double float
// bigdecimal with or without an exponent, booleans as 0/1 or true/false,
// dateTime.iso8601 with or without hyphens and colons, fractional seconds
// and a Z or ±hh:mm zone (none means UTC), base64 with line breaks,
// namespace prefixes such as Apache's ex:i8 and ex:nil, and CDATA sections.
// It refuses DOCTYPE and so any entity declaration, invalid UTF-8,
// characters XML 1.0 forbids, infinities and NaN. It parses a message once,
// without recursion, into a flat node list; nesting deeper than the limit
// (WithMaxDepth) fails early, and memory stays proportional to the message,
// never to a size the message declares.
//
// Params decode into the handler's types: integers into any integer kind
// with range checks, and into floats; doubles into floats; strings,
// booleans, time.Time, []byte from base64, slices and arrays, maps with
// string keys and structs from structs (members matched to fields by
// wire.StructFields names, unknown members ignored), pointers, and any,
// which receives int64, bool, string, float64, time.Time, []byte, nil,
// []any or map[string]any. A <nil/> sets the zero value. A value that does
// not fit is a *wire.ValueError that says where and what was wanted in
// XML-RPC's terms ("[1].x: cannot use string as a 64-bit integer"), never
// naming a Go type.
//
// # Writing
//
// The encoder writes what every reader accepts: integers within 32 bits as
// <int>, others as <i8> (an unsigned value beyond int64 is an error);
// booleans as 0 and 1; strings as <string> with &, <, > and carriage
// returns escaped (a character XML 1.0 cannot carry is an error); doubles
// with the shortest digits that read back exactly (NaN and infinities are
// errors); time.Time as YYYYMMDDTHH:MM:SS in UTC; []byte as base64; maps
// with string keys as structs with sorted members; structs by wire.StructFields
// names, honouring omitempty. Nil pointers and interfaces are <nil/>; nil
// slices and maps are an empty array and struct, which readers without the
// nil extension accept, and a result-less method answers <nil/>.
//
// Faults carry exactly faultCode and faultString; wire.Error.Data has no
// place in XML-RPC and is dropped. XML-RPC has no named params
// (ErrNamedParams), no notifications (ErrNotification) and no call ids, so
// the codec is wire.InOrder.
//
// # Metadata
//
// A methodCall and a methodResponse have no room for a call's metadata
// (package rpc/metadata) that every reader would skip, so the codec carries
// none: over HTTP metadata travels in headers, as for every codec, and the
// deadline in Polyrpc-Timeout-Ms; over a stream (TCP frames) an XML-RPC
// call has no metadata, no deadline sent by its client, and no
// cancellation. The codec ignores wire.Call.Meta and wire.Response.Meta,
// leaves wire.Request.Meta and wire.Reply.Meta nil, and does not implement
// wire.IDKeyer: without call ids, the notification $/cancelRequest cannot
// name a call (nor can XML-RPC send a notification). What remains over a
// stream is the connection itself: a Go client sends an XML-RPC call alone
// on its stream and closes the stream of a call it abandons, and polyrpc's
// TCP server cancels the calls of a connection whose peer left, so the
// handler's context ends then too.
package xml
