package frame_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

// slowReader reads r a KiB per millisecond, and counts the bytes.
func slowReader(r io.Reader, n *atomic.Int64) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		time.Sleep(time.Millisecond)
		m, err := r.Read(p[:min(len(p), 1<<10)])
		n.Add(int64(m))
		return m, err
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestWriterLeavesTheOthersFramesWhenItsContextEnds: a goroutine writing
// for others (its frame first, theirs queued behind it) to a peer that
// reads slowly returns once its context has ended and its own frame is out,
// leaving the others' frames to another goroutine, which writes them all.
func TestWriterLeavesTheOthersFramesWhenItsContextEnds(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
	}{
		// Its own 64 KiB frame takes about 64 ms at a KiB per ms.
		{"context ends while its own frame is written", 10 * time.Millisecond},
		{"context ends when its own frame is out", 50 * time.Millisecond},
		{"context ends while the others' frames are written", 100 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, server := net.Pipe()
				defer client.Close()
				w := frame.NewWriter(client)
				w.SetWriteTimeout(time.Hour)
				var read atomic.Int64
				const others = 8
				got := make(chan []string, 1)
				go func() {
					r := bufio.NewReader(slowReader(server, &read))
					var frames []string
					for range 1 + others {
						b, err := frame.Read(r, nil, 1<<20)
						if err != nil {
							t.Errorf("after %d frames: %v", len(frames), err)
							break
						}
						frames = append(frames, string(b[:1]))
					}
					got <- frames
				}()

				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
				defer cancel()
				mine := make(chan error, 1)
				go func() { mine <- w.WriteFrame(ctx, bytes.Repeat([]byte("A"), 64<<10)) }()
				synctest.Wait() // it writes, and the peer reads slowly
				for i := range others {
					// Queued behind the write under way: back at once.
					if err := w.WriteFrame(context.Background(), bytes.Repeat([]byte{'a' + byte(i)}, 64<<10)); err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
				}
				if err := <-mine; err != nil {
					t.Errorf("the writer whose context ended: %v", err)
				}
				// Its own frame takes 64 ms, and a chunk of the others'
				// as much; all of theirs, 512 ms more.
				returned := time.Since(start)
				if returned > 200*time.Millisecond {
					t.Errorf("the writer whose context ended returned after %v", returned)
				}
				if frames, want := strings.Join(<-got, ""), "Aabcdefgh"; frames != want {
					t.Errorf("frames %q, want %q", frames, want)
				}
				if all := time.Since(start); all < 500*time.Millisecond {
					t.Errorf("all frames read after %v: the peer read too fast for the test", all)
				}
			})
		})
	}
}

// TestWriterStallsOnAPeerThatDoesNotRead: once the writer's context ended,
// a write that makes no progress fails after the stall window, and the
// Writer with it, whatever the write timeout.
func TestWriterStallsOnAPeerThatDoesNotRead(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, server := net.Pipe()
				defer server.Close()
				w := frame.NewWriter(client)
				w.SetWriteTimeout(time.Hour)
				ctx, cancel := tt.ctx()
				defer cancel()
				start := time.Now()
				err := w.WriteFrame(ctx, make([]byte, 200<<10))
				if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "stalled") {
					t.Errorf("write to a peer that does not read: %v", err)
				}
				// A look every 200 ms; the one after the context ended
				// fails the write.
				if d := time.Since(start); d < time.Second || d > 1200*time.Millisecond {
					t.Errorf("failed after %v, want the context's 1s and at most a stall window of 200ms", d)
				}
				if err2 := w.WriteFrame(context.Background(), []byte("x")); err2 == nil {
					t.Error("a write after the stall succeeded")
				}
				if _, err := server.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("the peer's end after the stall: %v, want EOF (closed)", err)
				}
			})
		})
	}
}

// TestWriterTimeout: a write that makes no progress for the write timeout
// fails, however long its context.
func TestWriterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		w := frame.NewWriter(client)
		w.SetWriteTimeout(5 * time.Second)
		go io.CopyN(io.Discard, server, 128<<10) // two chunks, then stops reading
		start := time.Now()
		err := w.WriteFrame(context.Background(), make([]byte, 1<<20))
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("write to a peer that stopped reading: %v", err)
		}
		if d := time.Since(start); d < 5*time.Second || d > 5400*time.Millisecond {
			t.Errorf("failed after %v, want the 5s write timeout, give or take two looks", d)
		}
	})
}

// TestReadHeaderLeavesARefusedHeader: from a bufio.Reader, a header refused
// stays unread, so that the caller can tell what it is.
func TestReadHeaderLeavesARefusedHeader(t *testing.T) {
	for _, in := range []string{"HTTP/1.1 400 Bad Request\r\n", "\xff\xff\xff\xf0", "\xff\xff\xff\xff\x7f\x00\x00\x00\x00\x00\x00\x00"} {
		br := bufio.NewReader(strings.NewReader(in))
		if _, err := frame.ReadHeader(br, 1<<20); err == nil {
			t.Fatalf("%q: no error", in)
		}
		if b, _ := br.Peek(4); string(b) != in[:4] {
			t.Errorf("%q: %q left to read", in, b)
		}
	}
}

// TestWriterKeepsLittleAfterABurst: a Writer that wrote a burst of large
// frames (4 MiB ones, or 200 KiB ones queued together) and went quiet keeps
// a few KiB, not its largest buffers: a server keeps one Writer per
// connection, for thousands of connections.
func TestWriterKeepsLittleAfterABurst(t *testing.T) {
	const writers = 64
	big, medium := make([]byte, 4<<20), make([]byte, 200<<10)
	inUse := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapInuse)
	}
	ws := make([]*frame.Writer, writers)
	before := inUse()
	for i := range ws {
		w := frame.NewWriter(io.Discard)
		for range 3 {
			if err := w.Queue(medium); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteFrame(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFrame(context.Background(), medium); err != nil {
			t.Fatal(err)
		}
		ws[i] = w
	}
	per := (inUse() - before) / writers
	runtime.KeepAlive(ws)
	runtime.KeepAlive(big)
	runtime.KeepAlive(medium)
	t.Logf("%d bytes kept per Writer after a burst", per)
	if per > 24<<10 {
		t.Errorf("a Writer keeps %d bytes after a burst; want at most 24 KiB", per)
	}
}

// TestWriterReportsWhatWentOut: SetWritten's function learns of every byte
// written, headers included, and of none that never went out.
func TestWriterReportsWhatWentOut(t *testing.T) {
	var reported atomic.Int64
	cw := &countingWriter{}
	w := frame.NewWriter(cw)
	w.SetWritten(func(n int) { reported.Add(int64(n)) })
	ctx := context.Background()
	w.Queue([]byte("queued"))
	w.WriteFrame(ctx, make([]byte, 100<<10))
	w.WriteFrame(ctx, []byte("small"))
	if got, want := reported.Load(), int64(cw.buf.Len()); got != want {
		t.Errorf("%d bytes reported, %d written", got, want)
	}
	f := frame.NewWriter(&failingWriter{n: 1})
	reported.Store(0)
	f.SetWritten(func(n int) { reported.Add(int64(n)) })
	f.WriteFrame(ctx, []byte("out"))
	f.WriteFrame(ctx, []byte("never"))
	if got := reported.Load(); got != 4+3 {
		t.Errorf("%d bytes reported, want 7: one frame of 3 bytes went out", got)
	}
}
