package auth_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/rpc/frame"
)

// zeroRand makes every challenge "{sha256}" and 40 zero bytes, so that the
// seeds can hold right answers and the fuzzer reach the later steps.
type zeroRand struct{}

func (zeroRand) Read(b []byte) (int, error) { clear(b); return len(b), nil }

var zeroBody = append([]byte("{sha256}"), make([]byte, 40)...)

func frames(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = frame.Append(b, m)
	}
	return b
}

// feed runs handshake on a connection that reads data, then io.EOF, and
// discards what is written: every read returns at once, so a fuzz run never
// waits on a timeout.
func feed(data []byte, handshake func(net.Conn) error) error {
	return handshake(&fakeConn{r: bytes.NewReader(data)})
}

func FuzzServerHandshake(f *testing.F) {
	challenge := append([]byte("#CHALLENGE#"), modern("sha256")...)
	f.Add(frames(answerWith("sha256")(alice.Secret, zeroBody), challenge, []byte("#WELCOME#")), false)
	f.Add(frames(answerWith("sha3_384")(bob.Secret, zeroBody), append([]byte("#CHALLENGE#"), legacy()...), []byte("#WELCOME#")), true)
	f.Add(frames(answerWith("")(alice.Secret, zeroBody), append([]byte("#CHALLENGE#"), modern("md5")...), []byte("#FAILURE#")), true)
	f.Add(frames([]byte("{sha256}"), []byte("#CHALLENGE#")), false)
	f.Add(header(1<<30), false)
	f.Add(longHeader(300), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, allowMD5 bool) {
		srv := newServer(t, keySet(t, alice, bob), auth.WithRand(zeroRand{}),
			auth.WithAllowMD5(allowMD5), auth.WithHandshakeTimeout(time.Second))
		var id string
		err := feed(data, func(c net.Conn) error {
			var err error
			id, err = srv.Handshake(context.Background(), c)
			return err
		})
		switch {
		case err != nil && !errors.Is(err, auth.ErrAuthentication):
			t.Errorf("%v is not ErrAuthentication", err)
		case err != nil && id != "":
			t.Errorf("identity %q with error %v", id, err)
		case err == nil && id != "alice" && id != "bob":
			t.Errorf("success with identity %q", id)
		}
	})
}

func FuzzClientHandshake(f *testing.F) {
	challenge := append([]byte("#CHALLENGE#"), modern("sha256")...)
	f.Add(frames(challenge, []byte("#WELCOME#"), answerWith("sha256")(alice.Secret, zeroBody)), false)
	f.Add(frames(append([]byte("#CHALLENGE#"), legacy()...), []byte("#WELCOME#"), answerWith("")(alice.Secret, zeroBody)), true)
	f.Add(frames(append([]byte("#CHALLENGE#"), modern("sha3_256")...), []byte("#FAILURE#")), false)
	f.Add(frames([]byte("#CHALLENGE#{sha3_384}")), true)
	f.Add(header(1<<30), false)
	f.Add([]byte("#CHALLENGE#"), false)
	f.Fuzz(func(t *testing.T, data []byte, allowMD5 bool) {
		cli := newClient(t, alice, auth.WithRand(zeroRand{}), auth.WithAllowMD5(allowMD5),
			auth.WithHandshakeTimeout(time.Second))
		err := feed(data, func(c net.Conn) error { return cli.Handshake(context.Background(), c) })
		if err != nil && !errors.Is(err, auth.ErrAuthentication) {
			t.Errorf("%v is not ErrAuthentication", err)
		}
	})
}

// FuzzHTTPHandler feeds the middleware hostile credentials and bodies;
// "{nonce}" in them stands for a genuine fresh nonce, so that the fuzzer
// reaches the checks after the nonce's.
func FuzzHTTPHandler(f *testing.F) {
	f.Add(`PolyRPC-HMAC keyid="alice", nonce="{nonce}", mac="00"`, []byte("{}"))
	f.Add(`PolyRPC-HMAC keyid="`+derivedID(alice.Secret)+`", nonce="{nonce}", mac="`+strings.Repeat("ab", 32)+`"`, []byte("{}"))
	f.Add(`PolyRPC-HMAC keyid="alice", nonce="`+strings.Repeat("A", 48)+`", mac="00"`, []byte("{}"))
	f.Add(`Basic YWxhZGRpbjpvcGVuc2VzYW1l, PolyRPC-HMAC keyid=alice,nonce="\"\\",mac=`, []byte(nil))
	f.Add(`polyrpc-hmac KEYID="alice" NONCE="x" algorithm=md5`, []byte("x"))
	f.Add(`PolyRPC-HMAC keyid="`, []byte("x"))
	f.Add(`PolyRPC-HMAC keyid=mallory, nonce={nonce}, mac=00`, bytes.Repeat([]byte("x"), 65))
	keys := keySet(f, alice)
	f.Fuzz(func(t *testing.T, authorization string, body []byte) {
		h := newHandler(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			t.Error("a fuzzed request got through") // it would need alice's secret
		}), keys, auth.WithMaxMessageSize(64))
		if strings.Contains(authorization, "{nonce}") {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/RPC2", nil))
			n := nonceRE.FindStringSubmatch(w.Header().Get("WWW-Authenticate"))
			if n == nil {
				t.Fatalf("no challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
			authorization = strings.ReplaceAll(authorization, "{nonce}", n[1])
		}
		r := httptest.NewRequest(http.MethodPost, "/RPC2", strings.NewReader(string(body)))
		r.Header.Set("Authorization", authorization)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized && w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", w.Code)
		}
		if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "PolyRPC-HMAC nonce=") {
			t.Errorf("401 without a challenge: %q", w.Header().Get("WWW-Authenticate"))
		}
		if n := h.UsedNonces(); n != 0 {
			t.Errorf("%d nonces remembered after refusals", n)
		}
	})
}

// FuzzSignHTTP feeds the client hostile challenge headers.
func FuzzSignHTTP(f *testing.F) {
	f.Add(`PolyRPC-HMAC nonce="abc", algorithm="sha256"`, `nextnonce="def"`)
	f.Add(`Digest realm="x", nonce="1", PolyRPC-HMAC nonce=tok`, `nextnonce=`)
	f.Add(`PolyRPC-HMAC nonce="a\`, `, , ,nextnonce="\""`)
	f.Fuzz(func(t *testing.T, challenge, info string) {
		calls := 0
		rt := alice.SignHTTP(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			h := http.Header{}
			h.Set("WWW-Authenticate", challenge)
			h.Set("Authentication-Info", info)
			return &http.Response{StatusCode: http.StatusUnauthorized, Header: h, Body: http.NoBody, Request: r}, nil
		}))
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader("body"))
		req.RequestURI = ""
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if calls > 2 {
			t.Errorf("%d attempts, at most 2 expected", calls)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
