package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Scheme is the HTTP authentication scheme of this package (see the package
// documentation).
const Scheme = "PolyRPC-HMAC"

// signingLabel starts every string the HTTP scheme signs. It keeps an HTTP
// MAC apart from a handshake MAC made with the same key: a handshake signs
// whatever a server sends as a challenge, but always something that starts
// with '{' or is 20 bytes long and hashed with MD5.
const signingLabel = "PolyRPC-HMAC-SHA256"

// Header names of the HTTP scheme.
const (
	headerAuthenticate = "WWW-Authenticate"
	headerAuthorize    = "Authorization"
	headerInfo         = "Authentication-Info"
)

// httpMAC returns the MAC of a request (see the package documentation).
func httpMAC(secret []byte, keyID, nonce, method, target, contentType string, body []byte) []byte {
	sum := sha256.Sum256(body)
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	msg := make([]byte, 0, len(signingLabel)+len(keyID)+len(nonce)+len(method)+len(target)+len(contentType)+6+len(hexSum))
	for _, part := range []string{signingLabel, keyID, nonce, method, target, contentType} {
		msg = append(msg, part...)
		msg = append(msg, '\n')
	}
	msg = append(msg, hexSum[:]...)
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return m.Sum(nil)
}

// authParams is one challenge or credentials of an authentication header:
// a scheme and its parameters, names in lower case.
type authParams struct {
	scheme string
	params map[string]string
}

// parseAuth parses the challenges or credentials of an authentication header
// value (RFC 9110, section 11): a scheme, then comma separated name=value
// parameters, values a token or a quoted-string. Parameters before any
// scheme, as in Authentication-Info, have the scheme "". A token68 is taken as the
// name of an empty parameter, which is harmless since no scheme of ours has
// one. Parsing stops at the first byte that fits nowhere.
func parseAuth(s string) []authParams {
	var out []authParams
	for {
		s = strings.TrimLeft(s, " \t,")
		name, rest := cutToken(s)
		if name == "" {
			return out
		}
		rest = strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(rest, "=") {
			out = append(out, authParams{scheme: name, params: map[string]string{}})
			s = rest
			continue
		}
		if len(out) == 0 {
			// Parameters with no scheme before them, as in
			// Authentication-Info.
			out = append(out, authParams{params: map[string]string{}})
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		var value string
		var ok bool
		if strings.HasPrefix(rest, `"`) {
			value, rest, ok = cutQuoted(rest)
			if !ok {
				return out
			}
		} else {
			value, rest = cutToken(rest)
			rest = strings.TrimLeft(rest, "=") // the padding of a token68
		}
		params := out[len(out)-1].params
		if key := strings.ToLower(name); params[key] == "" {
			params[key] = value
		}
		s = rest
	}
}

// findAuth returns the parameters of the first item of scheme in the header
// values.
func findAuth(values []string, scheme string) (map[string]string, bool) {
	for _, v := range values {
		for _, a := range parseAuth(v) {
			if strings.EqualFold(a.scheme, scheme) {
				return a.params, true
			}
		}
	}
	return nil, false
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}

// cutToken splits s after its leading token (with '/' allowed, for token68).
func cutToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenByte(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// cutQuoted splits s, which starts with '"', after its quoted-string, and
// returns the string unescaped.
func cutQuoted(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}
