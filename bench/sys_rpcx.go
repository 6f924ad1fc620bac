package main

import (
	"context"

	rpcxclient "github.com/smallnest/rpcx/client"
	rpcxlog "github.com/smallnest/rpcx/log"
	"github.com/smallnest/rpcx/protocol"
	rpcxserver "github.com/smallnest/rpcx/server"
)

// RpcxBench serves the three calls in rpcx's shape.
type RpcxBench struct{}

// Add adds the operands.
func (RpcxBench) Add(ctx context.Context, args *AddArgs, reply *int64) error {
	*reply = args.A + args.B
	return nil
}

// EchoInts returns its argument.
func (RpcxBench) EchoInts(ctx context.Context, args *[]int64, reply *[]int64) error {
	*reply = *args
	return nil
}

// EchoStruct returns its argument.
func (RpcxBench) EchoStruct(ctx context.Context, args *Record, reply *Record) error {
	*reply = *args
	return nil
}

// rpcxMsgpack is smallnest/rpcx with msgpack serialization, its default.
func rpcxMsgpack() system {
	return system{
		name:  "rpcx msgpack",
		desc:  "smallnest/rpcx v1.9.1 server.ServeListener (HTTP gateway and JSON-RPC off) and client.NewClient, SerializeType MsgPack, one TCP connection",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			rpcxlog.SetDummyLogger()
			s := rpcxserver.NewServer()
			s.DisableHTTPGateway = true
			s.DisableJSONRPC = true
			if err := s.RegisterName("Bench", RpcxBench{}, ""); err != nil {
				return nil, err
			}
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			go s.ServeListener("tcp", ln)
			opt := rpcxclient.DefaultOption
			opt.SerializeType = protocol.MsgPack
			cl := rpcxclient.NewClient(opt)
			if err := cl.Connect("tcp", ln.Addr().String()); err != nil {
				s.Close()
				return nil, err
			}
			return &instance{
				newCaller: rpcxCaller(cl),
				close:     closers(func() { s.Close() }, func() { cl.Close() }),
			}, nil
		},
	}
}

func rpcxCaller(cl *rpcxclient.Client) func(k callKind, concurrent bool) caller {
	ctx := context.Background()
	return func(k callKind, _ bool) caller {
		switch k {
		case callAdd:
			args := &AddArgs{A: addA, B: addB}
			var sum int64
			return caller{
				call:   func() error { sum = 0; return cl.Call(ctx, "Bench", "Add", args, &sum) },
				result: func() any { return sum },
			}
		case callInts:
			args := newInts()
			var out []int64
			return caller{
				call:   func() error { out = nil; return cl.Call(ctx, "Bench", "EchoInts", &args, &out) },
				result: func() any { return out },
			}
		default:
			rec := newRecord()
			var out Record
			return caller{
				call:   func() error { out = Record{}; return cl.Call(ctx, "Bench", "EchoStruct", &rec, &out) },
				result: func() any { return out },
			}
		}
	}
}
