package httprpc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// countingReader counts the bytes read of a request body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// budgetRequest is a POST of body to h, sized or chunked, in ctx.
func budgetRequest(ctx context.Context, body io.Reader, size int64) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", body)
	r.Header.Set("Content-Type", lineType)
	r.ContentLength = size // -1: chunked
	return r
}

// holdCall is a call of "hold" with a parameter of n bytes.
func holdCall(tag string, n int) string {
	return `call 1 hold "` + tag + `" "` + strings.Repeat("x", n) + `"`
}

// TestHandlerBudgetBackpressure: a request whose body the memory budget
// cannot hold while others are served waits for them, its body unread, and
// is served once they end; what it holds is its body twice over.
func TestHandlerBudgetBackpressure(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		name := "sized"
		if chunked {
			name = "chunked"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				started := make(chan string, 2)
				release := make(chan struct{})
				s := newRPCServer(t, nil, rpc.WithCodecs(lineCodec{}), rpc.WithMaxMemory(100<<10))
				if err := s.Register("hold", func(tag, _ string) (string, error) {
					started <- tag
					<-release
					return tag, nil
				}); err != nil {
					t.Fatal(err)
				}
				h := newHandler(t, s)
				ctx := context.Background()
				serve := func(tag string, body *countingReader, size int64) <-chan *httptest.ResponseRecorder {
					done := make(chan *httptest.ResponseRecorder, 1)
					go func() {
						w := httptest.NewRecorder()
						if chunked {
							size = -1
						}
						h.ServeHTTP(w, budgetRequest(ctx, body, size))
						done <- w
					}()
					return done
				}
				msgA, msgB := holdCall("a", 30<<10), holdCall("b", 30<<10)
				doneA := serve("a", &countingReader{r: strings.NewReader(msgA)}, int64(len(msgA)))
				if tag := <-started; tag != "a" {
					t.Fatalf("%s started", tag)
				}
				heldA := s.Budget().Used()
				if min := 3 * int64(len(msgA)); heldA < min || !chunked && heldA != min {
					t.Errorf("%d bytes held for a body of %d", heldA, len(msgA))
				}

				bodyB := &countingReader{r: strings.NewReader(msgB)}
				doneB := serve("b", bodyB, int64(len(msgB)))
				synctest.Wait()
				select {
				case tag := <-started:
					t.Fatalf("%s was served beyond the budget", tag)
				default:
				}
				// Chunked, b read the part that its first step covers.
				if n := bodyB.n.Load(); !chunked && n != 0 || n >= int64(len(msgB)) {
					t.Errorf("%d bytes of the waiting body read", n)
				}

				close(release)
				if tag := <-started; tag != "b" {
					t.Fatalf("%s started", tag)
				}
				for _, done := range []<-chan *httptest.ResponseRecorder{doneA, doneB} {
					if w := <-done; w.Code != http.StatusOK {
						t.Errorf("status %d: %s", w.Code, w.Body)
					}
				}
				if used := s.Budget().Used(); used != 0 {
					t.Errorf("%d bytes held once served", used)
				}
			})
		})
	}
}

// TestHandlerBudgetTooLarge: a body that the whole budget could not hold,
// twice over, gets 413, even under the message size limit, and holds
// nothing after.
func TestHandlerBudgetTooLarge(t *testing.T) {
	s := newRPCServer(t, nil, rpc.WithCodecs(lineCodec{}), rpc.WithMaxMemory(96<<10))
	if err := s.Register("hold", func(tag, _ string) (string, error) { return tag, nil }); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, s, httprpc.WithMaxMessageSize(1<<20))
	for _, tt := range []struct {
		name       string
		size       int
		chunked    bool
		wantStatus int
	}{
		{"under a third of the budget", 30 << 10, false, http.StatusOK},
		{"under a third of the budget, chunked", 30 << 10, true, http.StatusOK},
		{"over a third of the budget", 40 << 10, false, http.StatusRequestEntityTooLarge},
		{"over a third of the budget, chunked", 40 << 10, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := holdCall("a", tt.size)
			size := int64(len(msg))
			if tt.chunked {
				size = -1
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, budgetRequest(context.Background(), strings.NewReader(msg), size))
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus == http.StatusRequestEntityTooLarge && !strings.Contains(w.Body.String(), "memory budget") {
				t.Errorf("body %q does not name the budget", w.Body)
			}
			if used := s.Budget().Used(); used != 0 {
				t.Errorf("%d bytes held after the request", used)
			}
		})
	}
}

// TestHandlerBudgetCanceled: a request whose context ends while it waits for
// the budget gets 503 and holds nothing.
func TestHandlerBudgetCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		s := newRPCServer(t, nil, rpc.WithCodecs(lineCodec{}), rpc.WithMaxMemory(100<<10))
		if err := s.Register("hold", func(tag, _ string) (string, error) {
			started <- struct{}{}
			<-release
			return tag, nil
		}); err != nil {
			t.Fatal(err)
		}
		h := newHandler(t, s)
		msg := holdCall("a", 30<<10)
		go h.ServeHTTP(httptest.NewRecorder(), budgetRequest(context.Background(), strings.NewReader(msg), int64(len(msg))))
		<-started
		held := s.Budget().Used()

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan *httptest.ResponseRecorder)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, budgetRequest(ctx, strings.NewReader(msg), int64(len(msg))))
			done <- w
		}()
		synctest.Wait()
		cancel()
		if w := <-done; w.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503: %s", w.Code, w.Body)
		}
		if used := s.Budget().Used(); used != held {
			t.Errorf("%d bytes held, want the first request's %d", used, held)
		}
		close(release)
	})
}

// blockingWriter is a ResponseWriter whose Write waits until released.
type blockingWriter struct {
	*httptest.ResponseRecorder
	writing chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	close(w.writing)
	<-w.release
	return w.ResponseRecorder.Write(p)
}

// TestHandlerBudgetHoldsReply: while a reply is written, the budget holds its
// bytes, and no longer the request's.
func TestHandlerBudgetHoldsReply(t *testing.T) {
	s := newRPCServer(t, map[string]any{"echo": func(s string) (string, error) { return s, nil }})
	h := newHandler(t, s)
	msg := `call 1 echo "` + strings.Repeat("x", 100<<10) + `"`
	want := `ok 1 "` + strings.Repeat("x", 100<<10) + `"`
	w := &blockingWriter{httptest.NewRecorder(), make(chan struct{}), make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, budgetRequest(context.Background(), strings.NewReader(msg), int64(len(msg))))
	}()
	<-w.writing
	if used := s.Budget().Used(); used != int64(len(want)) {
		t.Errorf("%d bytes held while the reply is written, want its %d", used, len(want))
	}
	close(w.release)
	<-done
	if w.Body.String() != want {
		t.Errorf("reply of %d bytes", w.Body.Len())
	}
	if used := s.Budget().Used(); used != 0 {
		t.Errorf("%d bytes held once written", used)
	}
}
