package httprpc_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	_ "github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

func TestErrorHandlerSeesRefusals(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var statuses []int
	h := httprpc.NewHandler(rpc.NewServer(), httprpc.WithMaxBodySize(16),
		httprpc.WithErrorHandler(func(_ *http.Request, status int, msg string) {
			mu.Lock()
			statuses = append(statuses, status)
			mu.Unlock()
		}))
	hs := httptest.NewServer(h)
	defer hs.Close()
	for _, req := range []struct{ ct, body string }{
		{"text/plain", "x"},
		{"application/json", `{"jsonrpc":"2.0","method":"a.long.method.name","id":1}`},
		{"application/json", `{}`}, // served: no report
	} {
		resp, err := http.Post(hs.URL, req.ct, bytes.NewBufferString(req.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{415, 413}; !slices.Equal(statuses, want) {
		t.Errorf("error handler saw %v, want %v", statuses, want)
	}
}

func TestCompressedBodyRefused(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(httprpc.NewHandler(rpc.NewServer()))
	defer hs.Close()
	req, err := http.NewRequest(http.MethodPost, hs.URL, bytes.NewBufferString("\x1f\x8b..."))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || resp.Header.Get("Accept-Encoding") != "identity" {
		t.Errorf("gzip body: %d, Accept-Encoding %q", resp.StatusCode, resp.Header.Get("Accept-Encoding"))
	}
}
