package auth

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// nonceSize is the random bytes of an HTTP nonce; its text is base64url
// without padding.
const nonceSize = 24

var nonceTextLen = base64.RawURLEncoding.EncodedLen(nonceSize)

type nonce [nonceSize]byte

func (n nonce) String() string { return base64.RawURLEncoding.EncodeToString(n[:]) }

func parseNonce(s string) (nonce, bool) {
	var n nonce
	if len(s) != nonceTextLen {
		return n, false
	}
	m, err := base64.RawURLEncoding.Decode(n[:], []byte(s))
	return n, err == nil && m == nonceSize
}

// nonceStore holds the nonces issued and not yet used: each is good once,
// for ttl. It keeps at most max; issuing one more forgets the oldest. It is
// safe for concurrent use.
type nonceStore struct {
	ttl time.Duration
	max int

	mu     sync.Mutex
	issued map[nonce]time.Time
	// ring holds the last max nonces issued, oldest at head once full. A used
	// nonce stays in it until overwritten, so that memory stays within max
	// whatever the traffic.
	ring []nonce
	head int
}

func newNonceStore(ttl time.Duration, max int) *nonceStore {
	return &nonceStore{ttl: ttl, max: max, issued: make(map[nonce]time.Time)}
}

// issue returns a fresh nonce.
func (s *nonceStore) issue() nonce {
	var n nonce
	rand.Read(n[:]) // never fails: crypto/rand crashes the program instead
	now := time.Now()
	s.mu.Lock()
	if len(s.ring) < s.max {
		s.ring = append(s.ring, n)
	} else {
		delete(s.issued, s.ring[s.head])
		s.ring[s.head] = n
		s.head = (s.head + 1) % s.max
	}
	s.issued[n] = now
	s.mu.Unlock()
	return n
}

// valid says whether n is outstanding and unexpired, leaving it so.
func (s *nonceStore) valid(n nonce) bool {
	s.mu.Lock()
	t, ok := s.issued[n]
	s.mu.Unlock()
	return ok && time.Since(t) < s.ttl
}

// use reports whether n was outstanding and unexpired, and makes it unusable.
// Of concurrent uses of one nonce, one at most succeeds.
func (s *nonceStore) use(n nonce) bool {
	s.mu.Lock()
	t, ok := s.issued[n]
	delete(s.issued, n)
	s.mu.Unlock()
	return ok && time.Since(t) < s.ttl
}
