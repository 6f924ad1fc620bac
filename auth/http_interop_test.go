package auth_test

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/auth"
	"github.com/polyrpc/polyrpc/internal/pytest"
)

// pyHTTPClient implements PolyRPC-HMAC from the package documentation with
// nothing but Python's standard library: it reads the secret from a key
// file, derives the key ID from it, and sends its requests to two replicas
// in turn, as a round-robin balancer would.
const pyHTTPClient = `
import hashlib, hmac, re, sys, urllib.error, urllib.request

replica_a, replica_b, path = sys.argv[1], sys.argv[2], sys.argv[3]
secret = open(path, "rb").read()
key_id = hashlib.sha256(b"PolyRPC key ID\n" + secret).hexdigest()[:16]
ctype = "application/json"

def send(url, body, nonce):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    if nonce:
        s = "\n".join(["PolyRPC-HMAC-SHA256", key_id, nonce, "POST", req.selector or "/",
                       ctype, hashlib.sha256(body).hexdigest()])
        mac = hmac.new(secret, s.encode(), hashlib.sha256).hexdigest()
        req.add_header("Authorization", f'PolyRPC-HMAC keyid="{key_id}", nonce="{nonce}", mac="{mac}"')
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers

def nonce_of(value):
    return re.search(r'nonce="([^"]+)"', value or "").group(1)

status, _, h = send(replica_a, b'{"n":1}', None)
print("unsigned to A", status)
status, text, h = send(replica_b, b'{"n":1}', nonce_of(h["WWW-Authenticate"]))
print("signed to B with A's nonce", status, text)
nextnonce = nonce_of(h["Authentication-Info"])
status, text, h = send(replica_a, b'{"n":2}', nextnonce)
print("to A with B's nextnonce", status, text)
status, _, h = send(replica_a, b'{"n":2}', nextnonce)
print("replayed to A", status)
`

func TestPythonHTTPClient(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "server-side name.key")
	writeKeyFile(t, path, binaryKey.Secret, 0o600)
	key, err := auth.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: newHandler(t, echo, keySet(t, bob, key))}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		urls = append(urls, "http://"+ln.Addr().String()+"/RPC2?call=1")
	}
	id := derivedID(binaryKey.Secret)
	want := strings.Join([]string{
		"unsigned to A 401",
		`signed to B with A's nonce 200 ` + id + ` POST /RPC2?call=1 {"n":1}`,
		`to A with B's nextnonce 200 ` + id + ` POST /RPC2?call=1 {"n":2}`,
		"replayed to A 401",
	}, "\n")
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			out := py.Run(t, 30*time.Second, pyHTTPClient, urls[0], urls[1], path)
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("python printed\n%s\nwant\n%s", got, want)
			}
		})
	}
}
