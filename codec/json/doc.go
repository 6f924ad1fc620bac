// Package json is polyrpc's JSON-RPC codec: JSON-RPC 2.0, batches included,
// and the JSON-RPC 1.0 dialect. Importing the package registers the codec
// under the name "json", so the shortest use is a blank import:
//
//	import _ "github.com/polyrpc/polyrpc/codec/json"
//
//	s, err := rpc.NewServer() // serves every registered codec, "json" among them
//	if err != nil {
//		return err
//	}
//	s.Register("add", func(a, b int64) (int64, error) { return a + b, nil })
//	c, _ := s.Codec("json")
//	reply := s.ServeMessage(ctx, c, []byte(`{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}`), nil)
//	// reply is {"jsonrpc":"2.0","result":3,"id":1}
//
// Use New for a codec with other limits, and pass it to rpc.WithCodecs.
//
// # Numbers
//
// Integers survive exactly over the whole int64 and uint64 ranges: no number
// passes through float64 unless its destination is a float. A number decoded
// into an interface value (a param of type any, or an any anywhere inside a
// map, slice or struct) becomes an int64 when its value is a whole number
// within int64, a uint64 when it is a whole number within uint64, and a
// float64 otherwise. Request ids are echoed byte for byte, so 1.0e3 comes
// back as 1.0e3.
//
// A value that does not fit its destination is a *wire.ValueError that says
// where and what was wanted in JSON's terms ("x: cannot use string as a
// 64-bit integer"), never naming a Go type as encoding/json's own errors do;
// a result JSON cannot carry (NaN, a channel) is one too.
//
// # Dialects
//
// A request with "jsonrpc":"2.0" is answered in JSON-RPC 2.0 (Dialect2). A
// request with a "method" but no "jsonrpc" member is JSON-RPC 1.0
// (Dialect1): "id":null marks a notification, and the response carries both
// "result" and "error", one of them null. Requests too malformed to tell are
// answered in JSON-RPC 2.0.
//
// # Metadata, deadlines and cancellation
//
// A call's metadata (package rpc/metadata) travels inside the message as a
// top-level member "meta" of the request and of the response, an object of
// strings, its keys in sorted order:
//
//	{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1,"meta":{"polyrpc-timeout-ms":"1500","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
//	{"jsonrpc":"2.0","result":19,"id":1,"meta":{"x-request-id":"f81d4fae-7dec"}}
//
// The member is written only when there is metadata, so a message without
// any is byte for byte what it was before the member existed. A response
// carries the reply's metadata only when its request had a "meta" member
// (DialectMeta): a client that never sends one, as stock JSON-RPC clients
// do, never gets one, whatever the handler sets; a client that wants the
// reply's metadata without sending any sends "meta":{}. "meta":null counts
// as no member. JSON-RPC 1.0 requests and responses carry it the same way,
// and in a batch each element carries its own. The deadline travels as the
// entry polyrpc-timeout-ms, the whole milliseconds left, which the server
// makes the handler's deadline (capped by its call timeout) and answers
// -32001 once it passes.
//
// A "meta" that is not an object of strings, or that metadata.MD.Validate
// refuses (more than 64 entries, a key that is not 1 to 64 bytes of a-z,
// 0-9, '-', '_' and '.', or is one of HTTP's own header names, a value over
// 4096 bytes or with a control character other than tab), makes the
// request invalid: -32600, with the request's id. A client refuses a reply
// with such a "meta" with an error that is not a *wire.Error. A key given
// twice counts twice against the bound and keeps its last value.
//
// The notification $/cancelRequest (wire.CancelMethod, the Language Server
// Protocol's) cancels a call in flight on the same connection:
//
//	{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}
//
// (or with params [{"id":1}]). The server cancels the context of the
// call with that id, if one is running, and that call is answered -32002
// unless it finished first; an id of no call in flight, or of another
// connection's, does nothing. Ids are matched by value, as IDKey says:
// whole numbers from 0 up by their value (1, 1.0 and 1e0 are one id),
// negative integers and strings by their text ("1" is not 1); null, a
// fraction or a number above 2^64-1 names no call. A Go client sends it for
// a call whose context ends before its reply; any client can.
//
// The golden files testdata/golden/call_meta.json,
// call_notification_meta.json, call_cancel.json, response_meta.json,
// response_error_meta.json and response_v1_meta.json fix these forms byte
// for byte.
//
// A Go client's calls over a stream carry "meta" whenever they have
// metadata, a deadline included, to whatever server they reach; JSON-RPC
// servers commonly ignore members they do not know.
//
// # Limits
//
// Messages nested deeper than the codec's depth limit (WithMaxDepth) are
// refused with wire.CodeLimitExceeded before anything is decoded; the scanner
// that checks them uses no recursion.
//
// Values decoded into interfaces cost far more than their JSON: a million
// 1s, 2 MB, are a million 16-byte interfaces; {"a":0} is a Go map of over
// 300 bytes. So the natural values decoded from one message (all of a
// request's params together, or a reply's result) may take at most 32
// bytes of memory per byte of the message, or 1 MiB when that is more;
// beyond that a server answers wire.CodeLimitExceeded ("limit exceeded: too
// many values for the message's size (N values in L bytes)") and a client
// returns an error that is not a *wire.Error. Plain data and documents of
// small objects decode: long strings take about 1.4 bytes a byte, numbers
// of several digits under 3, records of a few members 6, the OpenRPC
// document of rpc.discover 7, arrays of one-digit numbers 8, of empty
// objects 21, of objects of two short members such as {"x":1,"y":2} 25
// (while an array or object is decoded, its values also take a 16-byte
// slot each, which the budget counts: one-digit numbers then count 16, the
// others up to 27). What is refused is made of values far smaller than
// their Go form, such as arrays of objects of one short member ({"a":0},
// 44 bytes a byte), and only once the budget is spent, so that a message
// cannot make a server hold more than 32 times its size in natural values,
// or 1 MiB when that is more. The bound is per message: it is not charged
// to the server's memory budget (rpc.WithMaxMemory). The []any and maps
// are made for exactly their
// elements. Typed destinations are not charged; a type that holds an
// interface, which encoding/json decodes, is charged as if all of its
// value were natural, and is refused before encoding/json runs.
package json
