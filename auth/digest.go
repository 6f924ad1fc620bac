package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"hash"
)

// digest is a hash that multiprocessing.connection names in braces.
type digest struct {
	name string
	size int
	new  func() hash.Hash
	weak bool // accepted only with WithAllowMD5
}

// digests are the ones Python 3.12+ allows (_ALLOWED_DIGESTS).
var digests = []*digest{
	{name: "md5", size: md5.Size, new: md5.New, weak: true},
	{name: "sha256", size: sha256.Size, new: sha256.New},
	{name: "sha384", size: sha512.Size384, new: sha512.New384},
	{name: "sha3_256", size: 32, new: func() hash.Hash { return sha3.New256() }},
	{name: "sha3_384", size: 48, new: func() hash.Hash { return sha3.New384() }},
}

var md5Digest = digests[0]

// offered is the digest our challenges name, as Python's do.
var offered = digests[1]

const (
	// maxDigestName is the longest name in digests.
	maxDigestName = len("sha3_256")
	// legacyChallengeLen and legacyAnswerLen are the body of a Python <= 3.11
	// challenge and its bare HMAC-MD5 answer. No modern message has either
	// length, which is how a modern peer tells a legacy one.
	legacyChallengeLen = 20
	legacyAnswerLen    = md5.Size
)

// parseMessage splits a challenge body or an answer as Python's
// _get_digest_name_and_payload does: a message of a legacy length has no
// prefix (d is nil); any other must start with a known {digest}.
func parseMessage(msg []byte) (d *digest, payload []byte, ok bool) {
	if len(msg) == legacyChallengeLen || len(msg) == legacyAnswerLen {
		return nil, msg, true
	}
	if len(msg) == 0 || msg[0] != '{' {
		return nil, nil, false
	}
	end := bytes.IndexByte(msg[1:min(len(msg), maxDigestName+2)], '}') + 1
	if end <= 1 {
		return nil, nil, false
	}
	name := msg[1:end]
	for _, d := range digests {
		if string(name) == d.name {
			return d, msg[end+1:], true
		}
	}
	return nil, nil, false
}

func mac(d *digest, secret, msg []byte) []byte {
	m := hmac.New(d.new, secret)
	m.Write(msg)
	return m.Sum(nil)
}

// appendResponse appends the answer to a challenge body: {name} and the HMAC
// of the whole body, prefix included, or for a legacy challenge (d nil) the
// bare HMAC-MD5.
func appendResponse(dst []byte, d *digest, secret, body []byte) []byte {
	if d == nil {
		return append(dst, mac(md5Digest, secret, body)...)
	}
	dst = append(dst, '{')
	dst = append(dst, d.name...)
	dst = append(dst, '}')
	return append(dst, mac(d, secret, body)...)
}
