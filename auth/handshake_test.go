package auth_test

import (
	"errors"
	"testing"

	"github.com/polyrpc/polyrpc/auth"
)

func TestHandshakeGoToGo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		serverKeys []auth.Key
		serverOpts []auth.Option
		clientKey  auth.Key
		clientOpts []auth.Option
		wantID     string
		serverErr  string
		clientErr  string
	}{
		{name: "right key", serverKeys: []auth.Key{alice}, clientKey: alice, wantID: "alice"},
		{name: "wrong key", serverKeys: []auth.Key{alice}, clientKey: auth.Key{ID: "alice", Secret: []byte("guess")},
			serverErr: "wrong key", clientErr: "rejected our answer (#FAILURE#)"},
		{name: "unknown key", serverKeys: []auth.Key{alice}, clientKey: bob,
			serverErr: "wrong key", clientErr: "rejected our answer"},
		{name: "rotation, old key", serverKeys: []auth.Key{oldKey, newKey}, clientKey: oldKey, wantID: "old"},
		{name: "rotation, new key", serverKeys: []auth.Key{oldKey, newKey}, clientKey: newKey, wantID: "new"},
		{name: "rotation, neither", serverKeys: []auth.Key{oldKey, newKey}, clientKey: alice,
			serverErr: "wrong key", clientErr: "rejected our answer"},
		// Two Go peers always agree on sha256: allowing MD5 on either side
		// changes nothing.
		{name: "md5 allowed by the server", serverKeys: []auth.Key{alice}, serverOpts: []auth.Option{auth.WithAllowMD5(true)},
			clientKey: alice, wantID: "alice"},
		{name: "md5 allowed by the client", serverKeys: []auth.Key{alice}, clientKey: alice,
			clientOpts: []auth.Option{auth.WithAllowMD5(true)}, wantID: "alice"},
		{name: "md5 allowed by both", serverKeys: []auth.Key{alice}, serverOpts: []auth.Option{auth.WithAllowMD5(true)},
			clientKey: alice, clientOpts: []auth.Option{auth.WithAllowMD5(true)}, wantID: "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, keySet(t, tt.serverKeys...), tt.serverOpts...)
			cli := newClient(t, tt.clientKey, tt.clientOpts...)
			var id string
			serr, cerr := both(t, goServer(srv, &id), goClient(cli))
			wantErr(t, "server", serr, tt.serverErr)
			wantErr(t, "client", cerr, tt.clientErr)
			for _, err := range []error{serr, cerr} {
				if err != nil && !errors.Is(err, auth.ErrAuthentication) {
					t.Errorf("%v is not ErrAuthentication", err)
				}
			}
			if id != tt.wantID {
				t.Errorf("identity %q, want %q", id, tt.wantID)
			}
		})
	}
}

// TestServerAgainstScriptedClients checks the server against clients that
// speak each form of the protocol Python has used.
func TestServerAgainstScriptedClients(t *testing.T) {
	t.Parallel()
	md5 := []auth.Option{auth.WithAllowMD5(true)}
	tests := []struct {
		name      string
		opts      []auth.Option
		client    peer
		serverErr string
		clientErr error
	}{
		{name: "python 3.12", client: peer{answer: answerAsPython312, challenge: modern("sha256"), check: expect("sha256")}},
		{name: "answer in sha384", client: peer{answer: answerWith("sha384"), challenge: modern("sha256"), check: expect("sha256")}},
		{name: "answer in sha3_256", client: peer{answer: answerWith("sha3_256"), challenge: modern("sha256"), check: expect("sha256")}},
		{name: "answer in sha3_384", client: peer{answer: answerWith("sha3_384"), challenge: modern("sha256"), check: expect("sha256")}},
		{name: "challenge in sha3_384", client: peer{answer: answerAsPython312, challenge: modern("sha3_384"), check: expect("sha3_384")}},
		{name: "challenge in sha384", client: peer{answer: answerAsPython312, challenge: modern("sha384"), check: expect("sha384")}},
		{name: "answer in md5, allowed", opts: md5,
			client: peer{answer: answerWith("md5"), challenge: modern("sha256"), check: expect("sha256")}},
		{name: "answer in md5, refused",
			client:    peer{answer: answerWith("md5"), challenge: modern("sha256"), check: expect("sha256")},
			serverErr: "{md5} answer refused", clientErr: errRejected},
		{name: "python 3.11, allowed", opts: md5,
			client: peer{answer: answerWith(""), challenge: legacy(), check: expect("")}},
		{name: "python 3.11, refused",
			client:    peer{answer: answerWith(""), challenge: legacy(), check: expect("")},
			serverErr: "legacy HMAC-MD5 answer", clientErr: errRejected},
		{name: "challenge in md5, allowed", opts: md5,
			client: peer{answer: answerAsPython312, challenge: modern("md5"), check: expect("md5")}},
		{name: "challenge in md5, refused",
			client:    peer{answer: answerAsPython312, challenge: modern("md5"), check: expect("md5")},
			serverErr: "{md5} challenge refused"},
		{name: "legacy challenge after a modern answer, refused",
			client:    peer{answer: answerAsPython312, challenge: legacy(), check: expect("")},
			serverErr: "legacy HMAC-MD5 challenge"},
		{name: "unknown digest in the answer",
			client:    peer{answer: answerWith("sha512"), challenge: modern("sha256"), check: expect("sha256")},
			serverErr: "unsupported digest", clientErr: errRejected},
		{name: "truncated answer",
			client: peer{answer: func(s, b []byte) []byte { return answerWith("sha256")(s, b)[:30] },
				challenge: modern("sha256"), check: expect("sha256")},
			serverErr: "sha256 answer of 22 bytes, want 32", clientErr: errRejected},
		{name: "short challenge",
			client:    peer{answer: answerAsPython312, challenge: []byte("{sha256}short"), check: expect("sha256")},
			serverErr: "challenge of 13 bytes"},
		{name: "unknown digest in the challenge",
			client:    peer{answer: answerAsPython312, challenge: modern("sha512"), check: expect("sha512")},
			serverErr: "unsupported digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.client.secret = alice.Secret
			srv := newServer(t, keySet(t, bob, alice), tt.opts...)
			var id string
			serr, cerr := both(t, goServer(srv, &id), tt.client.asClient)
			wantErr(t, "server", serr, tt.serverErr)
			if serr != nil && !errors.Is(serr, auth.ErrAuthentication) {
				t.Errorf("%v is not ErrAuthentication", serr)
			}
			if tt.serverErr == "" && id != "alice" {
				t.Errorf("identity %q, want alice", id)
			}
			if tt.clientErr != nil && !errors.Is(cerr, tt.clientErr) {
				t.Errorf("client: %v, want %v", cerr, tt.clientErr)
			}
			if tt.serverErr == "" && cerr != nil {
				t.Errorf("client: %v", cerr)
			}
		})
	}
}

// TestClientAgainstScriptedServers is the mirror image.
func TestClientAgainstScriptedServers(t *testing.T) {
	t.Parallel()
	md5 := []auth.Option{auth.WithAllowMD5(true)}
	tests := []struct {
		name      string
		opts      []auth.Option
		server    peer
		clientErr string
		serverErr error
	}{
		{name: "python 3.12", server: peer{challenge: modern("sha256"), check: expect("sha256"), answer: answerAsPython312}},
		{name: "challenge in sha384", server: peer{challenge: modern("sha384"), check: expect("sha384"), answer: answerAsPython312}},
		{name: "challenge in sha3_256", server: peer{challenge: modern("sha3_256"), check: expect("sha3_256"), answer: answerAsPython312}},
		{name: "answer in sha3_384", server: peer{challenge: modern("sha256"), check: expect("sha256"), answer: answerWith("sha3_384")}},
		{name: "python 3.11, allowed", opts: md5,
			server: peer{challenge: legacy(), check: expect(""), answer: answerWith("")}},
		{name: "python 3.11, refused",
			server:    peer{challenge: legacy(), check: expect(""), answer: answerWith("")},
			clientErr: "legacy HMAC-MD5 challenge"},
		// A legacy answer to a modern challenge: possible only from a server
		// whose challenge the client answered in a modern digest.
		{name: "legacy answer, allowed", opts: md5,
			server: peer{challenge: modern("sha256"), check: expect("sha256"), answer: answerWith("")}},
		{name: "legacy answer, refused",
			server:    peer{challenge: modern("sha256"), check: expect("sha256"), answer: answerWith("")},
			clientErr: "legacy HMAC-MD5 answer", serverErr: errRejected},
		{name: "challenge in md5, allowed", opts: md5,
			server: peer{challenge: modern("md5"), check: expect("md5"), answer: answerAsPython312}},
		{name: "challenge in md5, refused",
			server:    peer{challenge: modern("md5"), check: expect("md5"), answer: answerAsPython312},
			clientErr: "{md5} challenge refused"},
		{name: "answer in md5, refused",
			server:    peer{challenge: modern("sha256"), check: expect("sha256"), answer: answerWith("md5")},
			clientErr: "{md5} answer refused", serverErr: errRejected},
		{name: "server with the wrong key",
			server: peer{challenge: modern("sha256"), check: func([]byte, []byte, []byte) bool { return true },
				answer: func(_, body []byte) []byte { return answerWith("sha256")([]byte("not the key"), body) }},
			clientErr: "wrong key", serverErr: errRejected},
		{name: "server refuses",
			server:    peer{challenge: modern("sha256"), check: func([]byte, []byte, []byte) bool { return false }, answer: answerAsPython312},
			clientErr: "rejected our answer (#FAILURE#)", serverErr: errRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.server.secret = alice.Secret
			cli := newClient(t, alice, tt.opts...)
			serr, cerr := both(t, tt.server.asServer, goClient(cli))
			wantErr(t, "client", cerr, tt.clientErr)
			if cerr != nil && !errors.Is(cerr, auth.ErrAuthentication) {
				t.Errorf("%v is not ErrAuthentication", cerr)
			}
			if tt.serverErr != nil && !errors.Is(serr, tt.serverErr) {
				t.Errorf("server: %v, want %v", serr, tt.serverErr)
			}
			if tt.clientErr == "" && serr != nil {
				t.Errorf("server: %v", serr)
			}
		})
	}
}
