// Package tcprpc is polyrpc's stream transport: length-prefixed frames over
// TCP, Unix sockets or TLS, exactly as Python's multiprocessing.connection
// frames them (see package frame), so a Python program with only its
// standard library can call a polyrpc server.
//
// Any codec rides in the frames: a server tells each frame's codec by its
// first byte ('{' or '[' JSON, '<' XML, ...) unless pinned with WithCodec,
// and answers in the same codec. Replies are matched to calls by id, so
// calls on one connection overlap and are answered as they complete: the
// goroutine reading a connection serves its calls itself, which costs no
// hand-off, and a call that runs long is moved off it, so that it holds up
// none of the calls behind it.
//
//	import (
//		"github.com/polyrpc/polyrpc/codec/json"
//		"github.com/polyrpc/polyrpc/rpc"
//		"github.com/polyrpc/polyrpc/rpc/tcprpc"
//	)
//
//	s, err := rpc.NewServer() // serves the codecs imported: json here
//	err = s.Register("add", func(a, b int) (int, error) { return a + b, nil })
//	srv, err := tcprpc.NewServer(s)
//	ln, err := net.Listen("tcp", "127.0.0.1:9000")
//	go srv.Serve(ln)
//
//	c, err := tcprpc.NewClient("127.0.0.1:9000", json.New())
//	var sum int
//	err = c.Call(ctx, "add", &sum, 2, 3)
//
// A server bounds what one client can take: a new connection has the
// handshake timeout to get going (TLS, handshake, first byte), connections
// are limited in all and per source address, and the messages of all
// connections share the memory budget of the rpc.Server
// (rpc.WithMaxMemory): at the limits the server stops accepting, or stops
// reading the connections that hold the most, rather than failing.
//
// Options configure both ends; each says whether it is a server's or a
// client's. With package auth, both ends prove they hold a shared key before
// any call (WithHandshake, WithClientHandshake). A client's dial (the
// connection, TLS, the handshake) is bounded by WithDialTimeout, and a
// client that meets a server of another kind says so: one that wants a key,
// speaks TLS or HTTP, or sends no challenge where one was expected.
package tcprpc
