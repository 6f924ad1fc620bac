package httprpc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	jsoncodec "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/metadata"
)

// metadataServer serves, in JSON-RPC, "md.get", which returns the request's
// metadata value of a key and answers with reply metadata, and "md.sleep",
// which waits for its context and returns its error.
func metadataServer(t *testing.T) string {
	t.Helper()
	s := newRPCServer(t, map[string]any{
		"md.get": func(ctx context.Context, key string) (string, error) {
			call, _ := rpc.CallFromContext(ctx)
			call.SetReplyMetadata("x-answer", "42")
			return call.Metadata().Get(key), nil
		},
		"md.sleep": func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		},
	}, rpc.WithCodecs(jsoncodec.New()))
	return serve(t, newHandler(t, s))
}

// TestMetadataOverHTTP: the Go client's metadata arrives as headers and is
// the handler's metadata; the reply's comes back as response headers into
// the client's call.
func TestMetadataOverHTTP(t *testing.T) {
	url := metadataServer(t)
	tr, err := httprpc.NewTransport(url)
	if err != nil {
		t.Fatal(err)
	}
	var reply metadata.MD
	c, err := rpc.NewClient(tr, jsoncodec.New(), rpc.WithInterceptors(func(ctx context.Context, call *rpc.Call, next rpc.Handler) (any, error) {
		call.SetMetadata("x-tenant", "blue")
		res, err := next(ctx, call)
		reply = call.ReplyMetadata()
		return res, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.New("X-Request-Id", "r-1"))
	for _, key := range []string{"x-request-id", "x-tenant"} {
		var got string
		if err := c.Call(ctx, "md.get", &got, key); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"x-request-id": "r-1", "x-tenant": "blue"}[key]
		if got != want {
			t.Errorf("the handler's metadata %q = %q, want %q", key, got, want)
		}
		if reply.Get("x-answer") != "42" {
			t.Errorf("reply metadata %v, want x-answer: 42", reply)
		}
	}
	// HTTP's own headers are no metadata.
	var got string
	if err := c.Call(ctx, "md.get", &got, "content-type"); err != nil || got != "" {
		t.Errorf("content-type as metadata: %q, %v", got, err)
	}
}

// post sends a JSON-RPC request with extra headers from plain net/http, as
// any client would, and returns the response and its decoded body.
func postJSON(t *testing.T, url, body string, headers map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, b, err)
	}
	return resp, m
}

func errorCode(m map[string]any) int {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(float64)
	return int(code)
}

// TestTimeoutHeader: Polyrpc-Timeout-Ms from any client is the handler's
// deadline, and a call past it ends with -32001; a bogus value is refused
// with -32600.
func TestTimeoutHeader(t *testing.T) {
	url := metadataServer(t)
	call := `{"jsonrpc":"2.0","id":1,"method":"md.sleep","params":[]}`
	start := time.Now()
	_, m := postJSON(t, url, call, map[string]string{"Polyrpc-Timeout-Ms": "50"})
	if errorCode(m) != int(rpc.CodeDeadlineExceeded) {
		t.Errorf("a call past its Polyrpc-Timeout-Ms: %v, want code %d", m, rpc.CodeDeadlineExceeded)
	}
	t.Logf("the 50 ms call took %v", time.Since(start))
	for _, bad := range []string{"-1", "abc", "1.5", "99999999999999999999999"} {
		_, m := postJSON(t, url, call, map[string]string{"Polyrpc-Timeout-Ms": bad})
		if errorCode(m) != int(rpc.CodeInvalidRequest) {
			t.Errorf("Polyrpc-Timeout-Ms %q: %v, want code %d", bad, m, rpc.CodeInvalidRequest)
		}
	}
	// Reply metadata is a response header for any client.
	resp, m := postJSON(t, url, `{"jsonrpc":"2.0","id":1,"method":"md.get","params":["x-custom"]}`, map[string]string{"X-Custom": "hello"})
	if m["result"] != "hello" || resp.Header.Get("X-Answer") != "42" {
		t.Errorf("result %v, X-Answer %q", m, resp.Header.Get("X-Answer"))
	}
}

// TestMetadataBoundsOverHTTP: more headers than metadata may have entries,
// or a value over its bound, is refused with -32600, and the server goes on.
func TestMetadataBoundsOverHTTP(t *testing.T) {
	url := metadataServer(t)
	call := `{"jsonrpc":"2.0","id":1,"method":"md.get","params":["x-a"]}`
	many := map[string]string{}
	for i := range metadata.MaxEntries + 1 {
		many["X-M"+strconv.Itoa(i)] = "v"
	}
	for name, h := range map[string]map[string]string{
		"too many":   many,
		"too long":   {"X-A": strings.Repeat("v", metadata.MaxValueLen+1)},
		"long a key": {"X-" + strings.Repeat("k", metadata.MaxKeyLen): "v"},
	} {
		_, m := postJSON(t, url, call, h)
		if errorCode(m) != int(rpc.CodeInvalidRequest) {
			t.Errorf("%s: %v, want code %d", name, m, rpc.CodeInvalidRequest)
		}
	}
	_, m := postJSON(t, url, call, map[string]string{"X-A": "fine"})
	if m["result"] != "fine" {
		t.Errorf("after the refusals: %v", m)
	}
}
