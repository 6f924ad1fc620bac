package wire

import (
	"fmt"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/metadata"
)

// ID identifies a call within a connection. Both sides treat it as opaque: a
// server copies it from the request to the response; a client numbers its
// calls with Seq and matches replies by it.
type ID struct {
	// Raw is the id exactly as it stood in the request (codec encoded); a
	// server's codec echoes it verbatim. Nil when the request had none.
	Raw []byte
	// Seq is the client's number for the call. A codec encodes it in
	// AppendCall and parses it back from the reply in DecodeReply.
	Seq uint64
}

// Request is a request as a server's codec decoded it.
type Request struct {
	Method string
	ID     ID
	// Notification is set for a call that expects no reply.
	Notification bool
	// Dialect is a codec-defined variant of its protocol (JSON-RPC 1.0 or
	// 2.0), copied from request to response.
	Dialect uint8
	// Params is nil when the request carried none.
	Params Params
	// Meta is the metadata the message carried; nil when none. A codec
	// whose envelope has no room for it leaves it nil.
	Meta metadata.MD
	// Entries is the metadata the message carried, held without a map,
	// for a codec that decodes it so rather than into Meta: an entry of
	// Entries stands over Meta's of the same key. The server refuses
	// entries that Entries.Validate refuses, as it refuses such a Meta.
	Entries Entries
}

// Response is a response that a server's codec encodes.
type Response struct {
	ID      ID
	Dialect uint8
	// Result is the handler's result; ignored when Error is set.
	Result any
	Error  *Error
	// Meta is the reply's metadata, which a codec with room for it
	// encodes; nil when none.
	Meta metadata.MD
}

// Call is a request that a client's codec encodes.
type Call struct {
	Method       string
	ID           ID
	Notification bool
	// Args are positional params; Named, when not nil, is sent instead as
	// named params (a map with string keys, or a struct).
	Args  []any
	Named any
	// Meta is the call's metadata, which a codec with room for it encodes;
	// nil when none.
	Meta metadata.MD
	// Entries is more of the call's metadata, each key once, standing over
	// Meta's of the same key: what a client's interceptors set, which it
	// hands without building a map to a codec that implements
	// EntriesEncoder; nil when none. Other codecs get all of the metadata
	// in Meta.
	Entries *Entries
}

// EntriesEncoder is implemented by codecs whose AppendCall encodes
// Call.Entries with Call.Meta. EncodesEntries reports whether it does.
type EntriesEncoder interface {
	EncodesEntries() bool
}

// Reply is a reply as a client's codec decoded it.
type Reply struct {
	ID     ID
	Result Value // nil when Error is set
	Error  *Error
	// Meta is the metadata the reply carried; nil when none.
	Meta metadata.MD
}

// Params is the encoded parameter list of a request, decoded one parameter at
// a time into the types the method wants. It is used by one goroutine at a
// time. What it stores in a destination must not refer to the message's
// bytes: transports reuse the message's buffer once the call is served.
type Params interface {
	// Len is the number of positional params, or -1 for named params.
	Len() int
	// DecodeAt decodes positional param i into dst, a non-nil pointer.
	DecodeAt(i int, dst any) error
	// Names lists the names of named params in message order.
	Names() []string
	// DecodeNamed decodes the named param into dst, a non-nil pointer.
	DecodeNamed(name string, dst any) error
}

// Value is one encoded value, decoded once its Go type is known.
type Value interface {
	// Decode decodes the value into dst, a non-nil pointer. What it stores
	// in dst must not refer to the message's bytes: the client reuses the
	// message's buffer once Decode returns.
	Decode(dst any) error
}

// Error is an error as a message carries it: the error of a response or a
// reply, or why a codec could not read a request. Package rpc turns it into
// an *rpc.Error with the same code, message and data; applications never
// see this type.
type Error struct {
	// Code is one of the codes below or an application's.
	Code    int
	Message string
	// Data is optional detail. In a Response it is any value the codec can
	// encode; in a Reply it is the decoded value in natural Go types (nil,
	// bool, int64, uint64, float64, string, []byte, time.Time, []any,
	// map[string]any).
	Data any
}

// Error implements error.
func (e *Error) Error() string {
	return e.Message + " (code " + strconv.Itoa(e.Code) + ")"
}

// The reserved codes, as rpc.Code defines them. A codec produces the first
// three when it cannot read a request, and CodeLimitExceeded for a message
// over one of its limits.
const (
	CodeParseError      = -32700 // the message is not well formed
	CodeInvalidRequest  = -32600 // well formed, but not a valid request
	CodeMethodNotFound  = -32601
	CodeInvalidParams   = -32602 // a param of the wrong type or shape
	CodeInternal        = -32603
	CodeApplication     = -32500 // a handler's plain error
	CodeServerError     = -32000 // a condition without a more precise code
	CodeDeadline        = -32001
	CodeCanceled        = -32002
	CodeUnauthenticated = -32003
	CodeLimitExceeded   = -32004 // a size, count or depth limit was hit
)

// inlineEntries is how many entries an Entries holds without an
// allocation: a call's trace context and deadline fit.
const inlineEntries = 4

// Entries is metadata as a list of keys and values, held without a map:
// a request's as a codec decoded it, in message order, or what a client's
// interceptors set. A key may stand more than once (a codec adds what a
// message carried); its last entry counts. The first few entries take no
// allocation of their own. The zero Entries is empty, and so is a nil
// *Entries to the methods that read. An Entries is used by one goroutine
// at a time; its copies share the entries beyond the first few, so that
// only one of them may be changed.
type Entries struct {
	n      int
	inline [inlineEntries]entry
	more   []entry
	valid  bool // Validate found them valid, and none changed since
}

type entry struct{ key, value string }

// Len returns the number of entries.
func (e *Entries) Len() int {
	if e == nil {
		return 0
	}
	return e.n
}

// At returns entry i, from 0 to Len()-1, in the order they were added.
func (e *Entries) At(i int) (key, value string) {
	var p *entry
	if i < inlineEntries {
		p = &e.inline[i]
	} else {
		p = &e.more[i-inlineEntries]
	}
	return p.key, p.value
}

// Add adds an entry, without looking for the key among those there.
func (e *Entries) Add(key, value string) {
	e.valid = false
	if e.n < inlineEntries {
		e.inline[e.n] = entry{key, value}
	} else {
		e.more = append(e.more, entry{key, value})
	}
	e.n++
}

// Set sets the value of key: its last entry's if it has one, else a new
// entry's.
func (e *Entries) Set(key, value string) {
	if i := e.index(key); i >= 0 {
		e.valid = false
		if i < inlineEntries {
			e.inline[i].value = value
		} else {
			e.more[i-inlineEntries].value = value
		}
		return
	}
	e.Add(key, value)
}

// Get returns the value of key's last entry, and whether it has one.
func (e *Entries) Get(key string) (string, bool) {
	if e == nil {
		return "", false
	}
	if i := e.index(key); i >= 0 {
		_, v := e.At(i)
		return v, true
	}
	return "", false
}

// index returns the position of key's last entry, or -1.
func (e *Entries) index(key string) int {
	for i := e.n - 1; i >= inlineEntries; i-- {
		if e.more[i-inlineEntries].key == key {
			return i
		}
	}
	for i := min(e.n, inlineEntries) - 1; i >= 0; i-- {
		if e.inline[i].key == key {
			return i
		}
	}
	return -1
}

// Validate reports the first entry that is not a valid key and value
// (metadata.ValidKey, metadata.ValidValue), or that there are more than
// metadata.MaxEntries entries, as metadata.MD.Validate does.
func (e *Entries) Validate() error {
	if e == nil || e.valid {
		return nil
	}
	if e.n > metadata.MaxEntries {
		return fmt.Errorf("metadata: %d entries, more than %d", e.n, metadata.MaxEntries)
	}
	for i := range e.n {
		k, v := e.At(i)
		if err := metadata.ValidKey(k); err != nil {
			return err
		}
		if err := metadata.ValidValue(v); err != nil {
			return fmt.Errorf("metadata %s: %w", k, err)
		}
	}
	e.valid = true
	return nil
}

// MD returns the entries as new metadata, the last entry of a key
// counting; nil when there are none.
func (e *Entries) MD() metadata.MD {
	if e.Len() == 0 {
		return nil
	}
	md := make(metadata.MD, e.n)
	for i := range e.n {
		k, v := e.At(i)
		md[k] = v
	}
	return md
}
