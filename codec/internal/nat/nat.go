// Package nat bounds the memory that the codecs spend on natural values:
// the nil, bool, int64, float64, string, []byte, time.Time, []any and
// map[string]any values a value decodes into when its destination is an
// interface (any, []any, map[string]any, or an interface somewhere in a
// param's type).
//
// Natural values cost far more than their encoding: a JSON array of a
// million 1s (2 MB) is a million 16-byte interfaces, and a JSON object
// {"":0} of 7 bytes is a Go map of more than 300. So that one message cannot
// make a server hold far more than its size, a Budget charges every value
// the memory it takes, and a decode that would take more than its codec's
// factor in bytes per byte of its message (Factor, or MsgpackFactor), or
// Floor bytes when that is more, fails with a *LimitError.
//
// The bound is per message. What a decode spends is not charged to the
// server's memory budget (rpc.WithMaxMemory, which counts the bytes of the
// messages in flight), so a server decoding many messages at once may hold
// up to the factor times all of them, or Floor for each.
package nat

import (
	"errors"
	"math/bits"
	"strconv"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

const (
	// Factor is how many bytes of natural values one byte of a JSON or
	// protobuf message may decode into. Plain data and documents of small
	// objects take less. In JSON, arrays of one-digit numbers take 8 bytes
	// a byte, of empty objects 21, of objects of two short members such as
	// {"x":1,"y":2} 25, and the OpenRPC document that rpc.discover returns
	// about 7 (JSON's decoder also charges a 16-byte slot for each value
	// until its array or object closes, which brings one-digit numbers to
	// 16 and the others to 27 at most). What takes more is made of values
	// far smaller than their Go form: JSON objects of one short member (44
	// bytes a byte), protobuf Maps of one empty entry (58). A decode of
	// those stops once it has taken Factor times its message, so that a
	// message cannot make a server hold more than Factor times its size in
	// natural values, or Floor when that is more.
	Factor = 32
	// MsgpackFactor is Factor for msgpack, the most compact of the
	// encodings: the point {"x":1,"y":2} is 7 bytes of msgpack and 13 of
	// JSON for the same Go map, so that arrays of such points take 50 bytes
	// of natural values a byte of msgpack (25 of JSON), and at 32 would be
	// refused beyond the 21 KB that Floor covers. At 64 they decode, as do
	// empty arrays (40 a byte). Arrays of empty maps, charged exactly 64 a
	// byte, are at the edge: the bytes of the message around the array
	// leave them room, so they decode. Maps of one entry (117 a byte with
	// an empty key and a nil value, 88 with one-byte keys and fixints)
	// stay refused once 64 times the message is spent.
	MsgpackFactor = 64
	// Floor is what a message may decode into whatever its size, so that
	// small messages, whatever their shape, are never refused.
	Floor = 1 << 20
)

// The bytes each natural value costs, as the Go runtime on a 64-bit platform
// allocates them. A value held in an []any also takes a 16-byte slot of the
// slice, which the slice's cost includes; a map's entries are in its cost.
const (
	// Slot is an interface: an element of an []any.
	Slot = 16
	// Boxed is an int64, uint64 or float64 held in an interface, beyond
	// the small integers that the runtime keeps preallocated.
	Boxed = 8
	// Header is a string header held in an interface.
	Header = 16
	// SliceHeader is a slice header held in an interface; a time.Time has
	// the same size.
	SliceHeader = 24
	// mapHeader is a map's own struct.
	mapHeader = 48
	// mapGroup is a group of eight slots of a map[string]any: a control
	// word and eight 32-byte slots, in its size class.
	mapGroup = 288
	// mapSlot is one slot of a larger map: 32 bytes and a control byte, in
	// arrays of groups that the allocator rounds up to its size classes or,
	// for a table of 1024 slots, to pages (40,960 bytes for 33,792).
	mapSlot = 40
	// mapTable is the table struct of a large map, and its pointer in the
	// map's directory; a table holds at most 1024 slots.
	mapTable = 56
)

// Int is the cost of an int64 in an interface.
func Int(x int64) int {
	if uint64(x) < 256 {
		return 0
	}
	return Boxed
}

// Uint is the cost of a uint64 or a float64's bits in an interface.
func Uint(x uint64) int {
	if x < 256 {
		return 0
	}
	return Boxed
}

// String is the cost of a string of n bytes in an interface: its header and
// its bytes. The empty string and those of one byte use static memory.
func String(n int) int {
	switch n {
	case 0:
		return 0
	case 1:
		return Header
	}
	return Header + n
}

// Key is the cost of a map key of n bytes: its bytes, for the map's slot
// holds its header.
func Key(n int) int {
	if n < 2 {
		return 0
	}
	return n
}

// Bytes is the cost of a []byte of n bytes in an interface.
func Bytes(n int) int { return SliceHeader + n }

// Array is the cost of an []any of n elements in an interface: its header
// and its slots. The elements' own costs are charged apart.
func Array(n int) int { return SliceHeader + Slot*n }

// Map is the cost of a map[string]any made for n entries, in an interface.
// Its keys' bytes and its values' own costs are charged apart.
func Map(n int) int {
	switch {
	case n == 0:
		return mapHeader
	case n <= 8:
		return mapHeader + mapGroup
	}
	// Room for n at a load of 7/8, in a power of two of slots.
	slots := 1 << bits.Len(uint(n+n/7))
	return mapHeader + mapSlot*slots + mapTable*(slots/1024+1)
}

// Budget is what one decode, or the decodes of one message's params, may
// still spend on natural values. The zero Budget has nothing to spend; New
// makes one for a message.
type Budget struct {
	left   int // bytes still allowed; negative once spent
	values int // values charged so far
	size   int // the message's size
}

// New returns the budget of a message of size bytes: factor bytes a byte
// (Factor, or MsgpackFactor for msgpack), and at least Floor.
func New(size, factor int) Budget {
	return Budget{left: max(Floor, factor*size), size: size}
}

// Init makes b the budget of a message of size bytes, with factor bytes a
// byte, unless it already is one: the params of a request share one
// budget, made when the first of them is decoded.
func (b *Budget) Init(size, factor int) {
	if b.size == 0 && b.values == 0 && b.left == 0 {
		*b = New(size, factor)
	}
}

// Take charges one value of the given cost and reports whether the budget
// still holds.
func (b *Budget) Take(cost int) bool {
	b.values++
	b.left -= cost
	return b.left >= 0
}

// Container charges an array or a map of n elements, made for them all
// before they are decoded, as one value of the given cost (its elements are
// charged as they are decoded) and reports whether the budget still holds.
// When it does not, the elements count in the error's figure.
func (b *Budget) Container(n, cost int) bool {
	b.values++
	b.left -= cost
	if b.left < 0 {
		b.values += n
		return false
	}
	return true
}

// TakeN charges n values (a container's elements, counted before they are
// decoded) of the given total cost and reports whether the budget still
// holds.
func (b *Budget) TakeN(n, cost int) bool {
	b.values += n
	b.left -= cost
	return b.left >= 0
}

// Err is the error of a spent budget, for codec ("json", "msgpack", ...).
func (b *Budget) Err(codec string) *LimitError {
	return &LimitError{Codec: codec, Values: b.values, Size: b.size}
}

// LimitError is a value whose natural Go values would take too much memory
// for the size of its message. A client gets it as it is; a server sends
// Reply.
type LimitError struct {
	Codec  string // the codec's name
	Values int    // the values decoded when the budget ran out
	Size   int    // the message's size in bytes
}

// Error says "<codec>: too many values for the message's size (N values in
// L bytes)".
func (e *LimitError) Error() string {
	return e.Codec + ": " + e.text()
}

func (e *LimitError) text() string {
	return "too many values for the message's size (" + strconv.Itoa(e.Values) + " values in " + strconv.Itoa(e.Size) + " bytes)"
}

// Reply returns the error a server sends for it, with CodeLimitExceeded.
func (e *LimitError) Reply() *wire.Error {
	return &wire.Error{Code: wire.CodeLimitExceeded, Message: "limit exceeded: " + e.text()}
}

// ParamError returns err, the error of a param that could not be decoded,
// as a server answers it: a *LimitError, even wrapped in the *wire.ValueError
// of a struct field or an element, as its Reply, with CodeLimitExceeded; any
// other error as it is.
func ParamError(err error) error {
	if err == nil {
		return nil
	}
	return paramError(err)
}

func paramError(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Reply()
	}
	return err
}
