package xml_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/codec/internal/metatest"
	"github.com/polyrpc/polyrpc/codec/xml"
	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// TestNoMetadata: XML-RPC carries no metadata and has no ids: the codec
// writes the same messages with or without it, reads none, and is no
// wire.IDKeyer.
func TestNoMetadata(t *testing.T) {
	t.Parallel()
	c := xml.New()
	md := metadata.MD{metadata.TimeoutKey: "1500", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	call := wire.Call{Method: "m", Args: []any{1}}
	plain, err := c.AppendCall(nil, &call)
	if err != nil {
		t.Fatal(err)
	}
	call.Meta = md
	if with, err := c.AppendCall(nil, &call); err != nil || !bytes.Equal(with, plain) {
		t.Errorf("with metadata: %s, %v; want %s", with, err, plain)
	}
	var req wire.Request
	if err := c.DecodeRequest(plain, &req); err != nil || req.Meta != nil {
		t.Errorf("request metadata %v, %v", req.Meta, err)
	}
	resp := wire.Response{Result: "ok"}
	plainResp, _ := c.AppendResponse(nil, &resp)
	resp.Meta, resp.Dialect = md, 0xff
	if with, err := c.AppendResponse(nil, &resp); err != nil || !bytes.Equal(with, plainResp) {
		t.Errorf("response with metadata: %s, %v; want %s", with, err, plainResp)
	}
	var r wire.Reply
	if err := c.DecodeReply(plainResp, &r); err != nil || r.Meta != nil {
		t.Errorf("reply metadata %v, %v", r.Meta, err)
	}
	if _, ok := any(c).(wire.IDKeyer); ok {
		t.Error("the XML-RPC codec is a wire.IDKeyer")
	}
}

// TestAbandonedOverTCP: over a stream, an XML-RPC call carries no deadline
// and cannot be named by $/cancelRequest, but a Go client closes the stream
// of a call it abandons, and the server then cancels the handler's context.
func TestAbandonedOverTCP(t *testing.T) {
	t.Parallel()
	e := metatest.Start(t, xml.New())
	client := e.Client(t)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- client.Call(ctx, "meta.wait", nil, "abandoned") }()
	e.WaitStarted(t, "abandoned")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("the client got %v, want context.Canceled", err)
	}
	if x := e.WaitEnded(t, "abandoned"); x.HadDeadline || !errors.Is(x.Err, context.Canceled) {
		t.Errorf("the handler's context: deadline %v, ended with %v", x.HadDeadline, x.Err)
	}

	// A deadline stays on the client's side: the handler has none, and
	// ends when the client gives up and closes its stream.
	dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer dcancel()
	if err := client.Call(dctx, "meta.wait", nil, "deadline"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the client got %v, want context.DeadlineExceeded", err)
	}
	if x := e.WaitEnded(t, "deadline"); x.HadDeadline || !errors.Is(x.Err, context.Canceled) {
		t.Errorf("the handler's context: deadline %v, ended with %v; want none, cancelled", x.HadDeadline, x.Err)
	}

	var got map[string]string
	if err := client.Call(context.Background(), "meta.echo", &got); err != nil || len(got) != 0 {
		t.Errorf("a call after: %v, %v", got, err)
	}
}
