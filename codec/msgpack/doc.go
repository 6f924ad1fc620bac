// Package msgpack is polyrpc's MessagePack-RPC codec. Importing the package
// registers the codec under the name "msgpack", so the shortest use is a
// blank import:
//
//	import _ "github.com/polyrpc/polyrpc/codec/msgpack"
//
//	s, err := rpc.NewServer() // serves every registered codec, "msgpack" among them
//	if err != nil {
//		return err
//	}
//	s.Register("add", func(a, b int64) (int64, error) { return a + b, nil })
//	c, _ := s.Codec("msgpack")
//	reply := s.ServeMessage(ctx, c, []byte{0x94, 0x00, 0x07, 0xa3, 'a', 'd', 'd', 0x92, 0x01, 0x02}, nil)
//	// reply is [1, 7, nil, 3]: 94 01 07 c0 03
//
// Use New for a codec with another depth limit, and pass it to
// rpc.WithCodecs. Over HTTP the codec answers to "application/msgpack" and
// the aliases "application/x-msgpack" and "application/vnd.msgpack"; on a
// stream a message is recognised by its first byte, an array header, and
// the codec reads unframed messages (ReadMessage) as stock msgpack-rpc
// clients send them.
//
// # Wire format
//
// Messages are those of the MessagePack-RPC specification:
//
//	request       [0, msgid, method, params]
//	response      [1, msgid, error, result]
//	notification  [2, method, params]
//
// A server echoes the request's msgid byte for byte, whatever value stands
// there; a client sends its call number as an unsigned integer. params is
// an array of positional params or, as an extension of the specification,
// a map with str keys of named params (see rpc.WithParamNames). The
// response's error is nil on success and its result nil on error. A
// notification gets no response.
//
// # Errors
//
// A server sends every error as a map
//
//	{"code": -32601, "message": "method not found: foo", "data": ...}
//
// with "data" left out when the error has none. The codes are those of
// package rpc: a message that is not well-formed MessagePack is
// wire.CodeParseError (-32700), and its reply's msgid is nil unless the
// msgid came before the damage; a well-formed message that is not a
// request or notification is wire.CodeInvalidRequest (-32600); nesting
// beyond the depth limit is wire.CodeLimitExceeded (-32004); params of the
// wrong number or type are wire.CodeInvalidParams (-32602), and so on.
//
// A client turns such a map back into an *wire.Error with the same code,
// message and data. Other msgpack-rpc servers send a plain string as the
// error: it becomes an wire.CodeServerError with that message. Any other
// error value becomes an wire.CodeServerError whose Data is the value.
//
// # Values
//
// Go values are written as follows: integers in the smallest format that
// holds them (non-negative ones in the unsigned formats), float32 and
// float64 as themselves, string as str, []byte as bin (a nil slice as
// nil), time.Time as the timestamp extension (type -1) in the smallest of
// its three sizes, slices and arrays as arrays, maps with string keys as
// maps in sorted key order, and structs as maps of their fields named by
// their json tags and honouring omitempty, exactly as wire.StructFields
// names them. Types with encoding methods of their own travel as those
// methods say: a type with the CustomEncoder or Marshaler methods of
// github.com/vmihailenco/msgpack/v5 is encoded by that library, which calls
// them (and decoded through CustomDecoder or Unmarshaler); a type with
// encoding.TextMarshaler travels as a str of its text, and one with only
// encoding.BinaryMarshaler as a bin, text being preferred as in
// encoding/json.
//
// A value decoded into an interface (a param of type any, or an any
// anywhere inside a map, slice or struct) takes natural Go types: nil,
// bool, int64 (a uint64 only beyond the int64 range), float64, string for
// str, []byte for bin, time.Time, []any and map[string]any. A map with a
// key that is not a str, or an extension other than a timestamp, cannot be
// decoded into an interface and is an error. Typed destinations take
// integers within their range only, floats from floats and integers,
// strings from str or bin, []byte from bin or str, time.Time from a
// timestamp or an RFC 3339 str, and structs from maps by exact field name;
// anything else is an error, which the server reports as
// wire.CodeInvalidParams: a *wire.ValueError that says where and what was
// wanted ("[1].x: cannot use string as a 64-bit integer"), never naming a
// Go type.
//
// A timestamp is an instant: a time.Time keeps its nanoseconds but loses
// its location, and decodes in UTC.
//
// # Metadata, deadlines and cancellation
//
// A call's metadata (package rpc/metadata) travels inside the message as
// one more element after the params, a map of str to str in sorted key
// order:
//
//	request       [0, msgid, method, params, {"polyrpc-timeout-ms": "1500", "traceparent": "00-...-01"}]
//	notification  [2, method, params, {"traceparent": "00-...-01"}]
//	response      [1, msgid, error, result, {"x-request-id": "f81d4fae-7dec"}]
//
// The element is written only when there is metadata, so a message without
// any is the specification's, byte for byte. A response has its fifth
// element only when its request carried a map there (DialectMeta): stock
// msgpack-rpc clients, which send requests of four, always get responses
// of four, whatever the handler sets; a client that wants the reply's
// metadata without sending any sends an empty map. A nil element counts as
// none. Keys and values may be bin as well as str when read. The deadline
// travels as the entry polyrpc-timeout-ms, the whole milliseconds left,
// which the server makes the handler's deadline (capped by its call
// timeout) and answers -32001 once it passes.
//
// Metadata that is not a map of str (or bin) to str (or bin), or that
// metadata.MD.Validate refuses (more than 64 entries, a key that is not 1
// to 64 bytes of a-z, 0-9, '-', '_' and '.', or is one of HTTP's own header
// names, a value over 4096 bytes or with a control character other than
// tab), makes the request invalid: -32600, with the request's msgid. A
// client refuses a reply with such metadata with an error that is not a
// *wire.Error.
//
// The notification $/cancelRequest (wire.CancelMethod, the Language Server
// Protocol's) cancels a call in flight on the same connection, its params
// positional as the specification has them, or named as a Go client sends
// them:
//
//	[2, "$/cancelRequest", [{"id": 7}]]
//	[2, "$/cancelRequest", {"id": 7}]
//
// The server cancels the context of the call with that msgid, if one is
// running, and that call is answered -32002 unless it finished first; a
// msgid of no call in flight, or of another connection's, does nothing.
// Msgids are matched by value, as IDKey says: integers from 0 up (the
// specification's uint32, in any of the integer formats) by their value,
// other msgids as wire.KeyOf keys them; nil and bin name no call.
//
// The golden files testdata/golden/call_meta.msgpack,
// call_notification_meta.msgpack, call_cancel.msgpack,
// call_cancel_positional.msgpack, response_meta.msgpack and
// response_error_meta.msgpack fix these forms byte for byte.
//
// A Go client's calls carry the element whenever they have metadata, a
// deadline included. msgpack-rpc servers other than polyrpc's may refuse a
// request of five elements (mprpc's does): a client of one takes a codec
// made with WithoutCallMetadata.
//
// # Limits
//
// Nothing in a message is trusted before the whole message has been
// validated by a scanner that checks every declared length and count
// against the bytes that follow, bounds nesting by the depth limit
// (WithMaxDepth) and uses no recursion. Only then is anything decoded, so
// no declared length ever causes an allocation larger than the message.
//
// Values decoded into interfaces cost far more than their encoding: a nil
// of one byte is a 16-byte interface in an []any, a map of one entry is a
// Go map of over 300 bytes. So the natural values decoded from one message
// (all of a request's params together, or a reply's result), interfaces in
// typed params included, may take at most 64 bytes of memory per byte of
// the message (nat.MsgpackFactor; JSON and protobuf, less compact, have
// 32), or 1 MiB when that is more; beyond that a server answers
// wire.CodeLimitExceeded ("limit exceeded: too many values for the
// message's size (N values in L bytes)") and a client returns an error that
// is not a *wire.Error. Arrays and maps are charged before they are made,
// for exactly their elements. Plain data and documents of small maps
// decode, as measured for arrays of 4 MiB: long strings take about 1.4
// bytes a byte, numbers of 8 bytes 2.7, records of a few members 7.7, the
// OpenRPC document of rpc.discover 8.8, arrays of nils or fixints 16, maps
// of two float64s under one-letter keys 16, empty arrays 40, and points
// {"x":1,"y":2}, maps of two fixints under one-letter keys, 50 (7 bytes of
// msgpack for the Go map that 13 bytes of JSON make). Arrays of empty maps
// take 64 bytes a byte, as much as they are charged, and decode at that
// edge, the bytes of the message around the array leaving them room. What
// is refused is made of values smaller still than their Go form, and only
// once the budget is spent: arrays of maps of one entry (117 bytes a byte
// with an empty key and nil, 88 with a one-letter key and a fixint), of
// maps of an empty map (133). A message cannot make a server hold more
// than 64 times its size in natural values, or 1 MiB when that is more.
// The bound is per message: it is not charged to the server's memory
// budget (rpc.WithMaxMemory).
package msgpack
