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
