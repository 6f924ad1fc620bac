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
//	srv := tcprpc.NewServer(s)
//	ln, _ := net.Listen("tcp", "127.0.0.1:9000")
//	go srv.Serve(ln)
//	...
//	c := tcprpc.NewClient("127.0.0.1:9000", jsoncodec)
//	err := c.Call(ctx, "demo.add", &sum, 2, 3)
package tcprpc
