package httprpc

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/rpc"
)

// maxStatusBody is how much of an error response's body a StatusError keeps:
// enough for a server's explanation, not a whole error page.
const maxStatusBody = 200

// StatusError is the error of a call that the server answered with an HTTP
// status other than success: it refused the request before any codec saw it
// (405, 413, 415), or something between client and server failed. 401
// Unauthorized is no StatusError but an *rpc.Error (see NewTransport).
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Body is the start of the response body, at most 200 bytes, trimmed
	// of surrounding white space.
	Body string
}

// HTTPStatus returns the HTTP status code: clients over many endpoints
// (rpc/cluster) try another endpoint on 503.
func (e *StatusError) HTTPStatus() int { return e.Code }

// Error returns "httprpc: <code> <status text>: <body>".
func (e *StatusError) Error() string {
	s := "httprpc: " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		s += " " + t
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// statusError returns the error of a call answered with status code and a
// body starting with body: an *rpc.Error for 401 Unauthorized, the answer of
// an authenticating server (auth.HTTPHandler) to a caller without valid
// credentials, so that the caller sees the same error on every transport;
// a *StatusError for any other.
func statusError(code int, body []byte) error {
	se := newStatusError(code, body)
	if code != http.StatusUnauthorized {
		return se
	}
	msg := "httprpc: the server requires authentication: " + strconv.Itoa(code) + " " + http.StatusText(code)
	if se.Body != "" {
		msg += ": " + se.Body
	}
	return &rpc.Error{Code: rpc.CodeUnauthenticated, Message: msg}
}

// newStatusError builds the StatusError of a response from the first bytes
// of its body, at most maxStatusBody of them.
func newStatusError(code int, body []byte) *StatusError {
	if len(body) >= maxStatusBody {
		body = body[:maxStatusBody]
		// The body may go on: do not end in a character cut in two.
		for i := 1; i < utf8.UTFMax && len(body) > 0; i++ {
			r, size := utf8.DecodeLastRune(body)
			if r != utf8.RuneError || size > 1 {
				break
			}
			body = body[:len(body)-1]
		}
	}
	return &StatusError{Code: code, Body: strings.TrimSpace(string(body))}
}
