package msgpack_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/polyrpc/polyrpc/codec/msgpack"
	"github.com/polyrpc/polyrpc/rpc"
)

// A server answers MessagePack-RPC messages handed to it by a transport.
func Example() {
	c := msgpack.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("add", func(a, b int64) (int64, error) { return a + b, nil })

	// [0, 7, "add", [1, 2]]
	req := []byte{0x94, 0x00, 0x07, 0xa3, 'a', 'd', 'd', 0x92, 0x01, 0x02}
	reply := s.ServeMessage(context.Background(), c, req, nil)
	fmt.Printf("% x\n", reply) // [1, 7, nil, 3]
	// Output: 94 01 07 c0 03
}

// A client calls a server through any transport; here, in-process.
func Example_client() {
	c := msgpack.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("div", func(a, b int64) (int64, error) {
		if b == 0 {
			return 0, &rpc.Error{Code: 1, Message: "division by zero", Data: map[string]any{"a": a}}
		}
		return a / b, nil
	}, rpc.WithParamNames("a", "b"))
	client, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	var q int64
	err = client.CallNamed(ctx, "div", &q, map[string]int64{"a": 7, "b": 2})
	fmt.Println(q, err)

	err = client.Call(ctx, "div", &q, 7, 0)
	var e *rpc.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Message, e.Data)
	}
	// Output:
	// 3 <nil>
	// 1 division by zero map[a:7]
}

// Stock msgpack-rpc clients write messages back to back on a stream, with
// no framing: ReadMessage reads one at a time.
func ExampleCodec_ReadMessage() {
	c := msgpack.New()
	stream := bufio.NewReader(bytes.NewReader([]byte{
		0x94, 0x00, 0x01, 0xa3, 's', 'u', 'm', 0x92, 0x01, 0x02, // [0, 1, "sum", [1, 2]]
		0x93, 0x02, 0xa4, 'p', 'i', 'n', 'g', 0x90, // [2, "ping", []]
	}))
	for {
		msg, err := c.ReadMessage(stream, nil, 1<<20)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("% x\n", msg)
	}
	// Output:
	// 94 00 01 a3 73 75 6d 92 01 02
	// 93 02 a4 70 69 6e 67 90
	// EOF
}
