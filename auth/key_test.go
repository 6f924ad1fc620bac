package auth_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/auth"
)

// derivedID is the key ID of a secret as the package documentation defines
// it, computed here independently of the package.
func derivedID(secret []byte) string {
	sum := sha256.Sum256(append([]byte("PolyRPC key ID\n"), secret...))
	return hex.EncodeToString(sum[:8])
}

func writeKeyFile(t testing.TB, path string, secret []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, secret, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func TestLoadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		file    string
		content []byte
		err     string
	}{
		{"alice.key", []byte("s3cret\n"), ""},
		{"bob", []byte{0, 1, 2, 0xff}, ""},
		{".key", []byte("x"), ""},
		{"my key.txt", []byte("y"), ""},
		{"empty.key", nil, "is empty"},
		{"huge.key", bytes.Repeat([]byte("x"), 64<<10+1), "larger than"},
		{"missing.key", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.file)
			if tt.file != "missing.key" {
				writeKeyFile(t, path, tt.content, 0o600)
			}
			k, err := auth.LoadKeyFile(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if id := derivedID(tt.content); err != nil || k.ID != id || !bytes.Equal(k.Secret, tt.content) {
				t.Errorf("got %q %q, %v; want %q %q", k.ID, k.Secret, err, id, tt.content)
			}
		})
	}
}

// TestLoadKeyFilePermissions (issue 13, finding 10): a key file others may
// read or write is refused, with its mode and the fix, unless allowed.
func TestLoadKeyFilePermissions(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not say who may read a file on Windows")
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true}, {0o611, true},
		{0o644, false}, {0o666, false}, {0o640, false}, {0o604, false}, {0o620, false}, {0o602, false},
	} {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, fmt.Sprintf("%04o.key", tt.mode))
			writeKeyFile(t, path, []byte("secret"), tt.mode)
			_, err := auth.LoadKeyFile(path)
			if tt.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			for _, want := range []string{fmt.Sprintf("has mode %04o", tt.mode), "chmod 600 " + path, "WithAllowInsecureKeyPerms"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one containing %q", err, want)
				}
			}
			if k, err := auth.LoadKeyFile(path, auth.WithAllowInsecureKeyPerms(true)); err != nil || string(k.Secret) != "secret" {
				t.Errorf("allowed: %v %v", k, err)
			}
		})
	}
}

// TestKeyIDIsTheSecrets (issue 13, finding 10): the key ID comes from the
// secret, not from the name of the file that holds it, so that the same
// secret works over HTTP from a file of any name; an explicit name
// overrides it, as the identity, and the server still knows the key by its
// derived ID.
func TestKeyIDIsTheSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := []byte("one secret, kept in three files\n")
	var keys []auth.Key
	for _, name := range []string{"rpc.key", "mykey.bin", "my key.txt"} {
		path := filepath.Join(dir, name)
		writeKeyFile(t, path, secret, 0o600)
		k, err := auth.LoadKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	id := derivedID(secret)
	for _, k := range keys {
		if k.ID != id {
			t.Errorf("ID %q, want %q", k.ID, id)
		}
	}
	server := keys[0]
	named := server
	named.ID = "reporting"
	for _, tt := range []struct {
		name           string
		server, client auth.Key
		want           string
	}{
		{"loaded from files of other names", server, keys[1], id},
		{"from a file with a space in its name", server, keys[2], id},
		{"in memory, ID left empty", server, auth.Key{Secret: secret}, id},
		{"named on the server, derived ID on the client", named, keys[1], "reporting"},
		{"named on both", named, named, "reporting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newHTTPServer(t, newHandler(t, echo, keySet(t, tt.server, bob)))
			c, _ := signedClient(t, srv, tt.client)
			if code, got := post(t, c, srv.URL, "text/plain", "x"); code != 200 || got != tt.want+" POST / x" {
				t.Errorf("HTTP: %d %q, want 200 as %s", code, got, tt.want)
			}
			var identity string
			if serr, cerr := both(t, goServer(newServer(t, keySet(t, tt.server, bob)), &identity), goClient(newClient(t, tt.client))); serr != nil || cerr != nil || identity != tt.want {
				t.Errorf("handshake: identity %q, errors %v, %v; want %s", identity, serr, cerr, tt.want)
			}
		})
	}
}

func TestKeyValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []auth.Key
		err  string
	}{
		{"valid", []auth.Key{alice, bob}, ""},
		{"none", nil, "at least one key"},
		{"empty secret", []auth.Key{{ID: "a"}}, "empty secret"},
		{"nothing", []auth.Key{{}}, "empty secret"},
		{"derived ID", []auth.Key{{Secret: []byte("x")}}, ""},
		{"quote in ID", []auth.Key{{ID: `a"b`, Secret: []byte("x")}}, "not allowed"},
		{"space in ID", []auth.Key{{ID: "a b", Secret: []byte("x")}}, "not allowed"},
		{"long ID", []auth.Key{{ID: strings.Repeat("a", 129), Secret: []byte("x")}}, "limit 128"},
		{"duplicate ID", []auth.Key{alice, {ID: "alice", Secret: []byte("other")}}, "two keys"},
		{"same secret, two names", []auth.Key{alice, {ID: "alice2", Secret: alice.Secret}}, `keys "alice" and "alice2" have the same secret`},
		{"same secret, named and derived", []auth.Key{{Secret: alice.Secret}, alice}, "have the same secret"},
		{"a name that is another's derived ID", []auth.Key{alice, {ID: derivedID(alice.Secret), Secret: []byte("x")}}, "derived ID of another"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.NewKeySet(tt.keys...)
			wantErr(t, "NewKeySet", err, tt.err)
			if len(tt.keys) == 1 {
				_, err := auth.NewClient(tt.keys[0])
				wantErr(t, "NewClient", err, tt.err)
				// A RoundTripper of an invalid key fails every request.
				sent := false
				rt := tt.keys[0].SignHTTP(roundTripFunc(func(*http.Request) (*http.Response, error) {
					sent = true
					return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
				}))
				resp, err := rt.RoundTrip(httptest.NewRequest("POST", "http://127.0.0.1/", strings.NewReader("x")))
				if err == nil {
					resp.Body.Close()
				}
				wantErr(t, "SignHTTP", err, tt.err)
				if sent == (tt.err != "") {
					t.Errorf("SignHTTP: request sent %v, with key error %q", sent, tt.err)
				}
			}
		})
	}
}

func TestKeySetCopiesSecrets(t *testing.T) {
	t.Parallel()
	secret := []byte("original")
	ks := keySet(t, auth.Key{ID: "k", Secret: secret})
	copy(secret, "mutated!")
	srv := newServer(t, ks)
	cli := newClient(t, auth.Key{ID: "k", Secret: []byte("original")})
	var id string
	if serr, cerr := both(t, goServer(srv, &id), goClient(cli)); serr != nil || cerr != nil || id != "k" {
		t.Errorf("identity %q; server %v; client %v", id, serr, cerr)
	}
	if got := ks.IDs(); len(got) != 1 || got[0] != "k" {
		t.Errorf("IDs %q", got)
	}
}

func TestKeyPrintsNoSecret(t *testing.T) {
	t.Parallel()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if got := fmt.Sprintf(verb, alice); strings.Contains(got, "secret") {
			t.Errorf("%s shows the secret: %s", verb, got)
		}
	}
}
