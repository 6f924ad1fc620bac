// Package proto is polyrpc's protobuf codec: each call is one binary
// Request message and each answer one Response message of the schema in
// polyrpc.proto (package polyrpc.v1), whose generated Go types are in
// package polyrpcpb. Importing the package registers the codec under the
// name "proto", so the shortest use is a blank import:
//
//	import _ "github.com/polyrpc/polyrpc/codec/proto"
//
//	s, err := rpc.NewServer() // serves every registered codec, "proto" among them
//	if err != nil {
//		return err
//	}
//	s.Register("add", func(a, b int64) (int64, error) { return a + b, nil })
//	c, _ := s.Codec("proto")
//	client, err := rpc.NewClient(rpc.InProcess(s), c)
//	if err != nil {
//		return err
//	}
//	var sum int64
//	err = client.Call(ctx, "add", &sum, 1, 2)
//
// Use New for a codec with another depth limit, and pass it to
// rpc.WithCodecs. Over HTTP the codec answers to the media types
// application/x-protobuf (the one it replies with), application/protobuf
// and application/vnd.google.protobuf; on a stream its requests start with
// the byte 0x08 or 0x12 (see Sniff).
//
// # The schema
//
// A Request has an id (uint64, 1), a method (2), positional params (3, a
// repeated Value) or named params (4, a Map), and a notification flag (5).
// A Response echoes the id (1) and holds a result (2, a Value) or an Error
// (3): a code (sint64), a message, optional data (a Value) and details
// (repeated google.protobuf.Any). A Value is a oneof of null, bool, int
// (sint64), uint (uint64), double, string, bytes, time (seconds, nanos and
// the zone's offset in seconds), list, map (string keys), message (a
// serialized protobuf message), and two packed lists, int_list (sint64) and
// double_list. Other languages generate their code from polyrpc.proto, as
// the interop test does for Python.
//
// Request.meta (6) and Response.meta (4), each a map<string, string>, carry
// a call's metadata (see below).
//
// # Metadata, deadlines and cancellation
//
// A call's metadata (package rpc/metadata) travels in Request.meta, field
// 6, and the reply's in Response.meta, field 4: map<string, string>
// entries, written after the other fields in sorted key order, each with
// its key and its value, as protobuf-go's deterministic marshalling writes
// them. Nothing is written without metadata, so such a message is byte for
// byte what it was before the fields existed. A response carries meta only
// when its request carried an entry (DialectMeta); clients generated from
// an older polyrpc.proto would skip it anyway, as protobuf skips unknown
// fields. The deadline travels as the entry polyrpc-timeout-ms, the whole
// milliseconds left, which the server makes the handler's deadline (capped
// by its call timeout) and answers -32001 once it passes.
//
// Metadata that metadata.MD.Validate refuses (more than 64 entries, a key
// given twice counting twice; a key that is not 1 to 64 bytes of a-z, 0-9,
// '-', '_' and '.', or is one of HTTP's own header names; a value over 4096
// bytes or with a control character other than tab) makes the request
// invalid: -32600, with the request's id; a client refuses such a reply
// with an error that is not a *wire.Error. A key or value that is not UTF-8
// makes the message malformed, as for protobuf-go. AppendCall refuses
// metadata that is not UTF-8; AppendResponse writes it with U+FFFD.
//
// The notification $/cancelRequest (wire.CancelMethod, the Language Server
// Protocol's) cancels a call in flight on the same connection: a Request
// with method "$/cancelRequest", notification set, and named params {"id":
// <the call's id>} (as a Go client sends it) or one positional param, a Map
// {"id": ...}. The id may be a uint_value, an int_value or a whole
// double_value. The server cancels the context of the call with that id, if
// one is running, and that call is answered -32002 unless it finished
// first; an id of no call in flight, or of another connection's, does
// nothing. A call with id 0 (the field left out) cannot be named.
//
// The golden files testdata/golden/call_meta.bin, call_notification_meta.bin,
// call_cancel.bin, call_cancel_positional.bin, response_meta.bin and
// response_error_meta.bin fix these forms byte for byte.
//
// # Go types
//
// Params and results are encoded by their Go type:
//
//	nil, nil pointer, nil slice, nil map    null
//	bool                                    bool
//	int, int8 ... int64                     int (exact over the whole range)
//	uint, uint8 ... uint64                  uint
//	float32, float64                        double (NaN and infinities too)
//	string                                  string (must be valid UTF-8)
//	[]byte, [N]byte                         bytes
//	time.Time                               time, with its zone's offset
//	[]int, []int8 ... []int64, []uint16,    int_list, packed: one varint an
//	  []uint32 (and such arrays)              element, no Value each
//	[]float32, []float64                    double_list, packed
//	other slices and arrays                 list
//	map[string]T                            map, keys sorted
//	struct                                  map of the fields that
//	                                          wire.StructFields names, sorted
//	                                          by name; omitempty honoured
//	pointer, interface                      what it holds
//	proto.Message                           message
//
// The encoding is deterministic and canonical: byte for byte what
// proto.MarshalOptions{Deterministic: true} makes of the equivalent
// polyrpcpb message (the golden tests check it with protobuf-go and with
// Python's protobuf). A value that a Value cannot hold (a channel, a
// function, a string or map key that is not UTF-8, nesting beyond the depth
// limit, a cycle) is an error: the server answers wire.CodeInternal, a
// client's call fails before it is sent.
//
// Decoding is the reverse, with range checks: an int or uint fits any
// integer type whose range holds its value, an integer also fits a float,
// null sets the zero value, a list (or a packed list) fits any slice or an
// array of its length, a map fits a map with string keys or a struct (by
// wire.StructFields names; unknown keys are ignored, absent fields left
// alone). Anything else is an error, which a server answers with
// wire.CodeInvalidParams: a *wire.ValueError that says where and what was
// wanted ("[1].x: cannot use string as a 64-bit integer"), never naming a
// Go type. A double never fits an integer, nor a string bytes.
// Into an interface (any) a Value decodes into natural Go types: nil, bool,
// int64, uint64 (only above the int64 range), float64, string, []byte
// (bytes and message), time.Time (in UTC, or in a zone with the offset and
// no name), []any and map[string]any.
//
// The packed lists make a large []int64 cheap: a Go encoder writes it as
// one int_list, and a []int64 destination decodes an int_list in one loop
// over its bytes, without a Value or an interface an element.
//
// # Protobuf messages
//
// A handler whose params and results are protobuf messages gets them
// without a detour: a message param travels as a message_value, the
// message's own encoding, which is unmarshalled straight into the
// parameter's type (*pb.Thing, or pb.Thing), and a message result is
// marshalled straight into the Response:
//
//	s.Register("things.get", func(ctx context.Context, q *pb.Query) (*pb.Thing, error) { ... })
//
// A client passes and receives messages the same way. An wire.Error whose
// Data is a proto.Message (or a []proto.Message) sends it as the Error's
// details, and a client gets it back as a message of its type when the
// program links that type in.
//
// The core refuses to register a handler whose param or result types hold
// an interface with methods, and the generated type of a message with a
// oneof holds one (its oneof field), so such a message cannot be a param or
// result type today; a handler can take its encoding as a []byte and
// unmarshal it.
//
// # Limits
//
// DecodeRequest and DecodeReply validate the whole message as strictly as
// protobuf-go's Unmarshal (wire format, UTF-8 of strings and keys, closed
// groups) before anything is decoded, and refuse Values nested deeper than
// the depth limit (WithMaxDepth) with wire.CodeLimitExceeded; the fuzz tests
// hold the codec to protobuf-go's verdict and reading of every message.
// Memory grows with the bytes that arrive, never with the lengths a message
// declares: validation allocates nothing, and decoding allocates what the Go
// values need, at most a small multiple of the message (see hostile_test.go
// and budget_test.go for the measurements). Natural values, those decoded
// into interfaces, cost the most: a packed int of one byte is a 16-byte
// interface in an []any, a Map of one entry a Go map of over 300 bytes. So
// the natural values decoded from one message (all of a request's params
// together, or a reply's result), interfaces in typed params included, may
// take at most 32 bytes of memory per byte of the message, or 1 MiB when
// that is more; beyond that a server answers wire.CodeLimitExceeded ("limit
// exceeded: too many values for the message's size (N values in L
// bytes)"), a client returns an error that is not a *wire.Error, and an
// error's data is left out (its message says so). Lists and maps are
// charged before they are made, for exactly their elements. Plain data and
// documents of small maps decode: long strings take about 1.4 bytes a
// byte, packed doubles 3, records of a few members 5.5, the OpenRPC
// document of rpc.discover 6.5, lists of empty lists 10, packed one-byte
// ints, lists of empty maps and maps of two small ints such as
// {"x":1,"y":2} 16. What is refused is made of values far smaller than
// their Go form, such as lists of Maps of one entry that has neither key
// nor value (58 bytes a byte), and only once the budget is spent, so that
// a message cannot make a server hold more than 32 times its size in
// natural values, or 1 MiB when that is more. The bound is per message: it
// is not charged to the server's memory budget (rpc.WithMaxMemory).
// The messages that message_values hold are unmarshalled by protobuf-go with
// the depth limit as their RecursionLimit.
//
// Unknown fields are skipped at every level, and of a singular field given
// twice the last counts, messages being merged, as protobuf has it. A map
// key given twice keeps its last value. A request's id is echoed as its
// varint was encoded.
//
// # Generated code
//
// polyrpcpb/polyrpc.pb.go and internal/testpb/thing.pb.go (the message of
// the tests) were generated with protoc 3.21.12 (libprotoc, Debian's
// protobuf-compiler) and protoc-gen-go v1.36.12, the version of
// google.golang.org/protobuf in go.mod (go install
// google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12); the go:generate
// lines below regenerate them.
package proto

//go:generate protoc --proto_path=. --go_out=. --go_opt=module=github.com/polyrpc/polyrpc/codec/proto polyrpc.proto
//go:generate protoc --proto_path=testdata --go_out=. --go_opt=module=github.com/polyrpc/polyrpc/codec/proto testdata/thing.proto
