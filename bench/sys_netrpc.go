package main

import (
	"context"
	"io"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
)

// NetRPCBench serves the three calls in net/rpc's shape, for both of its
// codecs and for rpcx's reflection, which follows it.
type NetRPCBench struct{}

// Add adds the operands.
func (NetRPCBench) Add(args *AddArgs, reply *int64) error {
	*reply = args.A + args.B
	return nil
}

// EchoInts returns its argument.
func (NetRPCBench) EchoInts(args *[]int64, reply *[]int64) error {
	*reply = *args
	return nil
}

// EchoStruct returns its argument.
func (NetRPCBench) EchoStruct(args *Record, reply *Record) error {
	*reply = *args
	return nil
}

// netrpcGob is Go's net/rpc with its default gob codec over TCP.
func netrpcGob() system {
	return system{
		name:  refGob,
		desc:  "net/rpc Server.ServeConn and rpc.NewClient (gob) over one TCP connection",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			return startNetRPC(
				func(s *rpc.Server, c net.Conn) { s.ServeConn(c) },
				rpc.NewClient)
		},
	}
}

// netrpcJSON is Go's net/rpc with net/rpc/jsonrpc (JSON-RPC 1.0) over TCP.
func netrpcJSON() system {
	return system{
		name:  "net/rpc jsonrpc",
		desc:  "net/rpc with jsonrpc.NewServerCodec and jsonrpc.NewClient over one TCP connection",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			return startNetRPC(
				func(s *rpc.Server, c net.Conn) { s.ServeCodec(jsonrpc.NewServerCodec(c)) },
				jsonrpc.NewClient)
		},
	}
}

func startNetRPC(serve func(*rpc.Server, net.Conn), newClient func(io.ReadWriteCloser) *rpc.Client) (*instance, error) {
	s := rpc.NewServer()
	if err := s.RegisterName("Bench", NetRPCBench{}); err != nil {
		return nil, err
	}
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	go acceptLoop(ln, func(c net.Conn) { serve(s, c) })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, err
	}
	cl := newClient(conn)
	return &instance{
		newCaller: netrpcCaller(cl),
		close:     closers(func() { ln.Close() }, func() { cl.Close() }),
	}, nil
}

// acceptLoop serves every connection of ln in its own goroutine until ln is
// closed.
func acceptLoop(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

func netrpcCaller(cl *rpc.Client) func(k callKind, concurrent bool) caller {
	return func(k callKind, _ bool) caller {
		switch k {
		case callAdd:
			args := &AddArgs{A: addA, B: addB}
			var sum int64
			return caller{
				call:   func() error { sum = 0; return cl.Call("Bench.Add", args, &sum) },
				result: func() any { return sum },
			}
		case callInts:
			args := newInts()
			var out []int64
			return caller{
				call:   func() error { out = nil; return cl.Call("Bench.EchoInts", &args, &out) },
				result: func() any { return out },
			}
		default:
			rec := newRecord()
			var out Record
			return caller{
				call:   func() error { out = Record{}; return cl.Call("Bench.EchoStruct", &rec, &out) },
				result: func() any { return out },
			}
		}
	}
}
