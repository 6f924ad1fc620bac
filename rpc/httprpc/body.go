package httprpc

import (
	"errors"
	"io"
	"sync"
)

// maxPooledCap is the largest buffer returned to the pool: one huge request
// must not pin its memory for the life of the process.
const maxPooledCap = 64 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf returns b, the current contents of *bp, to the pool, keeping any
// growth that happened since getBuf.
func putBuf(bp *[]byte, b []byte) {
	if cap(b) > maxPooledCap {
		return
	}
	*bp = b[:0]
	bufPool.Put(bp)
}

// drainLimit bounds the bytes read from an unwanted body to keep its
// connection reusable; past it, closing the connection is cheaper.
const drainLimit = 64 << 10

// closeBody drains and closes rc so that the connection can carry the next
// request.
func closeBody(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, drainLimit)
	_ = rc.Close()
}

var errBodyReturned = errors.New("httprpc: request body read after the call returned")

// lentBody lends a caller's message to net/http for one round trip. net/http
// may still read a request body after the round trip returned (when the
// server answered before it read the whole request), but rpc.Transport gives
// msg back to the caller on return, who reuses it. giveBack ends the loan:
// later reads fail, so a late reader never sees a reused buffer.
type lentBody struct {
	mu       sync.Mutex
	msg      []byte
	returned bool
	first    lentReader // the request's Body, allocated with the loan
}

func lend(msg []byte) *lentBody {
	b := &lentBody{msg: msg}
	b.first.b = b
	return b
}

func (b *lentBody) giveBack() {
	b.mu.Lock()
	b.returned = true
	b.msg = nil
	b.mu.Unlock()
}

// reader returns a new reader of the message from its start; it serves as
// http.Request.GetBody, which net/http calls to send a request again.
func (b *lentBody) reader() (io.ReadCloser, error) {
	return &lentReader{b: b}, nil
}

type lentReader struct {
	b   *lentBody
	off int
}

func (r *lentReader) Read(p []byte) (int, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.returned {
		return 0, errBodyReturned
	}
	if r.off >= len(r.b.msg) {
		return 0, io.EOF
	}
	n := copy(p, r.b.msg[r.off:])
	r.off += n
	return n, nil
}

func (r *lentReader) Close() error { return nil }

// Len reports how much of the message is left to read. Its presence tells
// the pipelining RoundTripper that reading the body cannot block.
func (r *lentReader) Len() int {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return max(len(r.b.msg)-r.off, 0)
}
