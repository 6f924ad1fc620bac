package xml_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// allocated returns the bytes that f allocates on the heap. Tests that use
// it do not run in parallel, so that the figure is f's alone.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func decodeCode(t *testing.T, c *xml.Codec, msg []byte) int {
	t.Helper()
	var req wire.Request
	err := c.DecodeRequest(msg, &req)
	var e *wire.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want an *wire.Error", err)
	}
	return e.Code
}

// TestHostileNesting: 100,000 nested arrays fail with a limit error, and
// the parser does not recurse: even with no depth limit, it parses them
// within a goroutine stack far smaller than recursion would need.
func TestHostileNesting(t *testing.T) {
	const depth = 100_000
	open := strings.Repeat("<value><array><data>", depth)
	msg := call(open + strings.Repeat("</data></array></value>", depth))

	if code := decodeCode(t, codec, msg); code != wire.CodeLimitExceeded {
		t.Errorf("code %d, want %d", code, wire.CodeLimitExceeded)
	}
	if n := allocated(func() { decodeCode(t, codec, msg) }); n > 64<<10 {
		t.Errorf("refusing allocated %d bytes", n)
	}

	// With the limit lifted, a truncated document fails at its end. One
	// stack frame per level would need megabytes; a stack over the limit
	// set here crashes the test binary, which is the point.
	old := debug.SetMaxStack(1 << 20)
	defer debug.SetMaxStack(old)
	unlimited := xml.New(xml.WithMaxDepth(1 << 30))
	if code := decodeCode(t, unlimited, call(open)); code != wire.CodeParseError {
		t.Errorf("truncated: code %d, want %d", code, wire.CodeParseError)
	}
	var req wire.Request
	if err := unlimited.DecodeRequest(msg, &req); err != nil {
		t.Errorf("unlimited depth: %v", err)
	}
}

// TestHostileEntities: the billion laughs and external entities are
// refused at the DOCTYPE, before anything is expanded or fetched.
func TestHostileEntities(t *testing.T) {
	laughs := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>&lol9;</methodName></methodCall>`
	external := `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>&xxe;</methodName></methodCall>`
	for name, msg := range map[string]string{"billion laughs": laughs, "external entity": external} {
		t.Run(name, func(t *testing.T) {
			if code := decodeCode(t, codec, []byte(msg)); code != wire.CodeParseError {
				t.Errorf("code %d, want %d", code, wire.CodeParseError)
			}
			if n := allocated(func() { decodeCode(t, codec, []byte(msg)) }); n > 16<<10 {
				t.Errorf("refusing allocated %d bytes", n)
			}
			// Entity references without a DOCTYPE are undefined, not expanded.
			if code := decodeCode(t, codec, call("<value>&lol9;</value>")); code != wire.CodeParseError {
				t.Errorf("undeclared entity: code %d", code)
			}
		})
	}
}

// TestHostileBase64: 10 MB of base64 (line-broken, as Python sends it)
// decode with allocation close to the decoded size, and a truncated one
// allocates nearly nothing.
func TestHostileBase64(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16*3/4)
	enc := base64.StdEncoding.EncodeToString(data)
	var lines strings.Builder
	for len(enc) > 76 {
		lines.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	lines.WriteString(enc)
	msg := call("<value><base64>" + lines.String() + "</base64></value>")

	var got []byte
	n := allocated(func() {
		var req wire.Request
		if err := codec.DecodeRequest(msg, &req); err != nil {
			t.Fatal(err)
		}
		if err := req.Params.DecodeAt(0, &got); err != nil {
			t.Fatal(err)
		}
	})
	if !bytes.Equal(got, data) {
		t.Fatal("base64 decoded wrongly")
	}
	if limit := uint64(len(data)) + 64<<10; n > limit {
		t.Errorf("decoding %d bytes of base64 into %d allocated %d bytes, want at most %d", len(msg), len(data), n, limit)
	}

	truncated := msg[:len(msg)/2]
	if n := allocated(func() { decodeCode(t, codec, truncated) }); n > 64<<10 {
		t.Errorf("a truncated message of %d bytes allocated %d bytes", len(truncated), n)
	}
	allocs := testing.AllocsPerRun(5, func() {
		var req wire.Request
		_ = codec.DecodeRequest(msg, &req)
		_ = req.Params.DecodeAt(0, &got)
	})
	if allocs > 5 {
		t.Errorf("%v allocations per decode, want a handful", allocs)
	}
}

// TestHostileManyValues: memory stays a small multiple of the message even
// for the densest values, one node per '<'.
func TestHostileManyValues(t *testing.T) {
	msg := call("<value><array><data>" + strings.Repeat("<value/>", 1<<20) + "</data></array></value>")
	n := allocated(func() {
		var req wire.Request
		if err := codec.DecodeRequest(msg, &req); err != nil {
			t.Fatal(err)
		}
	})
	if limit := uint64(4 * len(msg)); n > limit {
		t.Errorf("parsing %d bytes allocated %d, want at most %d", len(msg), n, limit)
	}
}
