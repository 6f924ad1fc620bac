package httpengine

import (
	"errors"
	"io"
)

// ErrBodyTooLarge is wrapped by the error of a pipelined response whose body
// is over RoundTripper.MaxPipelinedBody.
var ErrBodyTooLarge = errors.New("response body too large")

// drainLimit bounds the bytes read from an unwanted body to keep its
// connection reusable; past it, closing the connection is cheaper.
const drainLimit = 64 << 10

// ReadAll appends all of r to buf. size, when positive, is the expected
// length; one spare byte lets the final read see EOF without growing buf.
func ReadAll(r io.Reader, buf []byte, size int64) ([]byte, error) {
	if size > 0 && int64(cap(buf)-len(buf)) < size+1 {
		nb := make([]byte, len(buf), int64(len(buf))+size+1)
		copy(nb, buf)
		buf = nb
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// TakeBody returns the unread rest of a pipelined response's body, read
// whole already, which then belongs to the caller, without a copy. It
// reports false for any other body.
func TakeBody(body io.ReadCloser) ([]byte, bool) {
	pb, ok := body.(*pipeBody)
	if !ok {
		return nil, false
	}
	return pb.take(), true
}
