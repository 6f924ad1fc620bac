package xml_test

import (
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// TestNaturalValuesPerByte: XML-RPC spends at least 8 bytes on a value
// (<value/>), and its natural values take at most 6 bytes per byte of the
// message beyond the parse, whatever their shape, far under the 32 that the
// other codecs allow theirs. The densest shapes are measured here; were they
// to grow, XML would need the other codecs' budget.
func TestNaturalValuesPerByte(t *testing.T) {
	const size = 4 << 20
	for _, elem := range []string{
		"<value/>",
		"<value><nil/></value>",
		"<value><i4>1000</i4></value>",
		"<value><struct/></value>",
		"<value><array><data/></array></value>",
		"<value><struct><member><name/><value/></member></struct></value>",
		"<value><dateTime.iso8601>20240506T07:08:09</dateTime.iso8601></value>",
		"<value><base64>AAAA</base64></value>",
	} {
		n := size / len(elem)
		msg := call("<value><array><data>" + strings.Repeat(elem, n) + "</data></array></value>")
		var req wire.Request
		if err := codec.DecodeRequest(msg, &req); err != nil {
			t.Fatal(err)
		}
		var v any
		var err error
		alloc := allocated(func() { err = req.Params.DecodeAt(0, &v) })
		if err != nil {
			t.Fatal(err)
		}
		if got := len(v.([]any)); got != n || got > len(msg)/8 {
			t.Errorf("%s: %d values for %d bytes", elem, got, len(msg))
		}
		ratio := float64(alloc) / float64(len(msg))
		t.Logf("%s: %.2f bytes a byte", elem, ratio)
		if ratio > 6 {
			t.Errorf("%s: natural values take %.2f bytes a byte of message, want at most 6", elem, ratio)
		}
	}
}
