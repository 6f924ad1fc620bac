package httpengine_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/httpengine"
)

// TestDifferential sends the same raw requests, byte for byte, to the
// engine's Server and to net/http's, and compares what each answers: the
// status of every response, what the handler saw of a request it served,
// and whether the connection carried on to the request sent after it.
// The engine is meant to read requests as net/http does, or more strictly
// where a message is ambiguous; every difference is listed in
// diffIntended with its reason in RFC 9112 (in RFC 9110 for a limit and
// for interim responses), and a difference not listed fails the test, as
// does a listed one that is gone.
//
// Each case's bytes are followed by a probe request (diffProbe), and the
// client then closes its sending side: a server that kept the connection
// answers the probe and closes on the end of input, so each exchange ends
// with the connection's close and no timing matters. The read deadline is
// a guard against hangs only.

// diffHangGuard bounds each exchange; a server that has not closed the
// connection by then shows as "hang" in the outcome.
const diffHangGuard = 10 * time.Second

// diffMaxHeader is both servers' MaxHeaderBytes. (net/http reads up to 4096
// bytes more than its MaxHeaderBytes before it refuses a head; see the
// case "head between the limits".)
const diffMaxHeader = 8 << 10

// diffProbe follows every case's bytes.
const diffProbe = "GET /probe HTTP/1.1\r\nHost: x\r\n\r\n"

// diffEcho reads the whole body and answers with what it saw of the
// request; a body it cannot read gets 400. At /early it sends 103 Early
// Hints first, at /continue 100 Continue, before reading the body.
var diffEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/early":
		w.Header().Set("Link", "</s>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
	case "/continue":
		w.WriteHeader(http.StatusContinue)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > 32 {
		body = append(body[:32:32], "..."...)
	}
	fmt.Fprintf(w, "%s %s host=%s len=%d body=%q", r.Method, r.URL, r.Host, r.ContentLength, body)
})

type diffCase struct {
	name string
	req  string // sent as it is, followed by diffProbe
}

const dh = "Host: x\r\n"

var diffCases = []diffCase{
	// Baselines: plain requests that both must serve alike.
	{"GET", "GET /a HTTP/1.1\r\n" + dh + "\r\n"},
	{"POST with Content-Length", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 5\r\n\r\nhello"},
	{"POST chunked", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"Connection close", "GET /a HTTP/1.1\r\n" + dh + "Connection: close\r\n\r\n"},

	// Content-Length.
	{"two identical Content-Length", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{"conflicting Content-Length in other cases", "POST /a HTTP/1.1\r\n" + dh + "content-length: 5\r\nCONTENT-LENGTH: 6\r\n\r\nhello!"},
	{"two conflicting Content-Length", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{"Content-Length list in one field", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 5, 5\r\n\r\nhello"},
	{"Content-Length +5", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: +5\r\n\r\nhello"},
	{"Content-Length -5", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: -5\r\n\r\nhello"},
	{"Content-Length with spaces around", "POST /a HTTP/1.1\r\n" + dh + "Content-Length:   5  \r\n\r\nhello"},
	{"Content-Length with leading zeros", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 0005\r\n\r\nhello"},
	{"Content-Length 0x5", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 0x5\r\n\r\nhello"},
	{"Content-Length 5 5", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 5 5\r\n\r\nhello"},
	{"Content-Length empty", "POST /a HTTP/1.1\r\n" + dh + "Content-Length:\r\n\r\nhello"},
	{"Content-Length overflowing int64", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 99999999999999999999\r\n\r\nhello"},
	{"Content-Length longer than the body", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 100\r\n\r\nhello"},
	{"GET with a body", "GET /a HTTP/1.1\r\n" + dh + "Content-Length: 5\r\n\r\nhello"},
	{"pipelined after a too short Content-Length", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 3\r\n\r\nhelloGET /second HTTP/1.1\r\n" + dh + "\r\n"},

	// Transfer-Encoding.
	{"Transfer-Encoding chunked, identity", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"Transfer-Encoding empty", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding:\r\n\r\n"},
	{"Transfer-Encoding identity", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: identity\r\n\r\n"},
	{"Transfer-Encoding gzip, chunked", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	{"Transfer-Encoding chunked, gzip (chunked not last)", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
	{"Transfer-Encoding chunked twice", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"Transfer-Encoding CHUNKED", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"Transfer-Encoding in HTTP/1.0", "POST /a HTTP/1.0\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"Transfer-Encoding in HTTP/1.0 keep-alive", "POST /a HTTP/1.0\r\n" + dh + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{"GET chunked", "GET /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},

	// Request smuggling classics: a front end that reads the framing one
	// way and a back end that reads it the other see different requests.
	{"CL.TE", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"},
	{"TE.CL", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + diffChunk("GET /smuggled HTTP/1.1\r\n"+dh+"\r\n") + "0\r\n\r\n"},
	{"TE.TE space before colon", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{"TE.TE xchunked", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{"TE.TE tab before value", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n"},
	{"TE.TE second field", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n"},
	{"TE.TE folded value", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
	{"TE.TE folded onto another field", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE.TE quoted chunked", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"},
	{"TE.TE vertical tab", "POST /a HTTP/1.1\r\n" + dh + "Content-Length: 4\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n"},

	// Chunks.
	{"chunk extension", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0;x\r\n\r\n"},
	{"chunk size overflowing", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n"},
	{"chunk size 0x5", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{"chunk size -5", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
	{"chunk size huge", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{"chunk size with trailing space", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"},
	{"chunk data longer than its size", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"},
	{"chunk lines ending in bare LF", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\n\n"},
	{"chunked without last chunk", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
	{"chunked trailer", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n\r\n"},
	{"chunked trailer with NUL", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n"},
	{"chunked trailer folded", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"},
	{"Trailer announcing Content-Length", "POST /a HTTP/1.1\r\n" + dh + "Transfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},

	// Field lines.
	{"obs-fold", "GET /a HTTP/1.1\r\n" + dh + "X-A: b\r\n c\r\n\r\n"},
	{"obs-fold on the first field", "GET /a HTTP/1.1\r\n X-A: b\r\n" + dh + "\r\n"},
	{"space before colon", "GET /a HTTP/1.1\r\n" + dh + "X-A : b\r\n\r\n"},
	{"tab before colon", "GET /a HTTP/1.1\r\n" + dh + "X-A\t: b\r\n\r\n"},
	{"bare LF line ends", "GET /a HTTP/1.1\n" + dh[:len(dh)-2] + "\nX-A: b\n\n"},
	{"bare CR in a field", "GET /a HTTP/1.1\r\n" + dh + "X-A: b\rX-B: c\r\n\r\n"},
	{"bare CR line ends", "GET /a HTTP/1.1\r" + dh[:len(dh)-2] + "\r\r"},
	{"NUL in a value", "GET /a HTTP/1.1\r\n" + dh + "X-A: b\x00c\r\n\r\n"},
	{"DEL in a value", "GET /a HTTP/1.1\r\n" + dh + "X-A: b\x7fc\r\n\r\n"},
	{"obs-text in a value", "GET /a HTTP/1.1\r\n" + dh + "X-A: b\xe9c\r\n\r\n"},
	{"invalid character in a name", "GET /a HTTP/1.1\r\n" + dh + "X(A): b\r\n\r\n"},
	{"non-ASCII name", "GET /a HTTP/1.1\r\n" + dh + "X-\xe9: b\r\n\r\n"},
	{"empty name", "GET /a HTTP/1.1\r\n" + dh + ": b\r\n\r\n"},
	{"line without colon", "GET /a HTTP/1.1\r\n" + dh + "X-A b\r\n\r\n"},
	{"many fields", "GET /a HTTP/1.1\r\n" + dh + strings.Repeat("X-A: b\r\n", 500) + "\r\n"},

	// Host.
	{"no Host in HTTP/1.1", "GET /a HTTP/1.1\r\nX-A: b\r\n\r\n"},
	{"no Host in HTTP/1.0", "GET /a HTTP/1.0\r\n\r\n"},
	{"two Host fields", "GET /a HTTP/1.1\r\n" + dh + "Host: y\r\n\r\n"},
	{"empty Host", "GET /a HTTP/1.1\r\nHost:\r\n\r\n"},
	{"Host with a space", "GET /a HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{"Host with userinfo", "GET /a HTTP/1.1\r\nHost: u@x\r\n\r\n"},
	{"Host with a port", "GET /a HTTP/1.1\r\nHost: x:8080\r\n\r\n"},

	// Request line and target.
	{"absolute-form target", "GET http://y/abs HTTP/1.1\r\n" + dh + "\r\n"},
	{"absolute-form without Host", "GET http://y/abs HTTP/1.1\r\n\r\n"},
	{"absolute-form with userinfo", "GET http://u@y/abs HTTP/1.1\r\n" + dh + "\r\n"},
	{"authority-form CONNECT", "CONNECT y:443 HTTP/1.1\r\nHost: y:443\r\n\r\n"},
	{"authority-form CONNECT without port", "CONNECT y HTTP/1.1\r\nHost: y\r\n\r\n"},
	{"authority-form CONNECT with userinfo", "CONNECT u@y:443 HTTP/1.1\r\nHost: y:443\r\n\r\n"},
	{"origin-form CONNECT", "CONNECT /_goRPC_ HTTP/1.1\r\n" + dh + "\r\n"},
	{"asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\n" + dh + "\r\n"},
	{"asterisk-form GET", "GET * HTTP/1.1\r\n" + dh + "\r\n"},
	{"fragment in target", "GET /a#f HTTP/1.1\r\n" + dh + "\r\n"},
	{"invalid percent-encoding in target", "GET /%zz HTTP/1.1\r\n" + dh + "\r\n"},
	{"lower-case method", "get /a HTTP/1.1\r\n" + dh + "\r\n"},
	{"invalid method", "G(T /a HTTP/1.1\r\n" + dh + "\r\n"},
	{"double space in request line", "GET  /a HTTP/1.1\r\n" + dh + "\r\n"},
	{"tab in request line", "GET\t/a HTTP/1.1\r\n" + dh + "\r\n"},
	{"trailing space in request line", "GET /a HTTP/1.1 \r\n" + dh + "\r\n"},
	{"empty line before request line", "\r\nGET /a HTTP/1.1\r\n" + dh + "\r\n"},
	{"five empty lines before request line", "\r\n\r\n\r\n\r\n\r\nGET /a HTTP/1.1\r\n" + dh + "\r\n"},
	{"HTTP/0.9", "GET /a\r\n"},
	{"HTTP/1.0", "GET /a HTTP/1.0\r\n" + dh + "\r\n"},
	{"HTTP/1.0 keep-alive", "GET /a HTTP/1.0\r\n" + dh + "Connection: keep-alive\r\n\r\n"},
	{"HTTP/1.2", "GET /a HTTP/1.2\r\n" + dh + "\r\n"},
	{"HTTP/1.10", "GET /a HTTP/1.10\r\n" + dh + "\r\n"},
	{"h2c upgrade", "GET /a HTTP/1.1\r\n" + dh + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"},
	{"HTTP/2.0 in an HTTP/1 request line", "GET /a HTTP/2.0\r\n" + dh + "\r\n"},
	{"lower-case version", "GET /a http/1.1\r\n" + dh + "\r\n"},

	// Interim responses from the handler.
	{"103 Early Hints", "GET /early HTTP/1.1\r\n" + dh + "\r\n"},
	{"103 Early Hints to HTTP/1.0", "GET /early HTTP/1.0\r\n" + dh + "Connection: keep-alive\r\n\r\n"},

	// Limits.
	{"long request line", "GET /" + strings.Repeat("a", 20<<10) + " HTTP/1.1\r\n" + dh + "\r\n"},
	{"head over both limits", "GET /a HTTP/1.1\r\n" + dh + "X-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n"},
	{"head between the limits", "GET /a HTTP/1.1\r\n" + dh + "X-Big: " + strings.Repeat("b", diffMaxHeader+1024) + "\r\n\r\n"},

	// Expect.
	{"Expect 100-continue", "POST /a HTTP/1.1\r\n" + dh + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"Expect 100-continue without body", "GET /a HTTP/1.1\r\n" + dh + "Expect: 100-continue\r\n\r\n"},
	{"Expect 100-continue in HTTP/1.0", "POST /a HTTP/1.0\r\n" + dh + "Connection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"Expect 100-continue answered by the handler", "POST /continue HTTP/1.1\r\n" + dh + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{"Expect something else", "POST /a HTTP/1.1\r\n" + dh + "Expect: something\r\nContent-Length: 5\r\n\r\nhello"},
}

// diffChunk returns s as one chunk of a chunked body.
func diffChunk(s string) string {
	return fmt.Sprintf("%x\r\n%s\r\n", len(s), s)
}

// diffIntended lists the cases that the engine answers otherwise than
// net/http, each with the engine's outcome (as diffExchange gives it) and
// the reason. The engine is never laxer than net/http where a message is
// ambiguous; where it is laxer, RFC 9112 asks for it.
var diffIntended = map[string]struct {
	own    string
	reason string
}{
	// Framing: both Transfer-Encoding and Content-Length.
	"CL.TE": {"400", rfcBothFraming},
	"TE.CL": {"400", rfcBothFraming},
	"TE.TE tab before value": {"400", rfcBothFraming +
		" (A tab is optional white space: the field is Transfer-Encoding: chunked.)"},
	"TE.TE second field": {"400", rfcBothFramingFirst},
	"TE.TE xchunked":     {"400", rfcBothFramingFirst},
	"Transfer-Encoding in HTTP/1.0": {"400", "RFC 9112 §6.1: a server that receives an HTTP/1.0 " +
		"message with a Transfer-Encoding MUST treat its framing as faulty, even with a " +
		"Content-Length, and close the connection. The engine refuses it (400) and closes; " +
		"net/http ignores the field and serves the request without a body."},
	"Transfer-Encoding in HTTP/1.0 keep-alive": {"400", "RFC 9112 §6.1, as for \"Transfer-Encoding in " +
		"HTTP/1.0\": net/http ignores the field, serves the request without a body and keeps the " +
		"connection, reading the chunked body as the next request (its 400); the engine refuses " +
		"the request (400) and closes."},

	// Field lines.
	"obs-fold": {"400", rfcObsFold},
	"TE.TE folded value": {"400", rfcObsFold + " Here net/http unfolds the value to chunked, " +
		"which then overrides the Content-Length (see rfcBothFraming)."},
	"TE.TE folded onto another field": {"400", rfcObsFold + " Here net/http folds the line into " +
		"X-A and frames the body by Content-Length, where a reader that takes the line for a " +
		"Transfer-Encoding field sees another message: the smuggling the rule is there for."},
	"chunked trailer folded": {"400", rfcObsFold + " Trailer fields are field lines too " +
		"(RFC 9112 §7.1.2): the engine fails the body's read (the handler's 400)."},

	// Request line and target.
	"empty line before request line": {`200 GET /a host=x len=0 body="" / ` + diffProbeServed,
		"RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before a " +
			"request line. The engine ignores up to four before any request; net/http only " +
			"after a POST, and refuses one before the first request (400)."},
	"asterisk-form GET": {"400", "RFC 9112 §3.2.4: the asterisk form is for a server-wide " +
		"OPTIONS alone. The engine refuses it with any other method (400); net/http hands " +
		"the handler a request for the path *."},
	"authority-form CONNECT without port": {"400", "RFC 9112 §3.2.3: the authority form is " +
		"uri-host \":\" port, and the port is not optional. The engine refuses a CONNECT " +
		"without one (400); net/http serves it."},
	"authority-form CONNECT with userinfo": {"400", "RFC 9112 §3.2.3: the authority form is " +
		"uri-host \":\" port, with no userinfo. The engine refuses it (400); net/http serves " +
		"it, with the userinfo in URL.User."},

	// Interim responses.
	"103 Early Hints to HTTP/1.0": {`200 GET /early host=x len=0 body="" / ` + diffProbeServed,
		"RFC 9110 §15.2: a server MUST NOT send a 1xx response to an HTTP/1.0 client. The " +
			"engine drops a handler's 1xx then; net/http sends it."},

	// Limits.
	"long request line": {"414", "RFC 9112 §3: a server that receives a request-target longer " +
		"than any URI it wishes to parse MUST respond with 414 (URI Too Long). The engine " +
		"answers a request line longer than MaxHeaderBytes so; net/http answers 431, as for " +
		"a head too large."},
	"head between the limits": {"431", "RFC 9110 §5.4: a server MUST answer a header section " +
		"larger than it wishes to process with a 4xx (431, RFC 6585 §5). The engine holds a head " +
		"(request line and fields, RFC 9112 §2.1) to MaxHeaderBytes exactly; net/http reads " +
		"4096 bytes past its MaxHeaderBytes before it refuses one, and serves this head of " +
		"MaxHeaderBytes+1 KiB."},
}

// diffProbeServed is the outcome of the probe, answered.
const diffProbeServed = `200 GET /probe host=x len=0 body=""`

const (
	rfcBothFraming = "RFC 9112 §6.1: a server MAY reject a request with both Transfer-Encoding and " +
		"Content-Length, or process it by Transfer-Encoding alone, and MUST close the " +
		"connection after responding to it either way; §6.3 (item 3) calls such a message a " +
		"likely attempt at request smuggling, to be handled as an error. The engine refuses " +
		"it (400) and closes; net/http lets chunked override the Content-Length and keeps " +
		"the connection, serving what follows the chunked body as the next request."
	rfcBothFramingFirst = "RFC 9112 §6.1: a request with both Transfer-Encoding and " +
		"Content-Length, whose coding is not chunked alone. The engine refuses it for the " +
		"two framings (400), net/http for the coding it does not know (501, as §6.1 has it " +
		"for an unknown coding); both close."
	rfcObsFold = "RFC 9112 §5.2: a server that receives obs-fold in a request MUST either " +
		"reject the message with 400 or replace each obs-fold with spaces. The engine rejects " +
		"it (400, and closes); net/http unfolds and serves it."
)

func TestDifferential(t *testing.T) {
	own := diffStartOwn(t)
	std := diffStartNetHTTP(t)
	names := map[string]bool{}
	for _, tc := range diffCases {
		if names[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		names[tc.name] = true
	}
	for name := range diffIntended {
		if !names[name] {
			t.Errorf("diffIntended lists %q, which is no case", name)
		}
	}
	for _, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, want := diffExchange(t, own, tc.req), diffExchange(t, std, tc.req)
			in, listed := diffIntended[tc.name]
			switch {
			case got == want && listed:
				t.Errorf("listed as a difference, but both answer %s", got)
			case got != want && !listed:
				t.Errorf("engine: %s\nnet/http: %s\nan unlisted difference", got, want)
			case got != want && in.own != got:
				t.Errorf("engine: %s, listed as %s\nnet/http: %s", got, in.own, want)
			case listed:
				t.Logf("engine: %s\nnet/http: %s\nintended: %s", got, want, in.reason)
			default:
				t.Logf("both: %s", got)
			}
		})
	}
}

// diffStartOwn serves diffEcho with the engine's Server.
func diffStartOwn(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpengine.Server{
		Handler:           diffEcho,
		ReadHeaderTimeout: httpengine.DefaultReadHeaderTimeout,
		ReadTimeout:       httpengine.DefaultReadTimeout,
		IdleTimeout:       httpengine.DefaultIdleTimeout,
		MaxHeaderBytes:    diffMaxHeader,
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// diffStartNetHTTP serves diffEcho with net/http's Server, with the same
// limits.
func diffStartNetHTTP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{
		Handler:           diffEcho,
		ReadHeaderTimeout: httpengine.DefaultReadHeaderTimeout,
		ReadTimeout:       httpengine.DefaultReadTimeout,
		IdleTimeout:       httpengine.DefaultIdleTimeout,
		MaxHeaderBytes:    diffMaxHeader,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// diffExchange sends req and the probe to addr on a new connection, closes
// the sending side, and returns the outcome: each response's status (with
// what the handler saw, for a 2xx), " / " between them, and how the
// exchange ended: nothing when the server closed the connection after its
// last response, "hang" when it did not close it, "read error" and the
// error when reading failed otherwise, "junk" and the bytes when it sent
// something that is no response.
func diffExchange(t *testing.T, addr, req string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(diffHangGuard))
	// A server that refuses a request may close the connection before it
	// read all of it, failing these; its answer is read all the same.
	io.WriteString(nc, req+diffProbe)
	nc.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(nc)
	var out []string
	for {
		if _, err := br.Peek(1); err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				out = append(out, "hang")
			case !diffClosed(err):
				out = append(out, "read error: "+err.Error())
			}
			break
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			more, _ := br.Peek(br.Buffered())
			out = append(out, fmt.Sprintf("junk %q", more))
			break
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil && !diffClosed(err) {
			out = append(out, fmt.Sprintf("%d with a body cut short: %v", resp.StatusCode, err))
			break
		}
		o := fmt.Sprint(resp.StatusCode)
		if resp.StatusCode/100 == 2 {
			o += " " + string(body)
		}
		out = append(out, o)
	}
	return strings.Join(out, " / ")
}

// diffClosed reports whether err is how a read sees a connection that the
// server closed: EOF, or a reset when it closed with bytes of ours unread.
func diffClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}
