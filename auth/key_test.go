package auth_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyrpc/polyrpc/auth"
)

func TestLoadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		file    string
		content []byte
		id      string
		err     string
	}{
		{"alice.key", []byte("s3cret\n"), "alice", ""},
		{"bob", []byte{0, 1, 2, 0xff}, "bob", ""},
		{"svc.prod.key", []byte("x"), "svc.prod", ""},
		{".key", []byte("x"), "default", ""},
		{"my key.txt", []byte("x"), "default", ""},
		{"empty.key", nil, "", "is empty"},
		{"huge.key", bytes.Repeat([]byte("x"), 64<<10+1), "", "larger than"},
		{"missing.key", nil, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.file)
			if tt.file != "missing.key" {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			k, err := auth.LoadKeyFile(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || k.ID != tt.id || !bytes.Equal(k.Secret, tt.content) {
				t.Errorf("got %q %q, %v; want %q %q", k.ID, k.Secret, err, tt.id, tt.content)
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
		{"empty ID", []auth.Key{{Secret: []byte("x")}}, "empty key ID"},
		{"quote in ID", []auth.Key{{ID: `a"b`, Secret: []byte("x")}}, "not allowed"},
		{"space in ID", []auth.Key{{ID: "a b", Secret: []byte("x")}}, "not allowed"},
		{"long ID", []auth.Key{{ID: strings.Repeat("a", 129), Secret: []byte("x")}}, "limit 128"},
		{"duplicate ID", []auth.Key{alice, {ID: "alice", Secret: []byte("other")}}, "two keys"},
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
