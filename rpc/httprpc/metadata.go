package httprpc

import (
	"errors"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/polyrpc/polyrpc/rpc/metadata"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// A call's metadata travels over HTTP as headers: each entry is a header of
// the same name (Polyrpc-Timeout-Ms for metadata.TimeoutKey), in the request
// and, for the reply's metadata, in the response. HTTP's own headers
// (metadata.IsHTTPOwn) and names that are not valid keys are not metadata.
// Repeated headers are one entry, their values joined by ", ".

// timeoutHeader is metadata.TimeoutKey as a header name.
const timeoutHeader = "Polyrpc-Timeout-Ms"

// headerCarrier is the wire.Carrier of a request a Handler serves: the
// request's headers, and the response's for the reply's metadata.
type headerCarrier struct {
	req http.Header
	w   http.ResponseWriter
}

// Get implements wire.Carrier.
func (c *headerCarrier) Get(key string) string {
	if key == metadata.TimeoutKey {
		return joined(c.req[timeoutHeader])
	}
	if metadata.IsHTTPOwn(key) {
		return ""
	}
	var buf [metadata.MaxKeyLen]byte
	if k, ok := canonicalKey(buf[:0], key); ok {
		return joined(c.req[string(k)])
	}
	return joined(c.req[textproto.CanonicalMIMEHeaderKey(key)])
}

// canonicalKey appends the header name of key, as
// textproto.CanonicalMIMEHeaderKey has it, to dst, when key is a metadata
// key (lower case letters, digits, "-", "_" and "."), so that looking the
// header up costs no allocation; it reports false for any other key.
func canonicalKey(dst []byte, key string) ([]byte, bool) {
	if key == "" || len(key) > cap(dst)-len(dst) {
		return dst, false
	}
	upper := true
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.':
		default:
			return dst, false
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst, true
}

// Metadata implements wire.Carrier.
func (c *headerCarrier) Metadata() metadata.MD {
	return headerMetadata(c.req)
}

// Validate implements wire.Carrier: the request's metadata is within
// metadata's bounds.
func (c *headerCarrier) Validate() error {
	entries := 0
	for k, vs := range c.req {
		if ownHeader(k) {
			continue
		}
		entries++
		if len(k) > metadata.MaxKeyLen {
			return errors.New("metadata: key " + strconv.Quote(k[:16]+"...") + " longer than " + strconv.Itoa(metadata.MaxKeyLen) + " bytes")
		}
		if n := len(joined(vs)); n > metadata.MaxValueLen {
			return errors.New("metadata " + strings.ToLower(k) + ": value of " + strconv.Itoa(n) + " bytes, over " + strconv.Itoa(metadata.MaxValueLen))
		}
	}
	if entries > metadata.MaxEntries {
		return errors.New("metadata: " + strconv.Itoa(entries) + " entries (headers), more than " + strconv.Itoa(metadata.MaxEntries))
	}
	return nil
}

// SetReply implements wire.Carrier: the reply's metadata goes out as
// response headers.
func (c *headerCarrier) SetReply(md metadata.MD) {
	h := c.w.Header()
	for k, v := range md {
		if metadata.IsHTTPOwn(k) {
			continue // a Content-Type of the handler's would break the reply
		}
		h[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
}

// headerMetadata returns the metadata of a request's or a response's
// headers.
func headerMetadata(h http.Header) metadata.MD {
	var md metadata.MD
	for k, vs := range h {
		if ownHeader(k) {
			continue
		}
		lk := strings.ToLower(k)
		if metadata.ValidKey(lk) != nil {
			continue
		}
		if md == nil {
			md = metadata.MD{}
		}
		md[lk] = joined(vs)
	}
	return md
}

// setHeaders adds md to a request's headers.
func setHeaders(h http.Header, md metadata.MD) {
	for k, v := range md {
		if metadata.IsHTTPOwn(k) {
			continue // refused by metadata's validation before this
		}
		h[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
}

// ownHeader reports whether the canonical header name k is HTTP's own,
// without lowering it unless it could be metadata.
func ownHeader(k string) bool {
	if ownCanonical[k] {
		return true
	}
	for _, p := range ownPrefixes {
		if len(k) >= len(p) && strings.EqualFold(k[:len(p)], p) {
			return true
		}
	}
	if len(k) > metadata.MaxKeyLen {
		return false
	}
	var buf [metadata.MaxKeyLen]byte
	return metadata.IsHTTPOwn(string(lowerKey(buf[:0], k)))
}

// lowerKey appends k in lower case (ASCII) to dst.
func lowerKey(dst []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// ownCanonical are the most common of HTTP's own headers, as Go canonicalizes
// them: they are recognized without lowering.
var ownCanonical = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Authorization": true, "Connection": true,
	"Date": true, "Host": true, "User-Agent": true, "Vary": true, "Server": true, "Origin": true,
	"Te": true, "Transfer-Encoding": true, "Keep-Alive": true, "Expect": true,
}

var ownPrefixes = []string{"Content-", "Sec-", "Proxy-"}

func joined(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return strings.Join(vs, ", ")
}

var _ wire.Carrier = (*headerCarrier)(nil)
