package netutil

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseHeader: parseHeader never panics nor reads past b; a header it
// takes is taken the same with any bytes after it and is incomplete when
// cut short; it asks for more only while b is short of the largest header
// and begins like one; the addresses it returns come in pairs, unmapped
// and without zones.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n",
		"PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\nGET /",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN x y\r\n",
		"PROXY TCP4 1.2.3.4\n",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x07\xc0\x00\x02\x01\xdc\x04\x01\xbb",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x24" + string(make([]byte, 36)),
		"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff",
		"GET / HTTP/1.1\r\n",
		"\x00\x00\x00\x05hello",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = b[:len(b):len(b)] // no room to read past
		h, n, err := parseHeader(b)
		switch {
		case errors.Is(err, errIncomplete):
			if len(b) >= v2Max {
				t.Fatalf("incomplete with %d bytes", len(b))
			}
			if len(b) > 0 && !hasSigPrefix(b, v1Sig) && !hasSigPrefix(b, v2Sig) {
				t.Fatalf("incomplete without a signature: %q", b)
			}
		case err != nil:
			if !errors.Is(err, errMalformed) && !errors.Is(err, errOversized) {
				t.Fatalf("error %v", err)
			}
			if n != 0 || h != (header{}) {
				t.Fatalf("error %v with %d bytes and %v", err, n, h)
			}
		case n == 0:
			if hasSigPrefix(b, v1Sig) || hasSigPrefix(b, v2Sig) {
				t.Fatalf("no header in %q", b)
			}
		default:
			if n > len(b) {
				t.Fatalf("header of %d bytes in %d", n, len(b))
			}
			if h.src.IsValid() != h.dst.IsValid() {
				t.Fatalf("addresses %v", h)
			}
			if h.src.IsValid() && (h.src.Addr().Is4In6() || h.src.Addr().Zone() != "") {
				t.Fatalf("source %v", h.src)
			}
			h2, n2, err2 := parseHeader(append(bytes.Clone(b[:n]), "more"...))
			if err2 != nil || n2 != n || h2 != h {
				t.Fatalf("with bytes after: %v, %d, %v; want %v, %d", h2, n2, err2, h, n)
			}
			for k := range n {
				if _, _, err := parseHeader(b[:k]); !errors.Is(err, errIncomplete) {
					t.Fatalf("cut at %d of %d: %v", k, n, err)
				}
			}
		}
	})
}
