package proto

import (
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// elems iterates over the elements of a list kind: a List of Values, or a
// packed Int64List or DoubleList, whose elements come out as int and double
// kinds.
type elems struct {
	list   protowire.Number // fList, fIntList or fDoubleList
	it     fields
	packed []byte // the rest of a packed run
}

func elemsOf(k *kind) elems {
	return elems{list: k.num, it: k.m.fields()}
}

// next reads the next element into e.
func (l *elems) next(e *kind) bool {
	for {
		if len(l.packed) > 0 {
			if l.list == fIntList {
				v, n := protowire.ConsumeVarint(l.packed)
				l.packed = l.packed[n:]
				*e = kind{num: fInt, u: v}
			} else {
				v, n := protowire.ConsumeFixed64(l.packed)
				l.packed = l.packed[n:]
				*e = kind{num: fDouble, u: v}
			}
			return true
		}
		var f field
		if !l.it.next(&f) {
			return false
		}
		if f.num != fListValues { // also fPackedValues
			continue
		}
		switch {
		case l.list == fList && f.typ == protowire.BytesType:
			*e = kindOfPayload(f.raw)
			return true
		case l.list == fIntList && f.typ == protowire.VarintType:
			*e = kind{num: fInt, u: f.u}
			return true
		case l.list == fDoubleList && f.typ == protowire.Fixed64Type:
			*e = kind{num: fDouble, u: f.u}
			return true
		case l.list != fList && f.typ == protowire.BytesType:
			l.packed = f.raw
		}
	}
}

// count returns the number of elements of a list kind.
func count(k *kind) int {
	n := 0
	it := k.m.fields()
	var f field
	for it.next(&f) {
		if f.num != fListValues {
			continue
		}
		switch {
		case k.num == fList && f.typ == protowire.BytesType:
			n++
		case k.num == fIntList && f.typ == protowire.VarintType:
			n++
		case k.num == fIntList && f.typ == protowire.BytesType:
			n += countVarints(f.raw)
		case k.num == fDoubleList && f.typ == protowire.Fixed64Type:
			n++
		case k.num == fDoubleList && f.typ == protowire.BytesType:
			n += len(f.raw) / 8
		}
	}
	return n
}

// entries iterates over the entries of a map kind.
type entries struct {
	it fields
}

func entriesOf(k *kind) entries { return entries{it: k.m.fields()} }

// next reads the next entry: its key, and its value merged as protobuf
// merges a map entry's repeated value field. Entries with the same key come
// out one by one; the last one is the map's.
func (e *entries) next(key *[]byte, val *wireMsg) bool {
	var f field
	for e.it.next(&f) {
		if f.num == fMapFields && f.typ == protowire.BytesType {
			*key, *val = entry(f.raw)
			return true
		}
	}
	return false
}

// Tags of a map entry's fields.
const (
	tagEntryKey   = byte(fEntryKey<<3) | byte(protowire.BytesType)
	tagEntryValue = byte(fEntryValue<<3) | byte(protowire.BytesType)
)

// entry returns the key and the value of the map entry b, as entryKey and
// entryValue do, in one pass over its fields.
func entry(b []byte) (key []byte, val wireMsg) {
	if key, v, ok := plainEntry(b); ok {
		return key, wireMsg{b: v}
	}
	var f field
	seen := false
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			break
		}
		b = b[n:]
		if f.typ != protowire.BytesType {
			continue
		}
		switch {
		case f.num == fEntryKey:
			key = f.raw
		case f.num == fEntryValue && !seen:
			// The occurrences after this one are merged into it from
			// the rest of b.
			val, seen = occurrence(f.raw, b, fEntryValue), true
		}
	}
	return key, val
}

// plainEntry reads the usual map entry, as every encoder writes it: a key
// field of fewer than 128 bytes, then one value field that ends the entry.
// ok is false for an entry laid out otherwise, which entry reads.
func plainEntry(b []byte) (key, val []byte, ok bool) {
	if len(b) < 4 || b[0] != tagEntryKey || b[1] >= 0x80 {
		return nil, nil, false
	}
	n := int(b[1])
	rest := b[2:]
	if n >= len(rest) || rest[n] != tagEntryValue {
		return nil, nil, false
	}
	v, m := protowire.ConsumeBytes(rest[n+1:])
	if m != len(rest)-n-1 {
		return nil, nil, false
	}
	return rest[:n:n], v, true
}

// entryKey returns the key of the map entry b: its last key field.
func entryKey(b []byte) []byte {
	var key []byte
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			break
		}
		b = b[n:]
		if f.num == fEntryKey && f.typ == protowire.BytesType {
			key = f.raw
		}
	}
	return key
}

// entryValue returns the value of the map entry b: its value fields merged.
func entryValue(b []byte) wireMsg {
	var f field
	for len(b) > 0 {
		n := readField(b, &f)
		if n < 0 {
			break
		}
		b = b[n:]
		if f.num == fEntryValue && f.typ == protowire.BytesType {
			return occurrence(f.raw, b, fEntryValue)
		}
	}
	return wireMsg{}
}

// maxMapHint caps the size hint of a map made for a map kind: entries may
// repeat a key, so their number says only how large the map may be.
const maxMapHint = 1024

// mapHint returns a size hint for the map of a map kind.
func mapHint(k *kind) int { return min(countEntries(k), maxMapHint) }

// countEntries returns the number of entries of a map kind, duplicates
// included.
func countEntries(k *kind) int {
	n := 0
	it := k.m.fields()
	var f field
	for it.next(&f) {
		if f.num == fMapFields && f.typ == protowire.BytesType {
			n++
		}
	}
	return n
}

// timeOf returns the time a Time message holds: in UTC when its offset is
// zero, else in a fixed zone with that offset.
func timeOf(m *wireMsg) time.Time {
	var sec int64
	var nsec, off int32
	it := m.fields()
	var f field
	for it.next(&f) {
		if f.typ != protowire.VarintType {
			continue
		}
		switch f.num {
		case fTimeSeconds:
			sec = protowire.DecodeZigZag(f.u)
		case fTimeNanos:
			nsec = int32(f.u)
		case fTimeOffset:
			off = int32(protowire.DecodeZigZag(f.u & math.MaxUint32))
		}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(off)))
}
