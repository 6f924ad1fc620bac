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
// typed params included, may take at most 32 bytes of memory per byte of
// the message, or 1 MiB when that is more; beyond that a server answers
// wire.CodeLimitExceeded ("limit exceeded: too many values for the
// message's size (N values in L bytes)") and a client returns an error that
// is not a *wire.Error. Arrays and maps are charged before they are made,
// for exactly their elements. Plain data and documents of small maps
// decode: long strings take about 1.4 bytes a byte, numbers of 8 bytes 3,
// records of a few members 8, the OpenRPC document of rpc.discover 9,
// arrays of nils or fixints 16, maps of two float64s under one-letter keys
// 16. What is refused is made of values far smaller than their Go form,
// and only once the budget is spent: arrays of empty arrays (40 bytes a
// byte), of empty maps (64), of maps of one entry (117), and of maps of
// two fixints under one-letter keys (50; so points {"x":1,"y":2}, 7 bytes
// in msgpack, are refused where JSON's, 14 bytes, decode). A message
// cannot make a server hold more than 32 times its size in natural values,
// or 1 MiB when that is more. The bound is per message: it is not charged
// to the server's memory budget (rpc.WithMaxMemory).
package msgpack
