package frame_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/polyrpc/polyrpc/rpc/frame"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 255, 16 << 10, 64<<10 + 1, 1 << 20} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		var buf bytes.Buffer
		if err := frame.Write(&buf, payload); err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint32(buf.Bytes()); int(got) != n {
			t.Fatalf("header %d for %d bytes", got, n)
		}
		got, err := frame.Read(&buf, nil, 1<<20)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: read %d bytes, %v", n, len(got), err)
		}
		if _, err := frame.Read(&buf, nil, 1<<20); err != io.EOF {
			t.Fatalf("after the last frame: %v, want io.EOF", err)
		}
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	if h := frame.AppendHeader(nil, 5); !bytes.Equal(h, []byte{0, 0, 0, 5}) {
		t.Errorf("small header % x", h)
	}
	if h := frame.AppendHeader(nil, 1<<31); !bytes.Equal(h, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0}) {
		t.Errorf("huge header % x", h)
	}
	long := func(n uint64, payload string) []byte {
		b := []byte{0xff, 0xff, 0xff, 0xff}
		return append(binary.BigEndian.AppendUint64(b, n), payload...)
	}
	tests := []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{"long form read", long(3, "abc"), "abc", nil},
		{"negative", []byte{0xff, 0xff, 0xff, 0xfe, 'x'}, "", frame.ErrBadHeader},
		{"min int32", []byte{0x80, 0, 0, 0}, "", frame.ErrBadHeader},
		{"over limit", []byte{0, 0x10, 0, 1}, "", frame.ErrTooLarge},
		{"long over limit", long(1<<62, ""), "", frame.ErrTooLarge},
		{"truncated header", []byte{0, 0}, "", io.ErrUnexpectedEOF},
		{"truncated long header", []byte{0xff, 0xff, 0xff, 0xff, 0, 0}, "", io.ErrUnexpectedEOF},
		{"truncated payload", []byte{0, 0, 0, 9, 'a'}, "", io.ErrUnexpectedEOF},
		{"empty", nil, "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Plain readers and bufio.Readers take different paths.
			for _, r := range []io.Reader{bytes.NewReader(tt.in), bufio.NewReader(bytes.NewReader(tt.in))} {
				got, err := frame.Read(r, nil, 1<<20)
				if !errors.Is(err, tt.err) || string(got) != tt.want {
					t.Errorf("Read(%T) = %q, %v; want %q, %v", r, got, err, tt.want, tt.err)
				}
			}
		})
	}
}

// TestLyingLengthCostsOnlyWhatArrives checks that a header promising the
// maximum with little behind it allocates about what arrived, not the claim.
func TestLyingLengthCostsOnlyWhatArrives(t *testing.T) {
	const limit = 64 << 20
	in := append([]byte{0x03, 0xff, 0xff, 0xff}, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := frame.Read(bytes.NewReader(in), nil, limit); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 256<<10 {
		t.Errorf("a 100-byte frame claiming 64 MiB allocated %d bytes", per)
	}
}

func TestWriterConcurrent(t *testing.T) {
	t.Parallel()
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			t.Parallel()
			pr, pw := io.Pipe()
			w := frame.NewWriter(pw)
			if busy {
				// Every write yields first: no frame may be lost or reordered.
				w.SetBusy(func() bool { return true })
			}
			writeConcurrently(t, w, pr, pw)
		})
	}
}

func writeConcurrently(t *testing.T, w *frame.Writer, pr *io.PipeReader, pw *io.PipeWriter) {
	const writers, each = 20, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				if err := w.WriteFrame(context.Background(), fmt.Appendf(nil, "%d:%d:%s", g, i, bytes.Repeat([]byte("x"), i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); pw.Close() }()
	next := make([]int, writers)
	for n := 0; ; n++ {
		b, err := frame.Read(pr, nil, 1<<20)
		if err == io.EOF {
			if n != writers*each {
				t.Errorf("%d frames, want %d", n, writers*each)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var g, i int
		var rest string
		if _, err := fmt.Sscanf(string(b), "%d:%d:%s", &g, &i, &rest); err != nil && i != 0 {
			t.Fatalf("frame %q: %v", b, err)
		}
		if i != next[g] || len(rest) != i {
			t.Fatalf("writer %d: frame %d after %d (%q)", g, i, next[g]-1, b)
		}
		next[g]++
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(p), nil
}

func TestWriterStopsAfterError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := frame.NewWriter(&failingWriter{n: 1})
	if err := w.WriteFrame(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.WriteFrame(ctx, []byte("b")); err == nil || err.Error() != "broken pipe" {
			t.Errorf("after a failed write: %v", err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 'z'})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			b, err := frame.Read(r, nil, 1<<16)
			if err != nil {
				return
			}
			if len(b) > 1<<16 {
				t.Fatalf("frame of %d bytes over the limit", len(b))
			}
			// Framing what was read and reading it again gives it back.
			again, err := frame.Read(bytes.NewReader(frame.Append(nil, b)), nil, 1<<16)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-framed %q read as %q, %v", b, again, err)
			}
		}
	})
}

func BenchmarkWriteRead(b *testing.B) {
	payload := bytes.Repeat([]byte("p"), 64)
	var buf bytes.Buffer
	w := frame.NewWriter(&buf)
	ctx := context.Background()
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := w.WriteFrame(ctx, payload); err != nil {
			b.Fatal(err)
		}
		var err error
		if dst, err = frame.Read(&buf, dst[:0], 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRawWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := frame.NewRawWriter(&buf)
	ctx := context.Background()
	for _, p := range []string{"\x92\x01\x02", "\x90"} {
		if err := w.WriteFrame(ctx, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != "\x92\x01\x02\x90" {
		t.Errorf("raw writer wrote % x", buf.Bytes())
	}
}

// stutterReader returns its data a few bytes at a time, with errTry between
// the pieces, as a connection with a read deadline that fires would.
type stutterReader struct {
	data  []byte
	step  int
	fail  bool
	calls int
}

var errTry = errors.New("try again")

func (s *stutterReader) Read(p []byte) (int, error) {
	s.calls++
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	s.fail = !s.fail
	if s.fail {
		return 0, errTry
	}
	n := copy(p[:min(len(p), s.step)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestReadHeaderResumes shows that a header read failing part-way through a
// bufio.Reader can be tried again without losing its place, short and long
// headers alike.
func TestReadHeaderResumes(t *testing.T) {
	var long []byte
	long = binary.BigEndian.AppendUint32(long, 0xffffffff)
	long = binary.BigEndian.AppendUint64(long, 7)
	for _, in := range [][]byte{binary.BigEndian.AppendUint32(nil, 300), long} {
		want := int(binary.BigEndian.Uint32(in))
		if len(in) == 12 {
			want = 7
		}
		br := bufio.NewReaderSize(&stutterReader{data: in, step: 1}, 16)
		var n, tries int
		for {
			var err error
			n, err = frame.ReadHeader(br, 1<<20)
			if err == nil {
				break
			}
			if !errors.Is(err, errTry) || tries > 100 {
				t.Fatalf("ReadHeader: %v after %d tries", err, tries)
			}
			tries++
		}
		if n != want || tries < 2 {
			t.Fatalf("header %x: got %d after %d failed tries, want %d after several", in, n, tries, want)
		}
	}
}

// TestQueueWaitsForFlush shows that queued frames go out in one Write, at
// Flush, or with the next WriteFrame, and that holding back stops at 64 KiB.
func TestQueueWaitsForFlush(t *testing.T) {
	var cw countingWriter
	w := frame.NewWriter(&cw)
	ctx := context.Background()
	for _, p := range []string{"a", "bb", "ccc"} {
		if err := w.Queue([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if cw.writes != 0 {
		t.Fatalf("%d writes before Flush", cw.writes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil || cw.writes != 1 {
		t.Fatalf("%d writes after two Flushes (%v), want 1", cw.writes, err)
	}
	w.Queue([]byte("dddd"))
	w.WriteFrame(ctx, []byte("e"))
	if cw.writes != 2 {
		t.Fatalf("%d writes, want 2", cw.writes)
	}
	r := bytes.NewReader(cw.buf.Bytes())
	for _, want := range []string{"a", "bb", "ccc", "dddd", "e"} {
		got, err := frame.Read(r, nil, 1<<20)
		if err != nil || string(got) != want {
			t.Fatalf("frame %q, %v; want %q", got, err, want)
		}
	}
	cw.writes = 0
	big := make([]byte, 40<<10)
	w.Queue(big)
	w.Queue(big)
	if cw.writes != 2 {
		t.Fatalf("%d writes after queuing 80 KiB, want 2 (chunks of 64 KiB)", cw.writes)
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.buf.Write(p)
}
