package auth_test

import (
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polyrpc/polyrpc/internal/pytest"
)

// pyHTTPClient implements PolyRPC-HMAC from the package documentation with
// nothing but Python's standard library.
const pyHTTPClient = `
import hashlib, hmac, re, sys, urllib.error, urllib.request

url, key_id, secret = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
ctype = "application/json"

def send(body, nonce):
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

status, _, h = send(b'{"n":1}', None)
print("unsigned", status)
status, text, h = send(b'{"n":1}', nonce_of(h["WWW-Authenticate"]))
print("signed", status, text)
nextnonce = nonce_of(h["Authentication-Info"])
status, text, h = send(b'{"n":2}', nextnonce)
print("nextnonce", status, text)
status, _, h = send(b'{"n":2}', nextnonce)
print("replayed", status)
`

func TestPythonHTTPClient(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: newHandler(t, echo, keySet(t, bob, binaryKey))}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	url := "http://" + ln.Addr().String()
	want := strings.Join([]string{
		"unsigned 401",
		`signed 200 binary POST /RPC2?call=1 {"n":1}`,
		`nextnonce 200 binary POST /RPC2?call=1 {"n":2}`,
		"replayed 401",
	}, "\n")
	for _, py := range pytest.All(t) {
		t.Run(py.Version, func(t *testing.T) {
			t.Parallel()
			out := py.Run(t, 30*time.Second, pyHTTPClient, url+"/RPC2?call=1", binaryKey.ID, hex.EncodeToString(binaryKey.Secret))
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("python printed\n%s\nwant\n%s", got, want)
			}
		})
	}
}
