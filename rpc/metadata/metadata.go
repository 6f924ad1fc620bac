// Package metadata is the metadata of a call: string keys to string values
// that travel with a request and its reply, beside the params and the
// result, like HTTP headers or gRPC metadata. A client sets a call's
// metadata through its context (NewOutgoingContext) or an interceptor
// (rpc.Call.SetMetadata); a handler reads it with rpc.Call.Metadata and
// answers with rpc.Call.SetReplyMetadata.
//
// Over HTTP each entry is a header of the same name; over a stream (TCP
// frames) it travels inside the message, in the codecs whose envelope has
// room for it (JSON-RPC, msgpack-rpc, protobuf; not XML-RPC). A message
// without metadata is exactly what it was without this package, so stock
// clients see no change.
//
// Keys are lower case: letters, digits and "-", "_", "."; HTTP's own
// header names (content-type, host, connection, ...) are not keys. Values
// are printable text. Metadata is bounded: MaxEntries entries of at most
// MaxKeyLen and MaxValueLen bytes; a server refuses a call over the bounds
// with CodeInvalidRequest (-32600).
package metadata

import (
	"context"
	"fmt"
	"strings"
)

// The bounds of a call's metadata, in each direction.
const (
	MaxEntries  = 64
	MaxKeyLen   = 64
	MaxValueLen = 4096
)

// TimeoutKey is the key under which a client sends the time left before
// its call's deadline, in whole milliseconds; over HTTP it is the header
// Polyrpc-Timeout-Ms.
const TimeoutKey = "polyrpc-timeout-ms"

// MD is metadata: lower-case keys to values. The zero MD is empty and
// read-only; New makes one to write to.
type MD map[string]string

// New returns metadata of the given key and value pairs; keys are lowered.
// It panics for an odd number of strings.
func New(pairs ...string) MD {
	if len(pairs)%2 != 0 {
		panic("metadata: New with an odd number of strings")
	}
	md := make(MD, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		md[strings.ToLower(pairs[i])] = pairs[i+1]
	}
	return md
}

// Get returns the value of key, "" when absent; key is looked up lower
// cased.
func (md MD) Get(key string) string {
	if v, ok := md[key]; ok {
		return v
	}
	return md[strings.ToLower(key)]
}

// Clone returns a copy of md that may be written to.
func (md MD) Clone() MD {
	out := make(MD, len(md)+1)
	for k, v := range md {
		out[k] = v
	}
	return out
}

// Validate reports the first entry of md that is not a valid key and
// value, or the bound that md exceeds.
func (md MD) Validate() error {
	if len(md) > MaxEntries {
		return fmt.Errorf("metadata: %d entries, more than %d", len(md), MaxEntries)
	}
	for k, v := range md {
		if err := ValidKey(k); err != nil {
			return err
		}
		if err := ValidValue(v); err != nil {
			return fmt.Errorf("metadata %s: %w", k, err)
		}
	}
	return nil
}

// ValidKey reports why key is not a valid metadata key, if it is not.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("metadata: key of %d bytes: want 1 to %d", len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("metadata: key %.64q: only a-z, 0-9, '-', '_' and '.'", key)
		}
	}
	if IsHTTPOwn(key) {
		return fmt.Errorf("metadata: key %q is an HTTP header of HTTP's own", key)
	}
	return nil
}

// ValidValue reports why v is not a valid metadata value, if it is not:
// too long, or holding a control character.
func ValidValue(v string) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("value of %d bytes, more than %d", len(v), MaxValueLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("value with control character %#x", c)
		}
	}
	return nil
}

// httpOwn reports whether name is one of the header names that HTTP
// itself uses, which are not metadata on the way in and cannot be keys on
// the way out; a switch, which costs less than a map for a key or two per
// call.
func httpOwn(name string) bool {
	switch name {
	case "accept", "accept-encoding", "accept-charset", "accept-language",
		"authorization", "connection", "cookie", "date", "expect",
		"host", "keep-alive", "origin", "referer", "server",
		"set-cookie", "te", "trailer", "transfer-encoding", "upgrade",
		"user-agent", "vary", "via", "www-authenticate",
		"authentication-info", "forwarded", "x-forwarded-for",
		"x-forwarded-host", "x-forwarded-proto", "cache-control", "pragma",
		"if-match", "if-none-match", "if-modified-since", "range",
		"age", "etag", "expires", "last-modified", "location",
		"retry-after", "alt-svc", "priority", "http2-settings":
		return true
	}
	return false
}

// IsHTTPOwn reports whether the header name (in lower case) is HTTP's own
// rather than metadata.
func IsHTTPOwn(name string) bool {
	return httpOwn(name) || strings.HasPrefix(name, "proxy-") || strings.HasPrefix(name, "sec-") || strings.HasPrefix(name, "content-")
}

type outgoingKey struct{}

// NewOutgoingContext returns a context whose calls send md (with what the
// calls' interceptors add). md is not modified and must not be afterwards.
func NewOutgoingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, outgoingKey{}, md)
}

// FromOutgoingContext returns the metadata that calls made with ctx send.
func FromOutgoingContext(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(outgoingKey{}).(MD)
	return md, ok
}
