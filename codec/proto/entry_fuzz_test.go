package proto

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// FuzzEntry checks that entry reads a map entry as entryKey and entryValue
// do, on any bytes.
func FuzzEntry(f *testing.F) {
	var b []byte
	b = protowire.AppendTag(b, fEntryKey, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("name"))
	b = protowire.AppendTag(b, fEntryValue, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{0x08, 0x01})
	f.Add(b)
	f.Add(append(append([]byte{}, b...), b...)) // repeated: the last key, merged values
	f.Add([]byte{0x12, 0x02, 0x08})             // truncated
	f.Fuzz(func(t *testing.T, b []byte) {
		key, val := entry(b)
		wantKey, wantVal := entryKey(b), entryValue(b)
		if !bytes.Equal(key, wantKey) {
			t.Fatalf("key %q, entryKey %q", key, wantKey)
		}
		if !bytes.Equal(val.b, wantVal.b) || !bytes.Equal(val.tail, wantVal.tail) || val.num != wantVal.num || len(val.more) != len(wantVal.more) {
			t.Fatalf("value %+v, entryValue %+v", val, wantVal)
		}
	})
}
