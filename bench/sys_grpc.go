package main

import (
	"context"

	"github.com/polyrpc/polyrpc/bench/benchpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcBench serves the three calls as a gRPC service.
type grpcBench struct {
	benchpb.UnimplementedBenchServer
}

func (grpcBench) Add(ctx context.Context, r *benchpb.AddRequest) (*benchpb.AddReply, error) {
	return &benchpb.AddReply{Sum: r.A + r.B}, nil
}

func (grpcBench) EchoInts(ctx context.Context, r *benchpb.Ints) (*benchpb.Ints, error) {
	return r, nil
}

func (grpcBench) EchoStruct(ctx context.Context, r *benchpb.Record) (*benchpb.Record, error) {
	return r, nil
}

// grpcUnary is grpc-go with the generated client and server, unary calls
// over one HTTP/2 connection.
func grpcUnary() system {
	return system{
		name:  "grpc-go",
		desc:  "grpc-go unary calls, generated code (protoc-gen-go, protoc-gen-go-grpc), one ClientConn, insecure loopback",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			gs := grpc.NewServer()
			benchpb.RegisterBenchServer(gs, grpcBench{})
			go gs.Serve(ln)
			cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				gs.Stop()
				return nil, err
			}
			cl := benchpb.NewBenchClient(cc)
			return &instance{
				newCaller: grpcCaller(cl),
				close:     closers(gs.Stop, func() { cc.Close() }),
			}, nil
		},
	}
}

func grpcCaller(cl benchpb.BenchClient) func(k callKind, concurrent bool) caller {
	ctx := context.Background()
	return func(k callKind, _ bool) caller {
		switch k {
		case callAdd:
			req := &benchpb.AddRequest{A: addA, B: addB}
			var out *benchpb.AddReply
			return caller{
				call: func() (err error) {
					out, err = cl.Add(ctx, req)
					return err
				},
				result: func() any { return out.GetSum() },
			}
		case callInts:
			req := &benchpb.Ints{V: newInts()}
			var out *benchpb.Ints
			return caller{
				call: func() (err error) {
					out, err = cl.EchoInts(ctx, req)
					return err
				},
				result: func() any { return out.GetV() },
			}
		default:
			rec := newRecord()
			req := toPB(&rec)
			var out *benchpb.Record
			return caller{
				call: func() (err error) {
					out, err = cl.EchoStruct(ctx, req)
					return err
				},
				result: func() any { return fromPB(out) },
			}
		}
	}
}
