package auth

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Key is a named shared secret. The secret is used as the HMAC key exactly as
// it is, byte for byte (Python's authkey); the ID names the key and is the
// identity of a peer that proves it holds the secret.
//
// An ID is 1 to 128 bytes of visible ASCII other than '"' and '\', so that it
// travels unescaped in an HTTP header. The secret must not be empty.
type Key struct {
	ID     string
	Secret []byte
}

// maxKeySize limits the secret LoadKeyFile reads.
const maxKeySize = 64 << 10

const maxKeyIDLen = 128

// String returns the key's ID and never the secret, so that a Key printed by
// mistake with %v or %s leaks nothing.
func (k Key) String() string { return "auth.Key(" + k.ID + ")" }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

func (k Key) check() error {
	if err := checkID(k.ID); err != nil {
		return err
	}
	if len(k.Secret) == 0 {
		return fmt.Errorf("auth: key %q has an empty secret", k.ID)
	}
	return nil
}

func checkID(id string) error {
	if id == "" {
		return errors.New("auth: empty key ID")
	}
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
// slice it passed in.
func (k Key) clone() Key {
	return Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)}
}

// KeySet is the set of keys a server accepts: a peer that proves it holds any
// of them is authenticated, as the ID of the key it matched. Several keys
// allow rotation without downtime: add the new key, move the clients over,
// then drop the old one. A KeySet is immutable and safe for concurrent use.
type KeySet struct {
	keys []Key
	byID map[string]int
}

// NewKeySet returns a set of copies of keys. It refuses an empty set, an
// invalid key (see Key) and two keys with the same ID.
func NewKeySet(keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: a key set needs at least one key")
	}
	s := &KeySet{keys: make([]Key, len(keys)), byID: make(map[string]int, len(keys))}
	for i, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("auth: two keys with the ID %q", k.ID)
		}
		s.keys[i] = k.clone()
		s.byID[k.ID] = i
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

func (s *KeySet) lookup(id string) (Key, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Key{}, false
	}
	return s.keys[i], true
}

// LoadKeyFile reads a secret from the file at path: its exact bytes, with
// nothing trimmed (a trailing newline is part of the secret, as it is for a
// Python peer that reads the same file with open(path, "rb").read()). It
// refuses an empty file and one over 64 KiB.
//
// The key's ID is the file's base name without its extension
// ("/etc/polyrpc/alice.key" is "alice"), or "default" when that is empty or
// not a valid ID ("/etc/polyrpc/.key", "my key.txt"). Set the returned Key's
// ID to choose another.
func LoadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
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
	base := filepath.Base(path)
	id := strings.TrimSuffix(base, filepath.Ext(base))
	if checkID(id) != nil {
		id = "default"
	}
	return Key{ID: id, Secret: secret}, nil
}
