// Package tcprpc is polyrpc's stream transport: length-prefixed frames over
// TCP, Unix sockets or TLS, exactly as Python's multiprocessing.connection
// frames them (see package frame), so a Python program with only its
// standard library can call a polyrpc server.
//
// Any codec rides in the frames: a server tells each frame's codec by its
// first byte ('{' or '[' JSON, '<' XML, ...) unless pinned with WithCodec,
// and answers in the same codec. Calls on one connection run concurrently,
// their replies matched by id.
//
//	srv := tcprpc.NewServer(s)
//	ln, _ := net.Listen("tcp", "127.0.0.1:9000")
//	go srv.Serve(ln)
//	...
//	c := tcprpc.NewClient("127.0.0.1:9000", jsoncodec)
//	err := c.Call(ctx, "demo.add", &sum, 2, 3)
package tcprpc
