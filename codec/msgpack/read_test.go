package msgpack_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// streamMessages are messages as a stock client sends them, back to back.
func streamMessages(t testing.TB) [][]byte {
	return [][]byte{
		pack(t, []any{0, 1, "sum", []any{1, 2}}),
		pack(t, []any{2, "update", []any{1, 2}}),
		pack(t, []any{0, 2, "echo", []any{strings.Repeat("s", 300), bytes.Repeat([]byte{0xc1}, 70000)}}),
		pack(t, []any{0, 3, "echo", []any{map[string]any{"t": time.Unix(1<<40, 5), "e": []any{}, "m": map[string]any{}}}}),
		pack(t, []any{0, 4, "echo", []any{nested(100)}}),
		pack(t, []any{0, 5, "echo", []any{make([]any, 70000)}}),
		hexb("94 00 06 a4 65 63 68 6f 91 c7 03 05 61 62 63"), // an ext
		hexb("dc 00 04 00 07 a3 73 75 6d de 00 00"),          // array16, map16
	}
}

func TestReadMessageStream(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	msgs := streamMessages(t)
	stream := bytes.Join(msgs, nil)
	readers := map[string]func() *bufio.Reader{
		"buffered": func() *bufio.Reader { return bufio.NewReader(bytes.NewReader(stream)) },
		"one byte at a time": func() *bufio.Reader {
			return bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(stream)), 16)
		},
	}
	for name, newReader := range readers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newReader()
			for i, want := range msgs {
				got, err := c.ReadMessage(r, []byte("keep"), 1<<20)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(got, append([]byte("keep"), want...)) {
					t.Fatalf("message %d: got % .40x..., want % .40x...", i, got, want)
				}
				var req wire.Request
				if err := c.DecodeRequest(got[4:], &req); err != nil {
					t.Errorf("message %d: %v", i, err)
				}
			}
			if got, err := c.ReadMessage(r, []byte("keep"), 1<<20); err != io.EOF || string(got) != "keep" {
				t.Errorf("after the last message: %q, %v; want io.EOF", got, err)
			}
		})
	}
}

func TestReadMessageErrors(t *testing.T) {
	t.Parallel()
	c := msgpack.New()
	deep := strings.Repeat("91", msgpack.DefaultMaxDepth+1) + "c0"
	tests := []struct {
		name    string
		stream  string // hex
		max     int
		want    error // matched with errors.Is; nil: any error
		consume int   // bytes ReadMessage may take from the stream
	}{
		{"truncated header", "dc 00", 100, io.ErrUnexpectedEOF, 2},
		{"truncated element", "92 01", 100, io.ErrUnexpectedEOF, 2},
		{"truncated payload", "91 a3 61", 100, io.ErrUnexpectedEOF, 3},
		{"reserved byte", "92 c1 00", 100, nil, 2},
		{"over max", "93 01 02 03", 3, frame.ErrTooLarge, 3},
		{"exactly max", "93 01 02 03", 4, nil, -1},
		{"str32 beyond max", "db ff ff ff ff 61", 1 << 20, frame.ErrTooLarge, 5},
		{"bin32 beyond max", "c6 7f ff ff ff", 1 << 20, frame.ErrTooLarge, 5},
		{"ext32 beyond max", "c9 7f ff ff ff 01", 1 << 20, frame.ErrTooLarge, 6},
		{"array32 beyond max", "dd ff ff ff ff c0", 1 << 20, frame.ErrTooLarge, 5},
		{"map32 beyond max", "df 00 08 00 00 c0", 1 << 20, frame.ErrTooLarge, 5},
		{"nested map32 beyond max", "92 00 df 00 08 00 00 c0", 1 << 20, frame.ErrTooLarge, 7},
		{"too deep", deep, 1 << 20, nil, msgpack.DefaultMaxDepth + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := bytes.NewReader(hexb(tt.stream))
			r := bufio.NewReaderSize(iotest.OneByteReader(in), 16)
			got, err := c.ReadMessage(r, []byte("keep"), tt.max)
			if tt.consume < 0 {
				if err != nil || !bytes.Equal(got[4:], hexb(tt.stream)) {
					t.Errorf("% x, %v; want the message", got, err)
				}
				return
			}
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Errorf("dst % x, want its original length", got)
			}
			if read := len(hexb(tt.stream)) - in.Len() - r.Buffered(); read > tt.consume {
				t.Errorf("read %d bytes, want at most %d", read, tt.consume)
			}
		})
	}
}
