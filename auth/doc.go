// Package auth authenticates the peers of polyrpc with shared secrets:
// HMAC challenge-response on a connection, byte for byte the handshake of
// Python's multiprocessing.connection, and a challenge-response scheme for
// HTTP requests, PolyRPC-HMAC. Both prove that the peer holds a Key without
// sending it, and both name the peer by the ID of the key it proved it holds,
// which a transport puts into rpc.Peer.Identity. The package knows nothing of
// codecs, and uses nothing but the standard library.
//
// # Keys
//
// A Key is an ID and a secret of exact bytes. A server holds a KeySet, and a
// peer holding any key of it is accepted as that key's ID: give a new key to
// the server beside the old one, move the clients over, drop the old one.
// A client holds one key. LoadKeyFile reads a secret from a file, byte for
// byte: a trailing newline is part of the secret.
//
// # Connections
//
// A Server and a Client run the handshake on a new net.Conn, before any
// frame of the application:
//
//	srv, err := auth.NewServer(keys)            // keys: *auth.KeySet
//	identity, err := srv.Handshake(ctx, conn)   // on the accepting side
//
//	cli, err := auth.NewClient(key)             // key: auth.Key
//	err = cli.Handshake(ctx, conn)              // on the dialing side
//
// Their methods fit tcprpc.WithHandshake and tcprpc.WithClientHandshake:
//
//	ts, err := tcprpc.NewServer(s, tcprpc.WithHandshake(srv.Handshake))
//	c, err := tcprpc.NewClient(addr, codec, tcprpc.WithClientHandshake(cli.Handshake))
//
// A Python program with nothing but its standard library connects with
// multiprocessing.connection.Client(address, authkey=secret), and accepts a
// Go client with Listener(address, authkey=secret).
//
// Every message is one frame of package frame (a 4-byte big-endian length,
// then the bytes) of at most 256 bytes; a peer that declares more is refused
// before anything is allocated. With "||" for concatenation and R for 40
// random bytes:
//
//	server → client   "#CHALLENGE#" || "{sha256}" || R
//	client → server   "{sha256}" || HMAC-SHA256(secret, "{sha256}" || R)
//	server → client   "#WELCOME#", or "#FAILURE#" and the server closes
//
// and then the same three messages with the roles swapped: the client
// challenges, and the server answers with the key the client matched.
//
// The MAC covers the "{sha256}" prefix, so a man in the middle cannot change
// the digest the challenger asked for. An answer may name another digest
// Python allows: sha384, sha3_256 or sha3_384 are accepted, md5 only with
// WithAllowMD5, and a challenge is answered in the digest it names. The server
// tries the answer against every key of its set, each compared in constant
// time.
//
// Python 3.11 and earlier speak a legacy form: a challenge of 20 random
// bytes, and an answer of a bare 16-byte HMAC-MD5. As in Python 3.12, a
// challenge body of 20 bytes marks a legacy server, answered with a bare
// HMAC-MD5 of it; a 16-byte answer marks a legacy client, and is checked as
// the HMAC-MD5 of the whole challenge body, "{sha256}" prefix included,
// which a legacy client takes as its nonce. Either way that is MD5, so it is
// refused unless WithAllowMD5 is given. HMAC-MD5 is not known to be broken as
// a MAC, but MD5 is, and an allowed weak digest is the first thing an
// attacker tries: turn it on only while Python 3.11 peers remain.
//
// The handshake is bounded in time (WithHandshakeTimeout, 10 seconds by
// default, or the context's deadline if sooner) and in memory; a client
// gives up on a server that sends no challenge within 3 seconds, since such
// a server does not authenticate, or speaks another protocol. Every failure
// is an *rpc.Error with rpc.CodeUnauthenticated, matched by
// errors.Is(err, ErrAuthentication), that says why: wrong key, digest
// refused, legacy peer refused, protocol error, message too large, timeout,
// connection closed, no challenge.
//
// # HTTP: the PolyRPC-HMAC scheme
//
// NewHTTPHandler wraps an http.Handler so that only requests signed with a
// key of its set reach it; Key.SignHTTP wraps a client's http.RoundTripper
// so that it signs its requests:
//
//	h, err := auth.NewHTTPHandler(next, keys)
//	c := &http.Client{Transport: key.SignHTTP(nil)}
//
// or, for an rpc client over HTTPS:
//
//	c, err := httprpc.NewClient(url, codec, httprpc.WithTLSConfig(cfg), httprpc.WithWrapper(key.SignHTTP))
//
// A call refused for its credentials fails with an *rpc.Error with
// rpc.CodeUnauthenticated, as a failed handshake does over tcprpc.
//
// Any HTTP client can implement the scheme with HMAC-SHA256. Nonces are
// single-use values the server issues; each expires (WithNonceTTL, 60
// seconds by default) and the server keeps at most WithMaxNonces of them
// (10000 by default), forgetting the oldest first. Anyone may ask for a
// nonce, so a flood of unsigned requests can push out the nonces honest
// clients hold; they then pay one more 401 round trip.
//
// 1. A request without valid credentials gets 401 Unauthorized with a fresh
// nonce, of 32 characters from the base64url alphabet:
//
//	WWW-Authenticate: PolyRPC-HMAC nonce="<nonce>", algorithm="sha256"
//
// 2. The client signs the request it wants to send: it computes
//
//	mac = HMAC-SHA256(secret, S)
//
// over the string S of seven lines joined by "\n" (no "\n" after the last):
//
//	PolyRPC-HMAC-SHA256
//	<key ID>
//	<nonce>
//	<method, as sent, e.g. POST>
//	<request target: path and query as on the request line, e.g. /RPC2; at least />
//	<Content-Type header value as sent, or empty when none is sent>
//	<lower-case hex SHA-256 of the request body, exactly as sent; of no bytes when there is none>
//
// and sends
//
//	Authorization: PolyRPC-HMAC keyid="<key ID>", nonce="<nonce>", mac="<mac in hex>"
//
// Parameter names are case-insensitive and may come in any order; values may
// be tokens or quoted strings; an algorithm parameter, if present, must be
// "sha256".
//
// 3. The server finds the key by its ID, checks that the nonce is outstanding
// and unexpired, reads the body (at most WithMaxMessageSize bytes, 4 MiB by
// default; more gets 413), compares the MAC in constant time, and only then
// spends the nonce. Any failure gets 401 and a fresh nonce, as in step 1.
// On success the request goes on to the next handler, with the key's ID in
// rpc.Peer.Identity, and the response carries the next nonce, so that the
// next request needs no 401 round trip:
//
//	Authentication-Info: nextnonce="<nonce>"
//
// The MAC binds the key, the nonce, the method, the target, the Content-Type
// and the body, so a request can be neither altered nor replayed: the nonce
// is spent by the first use, and a nonce is only good on the server that
// issued it. The label on S's first line keeps an HTTP MAC from ever
// equalling a handshake answer made with the same key. Other headers, the
// host and the response are not covered.
//
// A Python client with only its standard library, where url, key_id, secret,
// body and content_type are given and nonce comes from the 401's
// WWW-Authenticate header (re.search(r'nonce="([^"]+)"', value)) or from the
// previous response's Authentication-Info:
//
//	req = urllib.request.Request(url, data=body, method="POST",
//	                             headers={"Content-Type": content_type})
//	s = "\n".join(["PolyRPC-HMAC-SHA256", key_id, nonce, "POST",
//	               req.selector or "/", content_type,
//	               hashlib.sha256(body).hexdigest()])
//	mac = hmac.new(secret, s.encode(), hashlib.sha256).hexdigest()
//	req.add_header("Authorization",
//	               f'PolyRPC-HMAC keyid="{key_id}", nonce="{nonce}", mac="{mac}"')
//
// Set Content-Type yourself: urllib otherwise adds
// application/x-www-form-urlencoded to a request with a body, after signing.
//
// # What this protects, and what not
//
// Both protocols authenticate: a peer without the key cannot pass, and
// neither can a recording of an earlier exchange, since every challenge is
// fresh. The connection handshake is mutual; the HTTP scheme authenticates
// the client only. Neither encrypts anything, and the connection handshake
// protects nothing after it: someone who can change the traffic can take over
// an authenticated connection, and anyone who can read it reads the calls and
// the HTTP nonces. Use TLS where the network is not trusted. A secret should
// be long and random (32 bytes from a CSPRNG); these protocols offer no
// defence against guessing a weak one from a recorded exchange.
package auth
