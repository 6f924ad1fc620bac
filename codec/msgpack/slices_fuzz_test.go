package msgpack_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// int64s is []int64 under another name, which the codec decodes and
// encodes by reflection rather than by its []int64 path.
type int64s []int64

// FuzzInt64s decodes any value into []int64 and into int64s, and encodes
// both back: the two paths must agree on values, errors and bytes.
func FuzzInt64s(f *testing.F) {
	for _, s := range [][]byte{
		{0x93, 0x01, 0xff, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, // [1, -1, min int64]
		{0x92, 0xc0, 0x05}, // [nil, 5]
		{0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // [max uint64]
		{0x90}, {0xc0}, {0xa1, 'x'}, {0x91, 0xa1, 'x'}, {0x91, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0},
		{0xdc, 0x00, 0x02, 0x7f, 0xe0},
	} {
		f.Add(s)
	}
	c := msgpack.New()
	f.Fuzz(func(t *testing.T, v []byte) {
		var r wire.Reply
		if err := c.DecodeReply(append([]byte{0x94, 0x01, 0x01, 0xc0}, v...), &r); err != nil || r.Result == nil {
			return
		}
		var fast []int64
		var slow int64s
		errFast, errSlow := r.Result.Decode(&fast), r.Result.Decode(&slow)
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("% x: []int64 %v, int64s %v", v, errFast, errSlow)
		}
		if errFast != nil {
			return
		}
		if a, b := fmt.Sprintf("%#v", fast), fmt.Sprintf("%#v", []int64(slow)); a != b {
			t.Fatalf("% x: []int64 %s, int64s %s", v, a, b)
		}
		ef, err1 := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Seq: 1}, Result: fast})
		es, err2 := c.AppendResponse(nil, &wire.Response{ID: wire.ID{Seq: 1}, Result: slow})
		if err1 != nil || err2 != nil || !bytes.Equal(ef, es) {
			t.Fatalf("%#v encodes as % x (%v), as int64s % x (%v)", fast, ef, err1, es, err2)
		}
	})
}
