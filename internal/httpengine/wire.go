package httpengine

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"os"
	"strconv"
	"strings"
)

// This file reads HTTP/1.x messages (RFC 9112) for both the Server and the
// RoundTripper: the head, its fields, and a body framed by Content-Length or
// chunked transfer coding.

// DefaultMaxHeaderBytes limits a message's head (start line and fields) on
// both sides; RPC requests and replies carry few fields.
const DefaultMaxHeaderBytes = 64 << 10

// maxEmptyLines is how many empty lines may come before a request line:
// RFC 9112 section 2.2 asks servers to ignore at least one, which some old
// clients send after a POST body.
const maxEmptyLines = 4

var errHeadTooLarge = errors.New("message head too large")

// protocolError is a message that breaks HTTP's syntax or this package's
// limits. status is the answer a server gives it.
type protocolError struct {
	status int
	msg    string
}

func (e *protocolError) Error() string { return e.msg }

func malformed(msg string) error {
	return &protocolError{status: http.StatusBadRequest, msg: msg}
}

// readHead reads one message head from br: the start line and the field
// lines, up to and without the empty line that ends them, at most max bytes
// in all. It gathers the bytes in scratch, returned for reuse, and returns
// them as one string, so that every line and field is a substring of one
// allocation. skipEmpty is set for a server's request: empty lines before
// the request line are skipped then, and a request line that cannot be one
// (HTTP/0.9's "GET /", with no version) is refused at once, without
// waiting for fields that will not come. io.EOF means the connection ended
// before a message began.
func readHead(br *bufio.Reader, scratch []byte, max int, skipEmpty bool) (string, []byte, error) {
	h := headReader{b: scratch[:0]}
	head, err := h.read(br, max, skipEmpty)
	return head, h.b, err
}

// headReader reads a message head as readHead does, but keeps what a read
// that failed had gathered, so that a read interrupted by a deadline can be
// taken up again, by the same goroutine or another.
type headReader struct {
	b       []byte // the head so far
	start   int    // where the current line begins in b
	empties int    // empty lines skipped
}

// reset forgets a head in progress.
func (h *headReader) reset() {
	h.b, h.start, h.empties = h.b[:0], 0, 0
}

func (h *headReader) read(br *bufio.Reader, max int, skipEmpty bool) (string, error) {
	for {
		line, err := br.ReadSlice('\n')
		if len(h.b)+len(line) > max {
			if skipEmpty && h.start == 0 {
				// The request line alone is too long, its target in
				// all likelihood: RFC 9112 section 3 answers a target
				// longer than the server will parse with 414.
				return "", &protocolError{status: http.StatusRequestURITooLong, msg: "request line too long"}
			}
			return "", &protocolError{status: http.StatusRequestHeaderFieldsTooLarge, msg: errHeadTooLarge.Error()}
		}
		h.b = append(h.b, line...)
		if err == bufio.ErrBufferFull {
			continue // a line longer than br's buffer: keep gathering
		}
		if err != nil {
			if err == io.EOF {
				if len(h.b) == 0 {
					return "", io.EOF
				}
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		ln := h.b[h.start:]
		if len(ln) == 1 || (len(ln) == 2 && ln[0] == '\r') {
			if h.start > 0 {
				head := string(h.b[:h.start])
				h.reset()
				return head, nil
			}
			if !skipEmpty || h.empties == maxEmptyLines {
				return "", malformed("empty line where the start line belongs")
			}
			h.empties++
			h.b = h.b[:0]
			continue
		}
		if skipEmpty && h.start == 0 && bytes.Count(ln, sp) < 2 {
			line := strings.TrimRight(string(ln), "\r\n")
			h.reset()
			return "", malformed("malformed request line " + quote(line))
		}
		h.start = len(h.b)
	}
}

var sp = []byte(" ")

// cutLine splits s after its first line, dropping the line's "\n" or
// "\r\n".
func cutLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// parseFields parses field lines, each ending in "\n" or "\r\n", into a new
// Header with canonical keys. Values share one slice's backing array, and
// one map holds them all: a head of ordinary fields costs three
// allocations. A line folded onto the one before it (obsolete since RFC
// 7230), a field name with a space before its colon, and control
// characters in a value are refused, as RFC 9112 allows, since proxies that
// read them differently open the door to request smuggling.
func parseFields(s string) (http.Header, error) {
	n := strings.Count(s, "\n")
	h := make(http.Header, n)
	if n == 0 {
		return h, nil
	}
	vals := make([]string, n)
	used := 0
	for s != "" {
		var line string
		line, s = cutLine(s)
		if line == "" {
			return nil, malformed("empty line inside the header")
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, malformed("folded header line")
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, malformed("header line without a name and a colon")
		}
		key := line[:colon]
		if !validToken(key) {
			return nil, malformed("invalid header name " + quote(key))
		}
		value := trimOWS(line[colon+1:])
		if !validValue(value) {
			return nil, malformed("invalid value of header " + key)
		}
		key = textproto.CanonicalMIMEHeaderKey(key)
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
			continue
		}
		vals[used] = value
		h[key] = vals[used : used+1 : used+1]
		used++
	}
	return h, nil
}

// quote quotes the start of s for an error message, escaping control
// characters: what a peer sends must not break a log's lines.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// validTarget reports whether s holds no control characters and no spaces,
// which would end a request target or a Host field early.
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS drops the optional white space around a field value.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// tokenChars marks the bytes of an RFC 9110 token.
var tokenChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// validValue reports whether s holds no control characters but tabs.
// Bytes from 0x80 up (obs-text) pass, as RFC 9110 allows.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// framing is how a message's body is delimited.
type framing struct {
	length  int64 // the Content-Length; -1 if none was given
	chunked bool  // Transfer-Encoding: chunked
}

// bodyFraming reads a message's body framing from its fields. A message
// with both a Content-Length and a Transfer-Encoding, with Content-Lengths
// that disagree, or with a transfer coding other than chunked alone is
// refused: each is a way to make two readers see different messages.
func bodyFraming(h http.Header) (framing, error) {
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	if len(te) > 0 {
		if len(cl) > 0 {
			return framing{}, malformed("both Transfer-Encoding and Content-Length")
		}
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return framing{}, &protocolError{status: http.StatusNotImplemented, msg: "unsupported Transfer-Encoding " + quote(strings.Join(te, ", "))}
		}
		return framing{length: -1, chunked: true}, nil
	}
	if len(cl) == 0 {
		return framing{length: -1}, nil
	}
	for _, v := range cl[1:] {
		if v != cl[0] {
			return framing{}, malformed("conflicting Content-Length values")
		}
	}
	n, ok := parseLength(cl[0])
	if !ok {
		return framing{}, malformed("invalid Content-Length " + quote(cl[0]))
	}
	return framing{length: n}, nil
}

// parseLength parses a Content-Length: decimal digits only, and small
// enough that no int64 overflows.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether a comma-separated field (Connection, say) lists
// token, in any case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(trimOWS(t), token) {
				return true
			}
		}
	}
	return false
}

// bodyReader reads one message body from the connection's reader: n more
// bytes of a fixed-length body, a chunked body (then its trailer section),
// or everything up to EOF (a response without a length). It reports io.EOF
// once the body is over and leaves br at the next message.
//
// A chunked body's trailer fields are dropped unread, unless trailer is
// set: then they are read as strictly as header fields (a malformed one
// fails the body's read, as with net/http), and added to *trailer.
type bodyReader struct {
	br      *bufio.Reader
	n       int64     // bytes left of a fixed-length body
	chunks  io.Reader // the chunked body's reader, or nil
	toEOF   bool      // the body runs until the connection ends
	done    bool      // the body was read to its end
	err     error     // the error that ended reading early, returned again
	maxHead int       // the bound on a chunked body's trailer
	trailer *http.Header
}

func (b *bodyReader) reset(br *bufio.Reader, f framing, toEOF bool, maxHead int) {
	*b = bodyReader{br: br, maxHead: maxHead}
	switch {
	case f.chunked:
		b.chunks = httputil.NewChunkedReader(br)
	case f.length >= 0:
		b.n = f.length
		b.done = f.length == 0
	case toEOF:
		b.toEOF = true
	default:
		b.done = true
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	switch {
	case b.chunks != nil:
		n, err := b.chunks.Read(p)
		if err == io.EOF {
			if err = b.skipTrailer(); err == nil {
				b.done = true
				return n, io.EOF
			}
		}
		if err != nil {
			b.err = err
		}
		return n, err
	case b.toEOF:
		n, err := b.br.Read(p)
		if err == io.EOF {
			b.done = true
		} else if err != nil {
			b.err = err
		}
		return n, err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	if b.n == 0 {
		b.done = true
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		b.err = err // a deadline interrupts; reading can go on after it
	}
	return n, err
}

// resumable reports whether reading can go on after a deadline
// interrupted it: not inside a chunked body, whose reader keeps its error.
func (b *bodyReader) resumable() bool {
	return b.err == nil && b.chunks == nil
}

// skipTrailer reads the trailer section after a chunked body's last chunk,
// up to the empty line that ends the message, and parses it into
// *b.trailer if that is set.
func (b *bodyReader) skipTrailer() error {
	read := 0
	var fields []byte // the trailer's lines, if they are wanted
	for {
		line, err := b.br.ReadSlice('\n')
		read += len(line)
		if read > b.maxHead || err == bufio.ErrBufferFull {
			return errors.New("chunked body's trailer too large")
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			break
		}
		if b.trailer != nil {
			fields = append(fields, line...)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	h, err := parseFields(string(fields))
	if err != nil {
		return errors.New("malformed trailer: " + err.Error())
	}
	if *b.trailer == nil {
		*b.trailer = h
		return nil
	}
	for k, v := range h {
		(*b.trailer)[k] = v
	}
	return nil
}

// discard reads what is left of the body, at most limit bytes, and reports
// whether it reached the body's end, leaving the reader at the next
// message.
func (b *bodyReader) discard(limit int64) bool {
	if b.err != nil {
		return false
	}
	if b.done {
		return true
	}
	if b.chunks == nil && !b.toEOF {
		if b.n > limit {
			return false
		}
		n, _ := b.br.Discard(int(b.n))
		b.n -= int64(n)
		b.done = b.n == 0
		return b.done
	}
	var buf [512]byte
	for read := int64(0); read <= limit; {
		n, err := b.Read(buf[:])
		read += int64(n)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
