package proto

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of polyrpc.proto. schema_test.go checks them against the
// generated descriptors.
const (
	fRequestID           protowire.Number = 1
	fRequestMethod       protowire.Number = 2
	fRequestParams       protowire.Number = 3
	fRequestNamed        protowire.Number = 4
	fRequestNotification protowire.Number = 5
	fRequestMeta         protowire.Number = 6

	fResponseID     protowire.Number = 1
	fResponseResult protowire.Number = 2
	fResponseError  protowire.Number = 3
	fResponseMeta   protowire.Number = 4

	fErrorCode    protowire.Number = 1
	fErrorMessage protowire.Number = 2
	fErrorData    protowire.Number = 3
	fErrorDetails protowire.Number = 4

	fAnyTypeURL protowire.Number = 1
	fAnyValue   protowire.Number = 2

	// The members of Value's oneof, in order; they double as the kinds of
	// value the codec reads.
	fNull       protowire.Number = 1
	fBool       protowire.Number = 2
	fInt        protowire.Number = 3
	fUint       protowire.Number = 4
	fDouble     protowire.Number = 5
	fString     protowire.Number = 6
	fBytes      protowire.Number = 7
	fTime       protowire.Number = 8
	fList       protowire.Number = 9
	fMap        protowire.Number = 10
	fMessage    protowire.Number = 11
	fIntList    protowire.Number = 12
	fDoubleList protowire.Number = 13

	fTimeSeconds protowire.Number = 1
	fTimeNanos   protowire.Number = 2
	fTimeOffset  protowire.Number = 3

	fListValues   protowire.Number = 1 // List.values
	fMapFields    protowire.Number = 1 // Map.fields, a map of entries
	fEntryKey     protowire.Number = 1 // map entry key
	fEntryValue   protowire.Number = 2 // map entry value
	fPackedValues protowire.Number = 1 // Int64List.values and DoubleList.values
)

// The first bytes of an encoded Request (see Sniff).
const (
	tagRequestID     = byte(fRequestID<<3) | byte(protowire.VarintType)
	tagRequestMethod = byte(fRequestMethod<<3) | byte(protowire.BytesType)
)

// valueWire is the wire type of each member of Value's oneof. A known field
// number with another wire type is an unknown field, as in protobuf-go.
var valueWire = [...]protowire.Type{
	fNull:       protowire.VarintType,
	fBool:       protowire.VarintType,
	fInt:        protowire.VarintType,
	fUint:       protowire.VarintType,
	fDouble:     protowire.Fixed64Type,
	fString:     protowire.BytesType,
	fBytes:      protowire.BytesType,
	fTime:       protowire.BytesType,
	fList:       protowire.BytesType,
	fMap:        protowire.BytesType,
	fMessage:    protowire.BytesType,
	fIntList:    protowire.BytesType,
	fDoubleList: protowire.BytesType,
}

// field is one field of a message as readField reads it.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // the value of a varint, fixed32 or fixed64 field
	raw []byte // the value's bytes: a varint's own encoding, a payload
}

var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// readField reads the field at the start of b into f and returns its length,
// or a negative protowire error code. It accepts exactly the fields that
// protobuf-go accepts in a message: field numbers 1 to 2^29-1, wire types 0
// to 5, groups properly closed. A group is read whole, its contents unread.
func readField(b []byte, f *field) int {
	if len(b) >= 2 && b[0] < 0x80 && b[1] < 0x80 && b[0] >= 8 {
		// The common case, decoded in line: a one-byte tag and a one-byte
		// varint or length.
		num, typ := protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
		switch typ {
		case protowire.VarintType:
			f.u, f.raw, f.num, f.typ = uint64(b[1]), b[1:2:2], num, typ
			return 2
		case protowire.BytesType:
			if l := int(b[1]); l <= len(b)-2 {
				f.raw, f.num, f.typ = b[2:2+l:2+l], num, typ
				return 2 + l
			}
		}
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return n
	}
	if num > protowire.MaxValidNumber {
		return -2 // protowire's code for an invalid field number
	}
	rest := b[n:]
	var m int
	switch typ {
	case protowire.VarintType:
		f.u, m = protowire.ConsumeVarint(rest)
		if m >= 0 {
			f.raw = rest[:m:m]
		}
	case protowire.Fixed64Type:
		f.u, m = protowire.ConsumeFixed64(rest)
		f.raw = nil
	case protowire.Fixed32Type:
		var v uint32
		v, m = protowire.ConsumeFixed32(rest)
		f.u, f.raw = uint64(v), nil
	case protowire.BytesType:
		f.raw, m = protowire.ConsumeBytes(rest)
	default: // a group, or an invalid wire type that this reports
		m = protowire.ConsumeFieldValue(num, typ, rest)
	}
	if m < 0 {
		return m
	}
	f.num, f.typ = num, typ
	return n + m
}

// wireError turns a protowire error code into an error.
func wireError(n int) error {
	return protowire.ParseError(n)
}

// wireMsg is an encoded protobuf message as the codec reads it: the payload
// of one field or, since protobuf merges the occurrences of a singular
// message field as if they were concatenated, the payloads of several.
// Every wireMsg the codec reads has been validated first.
//
// The parts are b, then those in more, then the payloads of the
// length-delimited fields numbered num in tail: a field given many times in
// one encoded message is found again there rather than listed, so that a
// hostile run of them costs no memory.
type wireMsg struct {
	b    []byte   // the first part; nil when there is none
	more [][]byte // further parts, in order; nil in the usual case
	tail []byte
	num  protowire.Number // 0 when tail holds no parts
}

// plain reports whether m is in one part, b.
func (m *wireMsg) plain() bool { return m.more == nil && m.num == 0 }

// present reports whether m has a part.
func (m *wireMsg) present() bool { return m.b != nil }

// occurrence returns the merged message of the field numbered num whose
// first occurrence is b, followed in its message by rest: b alone, unless
// rest holds more occurrences.
func occurrence(b, rest []byte, num protowire.Number) wireMsg {
	var f field
	for len(rest) > 0 {
		n := readField(rest, &f)
		if n < 0 {
			break
		}
		if f.num == num && f.typ == protowire.BytesType {
			return wireMsg{b: b, tail: rest, num: num}
		}
		rest = rest[n:]
	}
	return wireMsg{b: b}
}

// sub returns the merged message of m's singular message field num.
func (m *wireMsg) sub(num protowire.Number) wireMsg {
	it := m.fields()
	var f field
	for it.next(&f) {
		if f.num != num || f.typ != protowire.BytesType {
			continue
		}
		if it.plain() {
			return occurrence(f.raw, it.b, num)
		}
		// m itself is in parts, which is rare: list the rest, counted first.
		out := wireMsg{b: f.raw}
		if n := countFields(it, num); n > 0 {
			out.more = make([][]byte, 0, n)
			for it.next(&f) {
				if f.num == num && f.typ == protowire.BytesType {
					out.more = append(out.more, f.raw)
				}
			}
		}
		return out
	}
	return wireMsg{}
}

// countFields counts the length-delimited fields numbered num that it has
// yet to read.
func countFields(it fields, num protowire.Number) int {
	n := 0
	var f field
	for it.next(&f) {
		if f.num == num && f.typ == protowire.BytesType {
			n++
		}
	}
	return n
}

// fields iterates over the fields of a wireMsg, part after part. It holds
// the parts themselves rather than a pointer to the wireMsg, so that the
// wireMsg can stay on its caller's stack.
type fields struct {
	b    []byte
	more [][]byte
	tail []byte
	num  protowire.Number
}

func (m *wireMsg) fields() fields { return fields{b: m.b, more: m.more, tail: m.tail, num: m.num} }

// plain reports whether the fields still to come are all in it.b.
func (it *fields) plain() bool { return len(it.more) == 0 && it.num == 0 }

// next reads the next field into f.
func (it *fields) next(f *field) bool {
	for len(it.b) == 0 {
		switch {
		case len(it.more) > 0:
			it.b, it.more = it.more[0], it.more[1:]
		case it.num != 0 && len(it.tail) > 0:
			n := readField(it.tail, f)
			if n < 0 { // validated messages do not get here
				it.tail = nil
				return false
			}
			it.tail = it.tail[n:]
			if f.num == it.num && f.typ == protowire.BytesType {
				it.b = f.raw
			}
		default:
			return false
		}
	}
	n := readField(it.b, f)
	if n < 0 { // validated messages do not get here
		*it = fields{}
		return false
	}
	it.b = it.b[n:]
	return true
}

// kind is what a Value holds: the member of its oneof set last.
type kind struct {
	num protowire.Number // fNull ... fDoubleList, or 0 when none is set (null)
	u   uint64           // the value of a varint or fixed64 member
	// m is the merged message of a time, list, map or packed list; its
	// first part alone holds the bytes of a string, bytes or message_value
	// (see bytes).
	m wireMsg
}

// bytes returns the bytes of a string, bytes or message_value.
func (k *kind) bytes() []byte { return k.m.b }

// kindOf returns what the Value m holds. As protobuf-go does, it lets the
// last member of the oneof win, and merges consecutive occurrences of the
// same message member (unknown fields between them do not count).
func kindOf(m *wireMsg) kind {
	var k kind
	var f field
	if m.plain() && len(m.b) > 0 {
		// The usual Value, as every encoder writes it: one field, a member
		// of the oneof, whose message is all in this one occurrence.
		if n := readField(m.b, &f); n == len(m.b) && f.num >= 1 && int(f.num) < len(valueWire) && f.typ == valueWire[f.num] {
			return kind{num: f.num, u: f.u, m: wireMsg{b: f.raw}}
		}
	}
	it := m.fields()
	for it.next(&f) {
		if f.num < 1 || int(f.num) >= len(valueWire) || f.typ != valueWire[f.num] {
			continue // unknown
		}
		switch f.num {
		case fTime, fList, fMap, fIntList, fDoubleList:
			switch {
			case k.num != f.num:
				k = kind{num: f.num, m: wireMsg{b: f.raw}}
				if it.plain() {
					// Any later occurrence is in the rest of it.b, and
					// part of this one's merge unless another member
					// comes first, which sets k anew.
					k.m.tail, k.m.num = it.b, f.num
				}
			case k.m.num != 0:
				// A merge, found through k.m.tail.
			default:
				// A merge in a Value that is itself in parts, which is
				// rare: count the parts first, so that a hostile run of
				// them costs one slice header each.
				if k.m.more == nil {
					k.m.more = make([][]byte, 0, mergedParts(it, f.num))
				}
				k.m.more = append(k.m.more, f.raw)
			}
		default:
			k = kind{num: f.num, u: f.u, m: wireMsg{b: f.raw}}
		}
	}
	return k
}

// mergedParts counts the occurrences of the message member num that it
// holds before another member of the oneof, which are merged with the
// occurrence just read.
func mergedParts(it fields, num protowire.Number) int {
	n := 1
	var f field
	for it.next(&f) {
		if f.num < 1 || int(f.num) >= len(valueWire) || f.typ != valueWire[f.num] {
			continue
		}
		if f.num != num {
			break
		}
		n++
	}
	return n
}

// kindOfPayload is kindOf for the payload of one Value field.
func kindOfPayload(b []byte) kind {
	m := wireMsg{b: b}
	return kindOf(&m)
}

// validator checks encoded messages against the schema, as strictly as
// protobuf-go's Unmarshal, and bounds the nesting of Values.
type validator struct {
	maxDepth int
}

// value validates the Value b at nesting level depth (1 for a param).
func (v validator) value(b []byte, depth int) error {
	if depth > v.maxDepth {
		return &wire.DepthError{Codec: "proto", Max: v.maxDepth}
	}
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if int(f.num) >= len(valueWire) || f.typ != valueWire[f.num] {
			continue
		}
		var err error
		switch f.num {
		case fString:
			if !utf8.Valid(f.raw) {
				err = errInvalidUTF8
			}
		case fTime:
			err = v.plain(f.raw)
		case fList:
			err = v.list(f.raw, depth)
		case fMap:
			err = v.mapOf(f.raw, depth)
		case fIntList:
			err = v.packedVarints(f.raw)
		case fDoubleList:
			err = v.packedDoubles(f.raw)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// plain validates a message whose fields are all scalars: a Time.
func (v validator) plain(b []byte) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
	}
	return nil
}

// list validates a List whose elements are at level depth+1.
func (v validator) list(b []byte, depth int) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.num == fListValues && f.typ == protowire.BytesType {
			if err := v.value(f.raw, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// mapOf validates a Map whose values are at level depth+1.
func (v validator) mapOf(b []byte, depth int) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.num == fMapFields && f.typ == protowire.BytesType {
			if err := v.entry(f.raw, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry validates a map entry whose value is at level depth+1.
func (v validator) entry(b []byte, depth int) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fEntryKey:
			if !utf8.Valid(f.raw) {
				return errInvalidUTF8
			}
		case fEntryValue:
			if err := v.value(f.raw, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// packedVarints validates an Int64List.
func (v validator) packedVarints(b []byte) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.num == fPackedValues && f.typ == protowire.BytesType {
			if err := validVarints(f.raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// validVarints checks that p is a sequence of whole varints, as
// protowire.ConsumeVarint would read them one by one, in one pass over the
// bytes: a varint ends at a byte below 0x80, within ten bytes, the tenth
// being at most 1.
func validVarints(p []byte) error {
	run := 0 // bytes of the current varint so far
	// Eight bytes at a time while each word ends a varint: only a word of
	// continuation bytes (a varint of nine bytes or more) needs a closer look.
	for len(p) >= 8 {
		w := binary.LittleEndian.Uint64(p)
		ends := ^w & highBits // the high bit of each byte that ends a varint
		if ends == 0 {
			break
		}
		first := bits.TrailingZeros64(ends) / 8
		if run+first > 9 || run+first == 9 && p[first] > 1 {
			return wireError(-3) // protowire's overflow code
		}
		run = bits.LeadingZeros64(ends) / 8
		p = p[8:]
	}
	for _, c := range p {
		if run == 9 && c > 1 {
			return wireError(-3) // protowire's overflow code
		}
		if c < 0x80 {
			run = 0
		} else {
			run++
		}
	}
	if run != 0 {
		return wireError(-1) // a truncated last varint
	}
	return nil
}

// highBits selects the high bit of each byte of a word.
const highBits = 0x8080808080808080

// countVarints returns the number of whole varints in the valid packed
// sequence p: the number of its bytes below 0x80.
func countVarints(p []byte) int {
	n := 0
	for ; len(p) >= 8; p = p[8:] {
		n += bits.OnesCount64(^binary.LittleEndian.Uint64(p) & highBits)
	}
	for _, c := range p {
		if c < 0x80 {
			n++
		}
	}
	return n
}

// packedDoubles validates a DoubleList.
func (v validator) packedDoubles(b []byte) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.num == fPackedValues && f.typ == protowire.BytesType && len(f.raw)%8 != 0 {
			return wireError(-1)
		}
	}
	return nil
}

// errorMsg validates an Error.
func (v validator) errorMsg(b []byte) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.typ != protowire.BytesType {
			continue
		}
		var err error
		switch f.num {
		case fErrorMessage:
			if !utf8.Valid(f.raw) {
				err = errInvalidUTF8
			}
		case fErrorData:
			err = v.value(f.raw, 1)
		case fErrorDetails:
			err = v.anyMsg(f.raw)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// anyMsg validates a google.protobuf.Any; its value stays opaque.
func (v validator) anyMsg(b []byte) error {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if f.num == fAnyTypeURL && f.typ == protowire.BytesType && !utf8.Valid(f.raw) {
			return errInvalidUTF8
		}
	}
	return nil
}
