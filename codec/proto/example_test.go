package proto_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/polyrpc/polyrpc/codec/proto"
	"github.com/polyrpc/polyrpc/codec/proto/internal/testpb"
	"github.com/polyrpc/polyrpc/codec/proto/polyrpcpb"
	"github.com/polyrpc/polyrpc/rpc"
	pb "google.golang.org/protobuf/proto"
)

// A server answers a Request that any protobuf implementation built, here
// Go's with the generated polyrpcpb types.
func Example() {
	c := proto.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("add", func(a, b int64) (int64, error) { return a + b, nil })

	req, _ := pb.Marshal(&polyrpcpb.Request{Id: 7, Method: "add", Params: []*polyrpcpb.Value{
		{Kind: &polyrpcpb.Value_IntValue{IntValue: 9007199254740993}},
		{Kind: &polyrpcpb.Value_IntValue{IntValue: 1}},
	}})
	var resp polyrpcpb.Response
	_ = pb.Unmarshal(s.ServeMessage(context.Background(), c, req, nil), &resp)
	fmt.Println(resp.GetId(), resp.GetResult().GetIntValue())
	// Output: 7 9007199254740994
}

// A client calls a server through any transport; here, in-process.
func Example_client() {
	c := proto.New()
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

// A handler takes and returns protobuf messages, which travel in their own
// encoding; testpb.Thing stands for a program's own generated message type.
func Example_messages() {
	c := proto.New()
	s, err := rpc.NewServer(rpc.WithCodecs(c))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register("things.rename", func(ctx context.Context, th *testpb.Thing, name string) (*testpb.Thing, error) {
		out := pb.Clone(th).(*testpb.Thing)
		out.Name = name
		return out, nil
	})
	client, err := rpc.NewClient(rpc.InProcess(s), c)
	if err != nil {
		fmt.Println(err)
		return
	}

	var renamed *testpb.Thing
	err = client.Call(context.Background(), "things.rename", &renamed, &testpb.Thing{Id: 1, Name: "old"}, "new")
	fmt.Println(renamed.GetId(), renamed.GetName(), err)
	// Output: 1 new <nil>
}
