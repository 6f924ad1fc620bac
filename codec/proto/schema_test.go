package proto_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
	pb "google.golang.org/protobuf/proto"
)

func TestRegistered(t *testing.T) {
	t.Parallel()
	c, ok := rpc.LookupCodec("proto")
	if !ok || c.Name() != "proto" {
		t.Fatalf("codec proto not registered: %v", c)
	}
	mt, ok := c.(wire.MediaTyper)
	if !ok || !slices.Equal(mt.MediaTypes(), []string{"application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf"}) {
		t.Errorf("media types %v", mt)
	}
}

// TestSniff checks that the first byte of a request tells the codec apart
// from JSON, XML and msgpack, whose messages may start with whitespace, a
// byte order mark, '{', '[', '<' or a msgpack array.
func TestSniff(t *testing.T) {
	t.Parallel()
	c := proto.New()
	for b := range 256 {
		want := b == 0x08 || b == 0x12
		if got := c.Sniff(byte(b)); got != want {
			t.Errorf("Sniff(%#x) = %v", b, got)
		}
	}
	for _, b := range []byte{'{', '[', '<', ' ', '\t', '\n', '\r', 0xef, 0x90, 0x9f, 0xdc, 0xdd} {
		if c.Sniff(b) {
			t.Errorf("Sniff(%q) is true", b)
		}
	}
}

// TestSchema reads the fixture with a Value of every kind with the types
// generated from polyrpc.proto: the codec's field numbers are the schema's.
func TestSchema(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "call_every_kind.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var req polyrpcpb.Request
	if err := pb.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.Id != 10 || req.Method != "list" || req.Named != nil || req.Notification {
		t.Errorf("request %v", &req)
	}
	p := req.Params
	if len(p) != 21 {
		t.Fatalf("%d params", len(p))
	}
	when := p[12].GetTimeValue() // 2001-02-03T04:05:06.000000789-03:30
	var th testpb.Thing
	checks := []bool{
		p[0].GetKind().(*polyrpcpb.Value_NullValue).NullValue == polyrpcpb.Null_NULL_VALUE,
		p[1].GetBoolValue(),
		!p[2].GetBoolValue() && p[2].GetKind() != nil,
		p[3].GetIntValue() == 0 && p[3].GetKind() != nil,
		p[4].GetIntValue() == -1,
		p[5].GetUintValue() == 255,
		p[6].GetDoubleValue() == 0.5,
		math.IsInf(p[7].GetDoubleValue(), -1),
		p[8].GetStringValue() == "" && p[8].GetKind() != nil,
		p[9].GetStringValue() == "é😀",
		p[10].GetBytesValue() != nil && len(p[10].GetBytesValue()) == 0,
		string(p[11].GetBytesValue()) == "\x00\xff",
		when.GetSeconds() == 981185706 && when.GetNanos() == 789 && when.GetOffset() == -12600,
		p[13].GetListValue() != nil && len(p[13].GetListValue().Values) == 0,
		len(p[14].GetListValue().GetValues()) == 3 && p[14].GetListValue().Values[1].GetStringValue() == "x",
		p[15].GetMapValue() != nil && len(p[15].GetMapValue().Fields) == 0,
		p[16].GetMapValue().GetFields()["b"].GetIntValue() == 1 && p[16].GetMapValue().GetFields()["a"].GetIntList() != nil,
		slices.Equal(p[17].GetIntList().GetValues(), []int64{1, -1, math.MaxInt64}),
		slices.Equal(p[18].GetDoubleList().GetValues(), []float64{0.25, -2}),
		pb.Unmarshal(p[19].GetMessageValue(), &th) == nil && th.Name == "thing" && th.Labels["b"] == "2",
		p[20].GetMapValue().GetFields()["x"].GetIntValue() == 1 && p[20].GetMapValue().GetFields()["label"] == nil,
	}
	for i, ok := range checks {
		if !ok {
			t.Errorf("param %d is %v", i, p[i])
		}
	}
}
