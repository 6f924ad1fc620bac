package httprpc_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// recordHandler is a slog.Handler that keeps the records it is given.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// messages returns the message of every record.
func (h *recordHandler) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var msgs []string
	for _, r := range h.records {
		msgs = append(msgs, r.Message)
	}
	return msgs
}

// attrs returns the value of attribute key in every record, with its level.
func (h *recordHandler) attrs(key string) (levels []slog.Level, values []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				levels = append(levels, r.Level)
				values = append(values, a.Value.String())
			}
			return true
		})
	}
	return levels, values
}

func TestHandlerLogsRefusals(t *testing.T) {
	t.Parallel()
	rec := &recordHandler{}
	h := newHandler(t, newRPCServer(t, nil, rpc.WithCodecs(json.New())), httprpc.WithMaxMessageSize(16), httprpc.WithLogger(slog.New(rec)))
	hs := httptest.NewServer(h)
	defer hs.Close()
	for _, req := range []struct{ ct, body string }{
		{"text/plain", "x"},
		{"application/json", `{"jsonrpc":"2.0","method":"a.long.method.name","id":1}`},
		{"application/json", `{}`}, // served: not logged
	} {
		resp, err := http.Post(hs.URL, req.ct, bytes.NewBufferString(req.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	levels, statuses := rec.attrs("status")
	if want := []string{"415", "413"}; !slices.Equal(statuses, want) {
		t.Errorf("logged statuses %v, want %v", statuses, want)
	}
	for _, l := range levels {
		if l != slog.LevelWarn {
			t.Errorf("logged at %v, want WARN", l)
		}
	}
}
