package rpc_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// entriesCodec is fakeCodec with a request's metadata in
// wire.Request.Entries and a call's in wire.Call.Entries as well as in
// Meta, as the codecs with room for metadata have them. It notes the
// calls' Meta, which must be the client's context's alone.
type entriesCodec struct {
	fakeCodec
	mu    *sync.Mutex
	metas *[]metadata.MD
}

func newEntriesCodec() entriesCodec {
	return entriesCodec{mu: new(sync.Mutex), metas: new([]metadata.MD)}
}

func (entriesCodec) EncodesEntries() bool { return true }

func (c entriesCodec) DecodeRequest(msg []byte, req *wire.Request) error {
	if err := c.fakeCodec.DecodeRequest(msg, req); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(req.Meta)) {
		req.Entries.Add(k, req.Meta[k])
	}
	req.Meta = nil
	return nil
}

func (c entriesCodec) AppendCall(dst []byte, call *wire.Call) ([]byte, error) {
	c.mu.Lock()
	*c.metas = append(*c.metas, call.Meta)
	c.mu.Unlock()
	merged := maps.Clone(call.Meta)
	if call.Entries.Len() > 0 && merged == nil {
		merged = metadata.MD{}
	}
	for i := range call.Entries.Len() {
		k, v := call.Entries.At(i)
		merged[k] = v
	}
	plain := *call
	plain.Meta, plain.Entries = merged, nil
	return c.fakeCodec.AppendCall(dst, &plain)
}

// TestMetadataEntries: metadata that a client's interceptors set, over
// the context's or beside it, more of it than an Entries holds inline,
// reaches the handler through a codec that carries it as entries, in
// Metadata and MetadataValue alike; the codec gets the context's metadata
// as it was, and what the interceptors set as entries, inside the message.
func TestMetadataEntries(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	type seen struct {
		All   map[string]string
		Value string
		Over  string
	}
	if err := s.Register("meta.all", func(ctx context.Context, key string) (seen, error) {
		call, _ := rpc.CallFromContext(ctx)
		return seen{All: call.Metadata(), Value: call.MetadataValue(key), Over: call.MetadataValue("Tenant")}, nil
	}); err != nil {
		t.Fatal(err)
	}
	codec := newEntriesCodec()
	var clientSaw metadata.MD
	set := func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		call.SetMetadata("Traceparent", "00-abc-def-01")
		call.SetMetadata("tenant", "over")
		for i := range 5 {
			call.SetMetadata(fmt.Sprintf("x-%d", i), "first")
		}
		call.SetMetadata("x-4", "last") // beyond the inline entries
		call.SetMetadata("x-0", "last")
		if call.MetadataValue("x-4") != "last" || call.MetadataValue("tenant") != "over" {
			t.Errorf("the interceptor reads %q, %q", call.MetadataValue("x-4"), call.MetadataValue("tenant"))
		}
		clientSaw = call.Metadata()
		return next(ctx, call)
	}
	inproc, err := rpc.NewClient(rpc.InProcess(s), codec, rpc.WithInterceptors(set))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
		cs, ss := streamPair()
		go serveStream(s, ss, codec)
		return cs, nil
	}, codec, rpc.WithInterceptors(set))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inproc.Close(); stream.Close() })
	want := map[string]string{"tenant": "over", "region": "eu", "traceparent": "00-abc-def-01",
		"x-0": "last", "x-1": "first", "x-2": "first", "x-3": "first", "x-4": "last"}
	for name, c := range map[string]*rpc.Client{"beside": inproc, "inside": stream} {
		ctxMD := metadata.New("tenant", "acme", "region", "eu")
		ctx := metadata.NewOutgoingContext(context.Background(), ctxMD)
		var got seen
		if err := c.Call(ctx, "meta.all", &got, "x-4"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !maps.Equal(got.All, want) || got.Value != "last" || got.Over != "over" {
			t.Errorf("%s: the handler saw %+v, want %v", name, got, want)
		}
		if !maps.Equal(clientSaw, want) {
			t.Errorf("%s: the client's interceptor saw %v, want %v", name, clientSaw, want)
		}
		if !maps.Equal(ctxMD, metadata.New("tenant", "acme", "region", "eu")) {
			t.Errorf("%s: the context's metadata became %v", name, ctxMD)
		}
	}
	codec.mu.Lock()
	for _, md := range *codec.metas {
		// nil beside the message, where the carrier has it all.
		if md != nil && !maps.Equal(md, metadata.MD{"tenant": "acme", "region": "eu"}) {
			t.Errorf("the codec's call.Meta: %v, want the context's", md)
		}
	}
	codec.mu.Unlock()
}

// TestMetadataEntriesBounds: entries are held to metadata's bounds, by the
// client, counted with the context's, and by the server.
func TestMetadataEntriesBounds(t *testing.T) {
	t.Parallel()
	s := metaServer(t)
	codec := newEntriesCodec()
	ctxMD := metadata.MD{}
	for i := range metadata.MaxEntries - 2 {
		ctxMD[fmt.Sprintf("k%d", i)] = "v"
	}
	badMD := maps.Clone(ctxMD)
	badMD["k-bad"] = "a\x00b" // fine once an interceptor set it over
	for what, tc := range map[string]struct {
		set   func(*rpc.Call)
		valid bool
	}{
		"bad key":        {func(c *rpc.Call) { c.SetMetadata("bad key", "x") }, false},
		"HTTP's own key": {func(c *rpc.Call) { c.SetMetadata("Content-Type", "x") }, false},
		"control":        {func(c *rpc.Call) { c.SetMetadata("k", "a\x00b") }, false},
		"long value":     {func(c *rpc.Call) { c.SetMetadata("k", strings.Repeat("x", metadata.MaxValueLen+1)) }, false},
		"one more":       {func(c *rpc.Call) { c.SetMetadata("k-last", "v") }, true},
		"two more":       {func(c *rpc.Call) { c.SetMetadata("k-last", "v"); c.SetMetadata("k-more", "v") }, true},
		"three more": {func(c *rpc.Call) {
			c.SetMetadata("k-last", "v")
			c.SetMetadata("k-more", "v")
			c.SetMetadata("k-most", "v")
		}, false},
		"over the context's": {func(c *rpc.Call) { c.SetMetadata("k0", "w"); c.SetMetadata("k-last", "v") }, true},
		"over a bad value":   {func(c *rpc.Call) { c.SetMetadata("k-bad", "good") }, true},
	} {
		c, err := rpc.NewStreamClient(func(ctx context.Context) (wire.Stream, error) {
			cs, ss := streamPair()
			go serveStream(s, ss, codec)
			return cs, nil
		}, codec, rpc.WithInterceptors(func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
			tc.set(call)
			return next(ctx, call)
		}))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		md := ctxMD
		if what == "over a bad value" {
			md = badMD
		}
		err = c.Call(metadata.NewOutgoingContext(context.Background(), md), "meta.get", &got, "k0")
		switch {
		case tc.valid && err != nil:
			t.Errorf("%s: %v", what, err)
		case !tc.valid && (err == nil || !strings.Contains(err.Error(), "metadata")):
			t.Errorf("%s: %v, want a metadata error", what, err)
		}
		c.Close()
	}
	// The server refuses what a client sends anyway.
	for what, md := range map[string]string{
		"bad key":    `{"Bad Key":"x"}`,
		"own key":    `{"content-type":"x"}`,
		"too many":   manyEntries(metadata.MaxEntries + 1),
		"long value": `{"k":"` + strings.Repeat("x", metadata.MaxValueLen+1) + `"}`,
	} {
		out := s.ServeMessage(context.Background(), codec, []byte(`{"m":"meta.get","id":1,"p":["k"],"md":`+md+`}`), nil)
		if !strings.Contains(string(out), "-32600") {
			t.Errorf("server, %s: %.200s, want invalid request", what, out)
		}
	}
}
