package auth

import (
	"container/heap"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"sync"
	"time"
)

// An HTTP nonce is stateless: the server that issues it keeps nothing, and
// any server holding the key it was made with verifies it (see the package
// documentation):
//
//	nonce    = base64url(T || R || tag), 48 characters
//	T        = issue time: 8 bytes, big-endian nanoseconds since 1970 UTC
//	R        = 12 random bytes
//	tag      = the first 16 bytes of HMAC-SHA256(nonceKey, T || R)
//	nonceKey = HMAC-SHA256(secret, "PolyRPC-HMAC nonce key")
const (
	nonceTimeLen = 8
	nonceRandLen = 12
	nonceTagLen  = 16
	nonceSize    = nonceTimeLen + nonceRandLen + nonceTagLen
)

// nonceKeyLabel derives a key's nonce key. Nothing else this package signs
// with a secret starts like it: a handshake signs "{digest}..." or 20 bytes
// with MD5, a request "PolyRPC-HMAC-SHA256\n...".
const nonceKeyLabel = "PolyRPC-HMAC nonce key"

// maxClockSkew is how far in the future an issue time may lie: the clocks of
// replicas differ a little.
const maxClockSkew = 5 * time.Second

var nonceTextLen = base64.RawURLEncoding.EncodedLen(nonceSize)

type nonce [nonceSize]byte

type nonceTag [nonceTagLen]byte

func (n nonce) String() string { return base64.RawURLEncoding.EncodeToString(n[:]) }

// issued is the nonce's issue time, in nanoseconds since 1970.
func (n nonce) issued() int64 { return int64(binary.BigEndian.Uint64(n[:nonceTimeLen])) }

func (n nonce) tag() (t nonceTag) {
	copy(t[:], n[nonceTimeLen+nonceRandLen:])
	return t
}

func parseNonce(s string) (nonce, bool) {
	var n nonce
	if len(s) != nonceTextLen {
		return n, false
	}
	m, err := base64.RawURLEncoding.Strict().Decode(n[:], []byte(s))
	return n, err == nil && m == nonceSize
}

func nonceKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(nonceKeyLabel))
	return m.Sum(nil)
}

func nonceMAC(key []byte, n *nonce) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(n[:nonceTimeLen+nonceRandLen])
	return m.Sum(nil)[:nonceTagLen]
}

// nonces issues nonces and checks them, and remembers the ones used. It is
// safe for concurrent use.
type nonces struct {
	ttl time.Duration
	// issueKey is the nonce key of the set's first key; verifyKeys those
	// of every key, so that a nonce of a replica whose first key is another
	// of the set is accepted too.
	issueKey   []byte
	verifyKeys [][]byte
	used       usedNonces
}

func newNonces(keys *KeySet, ttl time.Duration, max int, log *slog.Logger) *nonces {
	n := &nonces{ttl: ttl, used: usedNonces{ttl: ttl, max: max, seen: make(map[nonceTag]struct{}), log: log}}
	for _, k := range keys.keys {
		n.verifyKeys = append(n.verifyKeys, nonceKey(k.Secret))
	}
	n.issueKey = n.verifyKeys[0]
	return n
}

// issue returns a fresh nonce.
func (s *nonces) issue() nonce {
	var n nonce
	binary.BigEndian.PutUint64(n[:nonceTimeLen], uint64(time.Now().UnixNano()))
	rand.Read(n[nonceTimeLen : nonceTimeLen+nonceRandLen]) // never fails: crypto/rand crashes the program instead
	copy(n[nonceTimeLen+nonceRandLen:], nonceMAC(s.issueKey, &n))
	return n
}

// check says whether n was made with a key of the set (genuine), and whether
// it is within its window at now (fresh). It does the same work for any n.
func (s *nonces) check(n nonce, now time.Time) (genuine, fresh bool) {
	got := n.tag()
	for _, k := range s.verifyKeys {
		if hmac.Equal(nonceMAC(k, &n), got[:]) {
			genuine = true
		}
	}
	age := now.UnixNano() - n.issued()
	return genuine, age < int64(s.ttl) && age >= -int64(maxClockSkew)
}

// usedNonces is the replay cache: the nonces of requests let through, each
// until it expires, at most max of them.
type usedNonces struct {
	ttl time.Duration
	max int
	log *slog.Logger

	mu     sync.Mutex
	seen   map[nonceTag]struct{}
	byTime usedHeap
	// floor: every nonce issued at or before it is refused, because some
	// nonce issued then was forgotten to keep the cache within max.
	floor     int64
	forgotten int       // since the last warning
	warned    time.Time // of the last warning
}

// What usedNonces.use says of a nonce.
const (
	firstUse = iota
	replay
	tooOld // issued before one the cache forgot: it may have been used
)

// use records n as used at now, and says whether it is its first use. Of
// concurrent uses of one nonce, one at most is.
func (u *usedNonces) use(n nonce, now time.Time) int {
	t, tag := n.issued(), n.tag()
	u.mu.Lock()
	defer u.mu.Unlock()
	for len(u.byTime) > 0 && u.byTime[0].t <= now.UnixNano()-int64(u.ttl) {
		delete(u.seen, heap.Pop(&u.byTime).(usedNonce).tag)
	}
	if len(u.byTime) == 0 && cap(u.byTime) > shrinkBelow {
		// A burst is over: give its memory back (a map never shrinks).
		u.seen, u.byTime = make(map[nonceTag]struct{}), nil
	}
	if _, dup := u.seen[tag]; dup {
		return replay
	}
	if t <= u.floor {
		return tooOld
	}
	if len(u.byTime) >= u.max {
		if t <= u.byTime[0].t {
			return tooOld // older than all we remember: forgetting one of them would not admit it
		}
		oldest := heap.Pop(&u.byTime).(usedNonce)
		delete(u.seen, oldest.tag)
		u.floor = max(u.floor, oldest.t)
		u.forgotten++
		if now.Sub(u.warned) >= logEvery {
			u.log.Warn("auth: the cache of used HTTP nonces is full (WithMaxNonces): nonces issued earlier are refused, and their clients sign again",
				"max", u.max, "refused_issued_before", time.Unix(0, u.floor).UTC(), "forgotten", u.forgotten)
			u.warned, u.forgotten = now, 0
		}
	}
	u.seen[tag] = struct{}{}
	heap.Push(&u.byTime, usedNonce{t, tag})
	return firstUse
}

func (u *usedNonces) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// shrinkBelow is the capacity of an empty cache worth reallocating.
const shrinkBelow = 1024

type usedNonce struct {
	t   int64
	tag nonceTag
}

// usedHeap is a min-heap of used nonces by issue time.
type usedHeap []usedNonce

func (h usedHeap) Len() int           { return len(h) }
func (h usedHeap) Less(i, j int) bool { return h[i].t < h[j].t }
func (h usedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *usedHeap) Push(x any)        { *h = append(*h, x.(usedNonce)) }
func (h *usedHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
