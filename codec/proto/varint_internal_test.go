package proto

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestVarints checks validVarints and countVarints, which read eight bytes at
// a time, against protowire.ConsumeVarint on random runs of varint bytes.
func TestVarints(t *testing.T) {
	ref := func(p []byte) (bool, int) {
		n := 0
		for len(p) > 0 {
			_, m := protowire.ConsumeVarint(p)
			if m < 0 {
				return false, 0
			}
			p = p[m:]
			n++
		}
		return true, n
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		p := make([]byte, r.IntN(40))
		for j := range p {
			switch r.IntN(4) {
			case 0:
				p[j] = byte(r.IntN(256))
			case 1:
				p[j] = 0x80 | byte(r.IntN(128))
			case 2:
				p[j] = byte(r.IntN(3))
			default:
				p[j] = 0xff
			}
		}
		ok, n := ref(p)
		if (validVarints(p) == nil) != ok {
			t.Fatalf("% x: valid %v, want %v", p, validVarints(p) == nil, ok)
		}
		if ok && countVarints(p) != n {
			t.Fatalf("% x: count %d, want %d", p, countVarints(p), n)
		}
	}
}
