package wire

import "strconv"

// ValueError is a value that cannot be decoded into the Go type at hand, or
// a Go value that cannot be encoded, said in the protocol's terms: where in
// the value, and what is wrong. Its text names no Go type, for a server
// sends it to the caller ("invalid params: param 2: points[1].x: cannot use
// string as a 64-bit integer"), and starts with no package name, for the
// same reason.
type ValueError struct {
	// Path is where in the value: "points[1].x", `labels["a"]`, "[0]"; empty
	// for the value itself.
	Path string
	// Msg is what is wrong: "cannot use string as a 64-bit integer".
	Msg string
	// Err is the cause, when the error came from elsewhere (a type's own
	// decoding method); nil otherwise.
	Err error
}

// Error returns Path and Msg.
func (e *ValueError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap returns Err.
func (e *ValueError) Unwrap() error { return e.Err }

// valueError returns err as a *ValueError, which the At functions may
// change: err itself when it is one, else a new one with err as its cause.
func valueError(err error) *ValueError {
	if e, ok := err.(*ValueError); ok {
		return e
	}
	return &ValueError{Msg: err.Error(), Err: err}
}

// AtIndex places err, an error about an element of an array, at index i:
// its path gains "[i]" in front. A *ValueError is changed in place; any
// other error becomes the cause of a new one.
func AtIndex(err error, i int) error {
	e := valueError(err)
	e.Path = join("["+strconv.Itoa(i)+"]", e.Path)
	return e
}

// AtField places err, an error about a struct field or a named param, at
// the field named name.
func AtField(err error, name string) error {
	e := valueError(err)
	e.Path = join(clip(name), e.Path)
	return e
}

// AtKey places err, an error about a map value, at the key.
func AtKey(err error, key string) error {
	e := valueError(err)
	e.Path = join("["+strconv.Quote(clip(key))+"]", e.Path)
	return e
}

func join(outer, path string) string {
	if path == "" || path[0] == '[' {
		return outer + path
	}
	return outer + "." + path
}

// maxPathName bounds how much of a name or key an error repeats, so that a
// hostile key does not come back as a huge reply.
const maxPathName = 64

func clip(s string) string {
	if len(s) <= maxPathName {
		return s
	}
	return s[:maxPathName] + "..."
}

// DepthError is a value or message nested deeper than a codec's limit, or
// a cyclic value.
type DepthError struct {
	Codec string // the codec's name: "json"
	Max   int    // the limit, in levels of arrays and maps
}

// Error says "<codec>: nested deeper than <max> levels".
func (e *DepthError) Error() string {
	return e.Codec + ": nested deeper than " + strconv.Itoa(e.Max) + " levels"
}

// Reply returns the *Error a server sends for a request over the limit,
// with CodeLimitExceeded.
func (e *DepthError) Reply() *Error {
	return &Error{Code: CodeLimitExceeded, Message: "limit exceeded: nested deeper than " + strconv.Itoa(e.Max) + " levels"}
}
