package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Key is a named shared secret. The secret is used as the HMAC key exactly as
// it is, byte for byte (Python's authkey); the ID names the key and is the
// identity of a peer that proves it holds the secret.
//
// An empty ID means the key's derived ID: the first 16 hexadecimal digits of
// SHA-256("PolyRPC key ID\n" || secret), which every holder of the secret
// computes alike, whatever it calls the file it keeps the secret in. An
// explicit ID is 1 to 128 bytes of visible ASCII other than '"' and '\', so
// that it travels unescaped in an HTTP header. The secret must not be empty.
type Key struct {
	ID     string
	Secret []byte
}

// maxKeySize limits the secret LoadKeyFile reads.
const maxKeySize = 64 << 10

const maxKeyIDLen = 128

// keyIDLabel separates the hash of a derived key ID from every other use of
// the secret.
const keyIDLabel = "PolyRPC key ID\n"

// derivedID returns the ID a key with secret has when none is given.
func derivedID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// String returns the key's ID and never the secret, so that a Key printed by
// mistake with %v or %s leaks nothing.
func (k Key) String() string {
	if k.ID == "" && len(k.Secret) > 0 {
		return "auth.Key(" + derivedID(k.Secret) + ")"
	}
	return "auth.Key(" + k.ID + ")"
}

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

func (k Key) check() error {
	if len(k.Secret) == 0 {
		if k.ID == "" {
			return errors.New("auth: key with an empty secret")
		}
		return fmt.Errorf("auth: key %q has an empty secret", k.ID)
	}
	if k.ID == "" {
		return nil // derived
	}
	return checkID(k.ID)
}

func checkID(id string) error {
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("auth: key ID of %d bytes, limit %d", len(id), maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("auth: key ID %q: byte %#x not allowed (visible ASCII but '\"' and '\\' only)", id, c)
		}
	}
	return nil
}

// clone returns k with a secret of its own, so that the caller may reuse the
// slice it passed in, and its ID, derived if it had none.
func (k Key) clone() Key {
	id := k.ID
	if id == "" && len(k.Secret) > 0 {
		id = derivedID(k.Secret)
	}
	return Key{ID: id, Secret: append([]byte(nil), k.Secret...)}
}

// KeySet is the set of keys a server accepts: a peer that proves it holds any
// of them is authenticated, as the ID of the key it matched. Several keys
// allow rotation without downtime: add the new key, move the clients over,
// then drop the old one. A KeySet is immutable and safe for concurrent use.
type KeySet struct {
	keys []Key
	// byID finds a key by its ID and by its derived ID, which a client
	// that knows the secret but not the server's name for it sends.
	byID map[string]int
}

// NewKeySet returns a set of copies of keys. It refuses an empty set, an
// invalid key (see Key), two keys with the same secret, and two keys with
// the same ID, explicit or derived.
func NewKeySet(keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: a key set needs at least one key")
	}
	s := &KeySet{keys: make([]Key, len(keys)), byID: make(map[string]int, 2*len(keys))}
	for i, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		k = k.clone()
		for _, prev := range s.keys[:i] {
			if subtle.ConstantTimeCompare(prev.Secret, k.Secret) == 1 {
				return nil, fmt.Errorf("auth: keys %q and %q have the same secret", prev.ID, k.ID)
			}
		}
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("auth: two keys with the ID %q", k.ID)
		}
		s.keys[i] = k
		s.byID[k.ID] = i
	}
	for i, k := range s.keys {
		d := derivedID(k.Secret)
		if j, dup := s.byID[d]; dup && j != i {
			return nil, fmt.Errorf("auth: the ID %q of one key is the derived ID of another", d)
		}
		s.byID[d] = i
	}
	return s, nil
}

// IDs returns the IDs of the keys, in the order NewKeySet got them.
func (s *KeySet) IDs() []string {
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.ID
	}
	return ids
}

// lookup finds a key by its ID or its derived ID.
func (s *KeySet) lookup(id string) (Key, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Key{}, false
	}
	return s.keys[i], true
}

// LoadKeyFile reads a secret from the file at path: its exact bytes, with
// nothing trimmed (a trailing newline is part of the secret, as it is for a
// Python peer that reads the same file with open(path, "rb").read()). The
// returned Key's ID is the one derived from the secret (see Key); set it to
// name the key otherwise.
//
// It refuses an empty file, one over 64 KiB and, on Unix, a regular file
// that its group or others may read or write (chmod 600 fixes it) unless
// WithAllowInsecureKeyPerms(true) is given.
func LoadKeyFile(path string, opts ...Option) (Key, error) {
	cfg, err := newConfig(keyFile, opts)
	if err != nil {
		return Key{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	if !cfg.insecurePerms {
		fi, err := f.Stat()
		if err != nil {
			return Key{}, fmt.Errorf("auth: %w", err)
		}
		if err := checkKeyPerms(path, fi); err != nil {
			return Key{}, err
		}
	}
	secret, err := io.ReadAll(io.LimitReader(f, maxKeySize+1))
	if err != nil {
		return Key{}, fmt.Errorf("auth: reading key file: %w", err)
	}
	switch {
	case len(secret) == 0:
		return Key{}, fmt.Errorf("auth: key file %s is empty", path)
	case len(secret) > maxKeySize:
		return Key{}, fmt.Errorf("auth: key file %s is larger than %d bytes", path, maxKeySize)
	}
	return Key{ID: derivedID(secret), Secret: secret}, nil
}
