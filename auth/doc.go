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
// byte: a trailing newline is part of the secret. On Unix it refuses a file
// its group or others may read or write (fix it with chmod 600), unless
// WithAllowInsecureKeyPerms(true) is given.
//
// A key's ID is derived from its secret unless one is given: the first 16
// hexadecimal digits of SHA-256("PolyRPC key ID\n" || secret), so that
// every holder of the secret computes the same ID, whatever the name of the
// file it keeps it in (in Python:
// hashlib.sha256(b"PolyRPC key ID\n" + secret).hexdigest()[:16]). LoadKeyFile
// returns a Key with that ID; a Key with an empty ID has it too. A server
// may name a key otherwise (Key{ID: "reporting", Secret: ...}): that name is
// then the identity of its holders, and an HTTP client may send either the
// name or the derived ID. Two keys of a set may share neither an ID nor a
// secret. The derived ID is a hash of the secret, which is as safe to show
// as the MACs these protocols send, for a secret that is long and random.
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
// connection closed, no challenge. A Server given WithLogger logs its
// failures, at most one line per source address every 10 seconds, with the
// count since the previous one.
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
// single-use values the server issues, good for a window (WithNonceTTL, 60
// seconds by default) on any server that holds the key they were made with.
//
// 1. A request without valid credentials gets 401 Unauthorized with a fresh
// nonce, of 48 characters from the base64url alphabet:
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
// 3. The server refuses a body declared over WithMaxMessageSize (4 MiB by
// default) with 413, whatever the credentials. It reads the body of a
// request with credentials (more than the limit gets 413), finds the key by
// its ID, checks the nonce, compares the MAC in constant time, and only
// then spends the nonce. Every failure gets the same 401 (status, headers
// and body; only the fresh nonce, as in step 1, differs), so that the
// answer tells nobody without a key which key IDs or nonces are good. On
// success the request goes on to the next handler, with the key's ID in
// rpc.Peer.Identity, and the response carries the next nonce, so that the
// next request needs no 401 round trip:
//
//	Authentication-Info: nextnonce="<nonce>"
//
// The MAC binds the key, the nonce, the method, the target, the Content-Type
// and the body, so a request can be neither altered nor replayed on the
// server that took it: the nonce is spent by the first use. The label on
// S's first line keeps an HTTP MAC from ever equalling a handshake answer
// made with the same key. Other headers, the host and the response are not
// covered. An HTTPHandler given WithLogger logs failures as a Server does;
// a request without credentials (every client's first) or whose nonce
// merely expired is not one.
//
// # Nonces, and several replicas
//
// A server keeps nothing for the nonces it issues: a nonce is
//
//	base64url(T || R || tag)                                  (36 bytes, no padding)
//	T   = issue time, 8 bytes, big-endian nanoseconds since 1970 UTC
//	R   = 12 random bytes
//	tag = the first 16 bytes of HMAC-SHA256(N, T || R)
//	N   = HMAC-SHA256(secret, "PolyRPC-HMAC nonce key")
//
// where secret is that of the first key of the server's set. A server takes
// a nonce whose tag matches under the N of any key of its set, issued less
// than the window ago (and at most 5 seconds in the future, for clocks that
// differ a little). So replicas that hold the same keys take each other's
// nonces with no shared state, and a client may be balanced over them
// request by request; and a flood of unsigned requests, which anyone can
// send, costs the server no memory. Only a key holder can make a nonce
// (its N comes from a secret), which gives it nothing it lacks: it can sign
// requests anyway.
//
// Each server remembers the nonces of the requests it let through until
// they expire, and refuses them a second time. It remembers at most
// WithMaxNonces (100000 by default, about 5 MB); when that many
// requests signed with a key of the set came within a window, it forgets
// the nonce issued first and from then on refuses every nonce issued no
// later: a client holding one gets a 401 and signs again with the fresh
// nonce, as when a nonce expires. A nonce is never accepted twice by one
// server.
//
// The replay window between replicas: a server knows only the nonces used
// on it, so a signed request recorded on the way to replica A can be
// replayed on replica B, once, within the nonce's window (on each other
// replica, once). Recording it takes reading the traffic: TLS closes the
// window. Without TLS, sticky routing (the balancer sends all of a client's
// requests to one replica) closes it against an attacker who cannot choose
// the replica its copy reaches, but not against one who sends it from
// another source address, or without the client's cookie; a short
// WithNonceTTL narrows it for everyone (a few seconds: a client then pays a
// 401 round trip after each pause that long).
//
// Replicas take each other's nonces when every replica's first key is in
// every other's set: when they hold the same keys in the same order, or a
// key other than the first is added or dropped on some of them. To replace
// the first key, roll out three steps, each to every replica before the
// next: add the new key second; make it first; drop the old one.
//
// A Python client with only its standard library, where url, secret, body
// and content_type are given and nonce comes from the 401's
// WWW-Authenticate header (re.search(r'nonce="([^"]+)"', value)) or from the
// previous response's Authentication-Info:
//
//	key_id = hashlib.sha256(b"PolyRPC key ID\n" + secret).hexdigest()[:16]
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
// fresh (over HTTP, but for the replay window between replicas above). The
// connection handshake is mutual; the HTTP scheme authenticates the client
// only. Neither encrypts anything, and the connection handshake
// protects nothing after it: someone who can change the traffic can take over
// an authenticated connection, and anyone who can read it reads the calls and
// the HTTP nonces. Use TLS where the network is not trusted. A secret should
// be long and random (32 bytes from a CSPRNG); these protocols offer no
// defence against guessing a weak one from a recorded exchange.
package auth
