package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/httprpc"
	"github.com/polyrpc/polyrpc/rpc/tcprpc"
)

// newPolyServer returns a polyrpc server of the three calls, serving every
// codec built into this program.
func newPolyServer(opts ...rpc.Option) (*rpc.Server, error) {
	s, err := rpc.NewServer(opts...)
	if err != nil {
		return nil, err
	}
	if err := s.Register(methodAdd, func(ctx context.Context, a, b int64) (int64, error) {
		return a + b, nil
	}); err != nil {
		return nil, err
	}
	if err := s.Register(methodEchoInts, func(ctx context.Context, v []int64) ([]int64, error) {
		return v, nil
	}); err != nil {
		return nil, err
	}
	if err := s.Register(methodEchoStruct, func(ctx context.Context, r *Record) (*Record, error) {
		return r, nil
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// errNoCodec marks a system whose polyrpc codec is not built in.
var errNoCodec = errors.New("codec not registered")

// lookupCodec finds a polyrpc codec by its registry name.
func lookupCodec(name string) (rpc.Codec, error) {
	c, ok := rpc.LookupCodec(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q (codec/%s is not imported by bench/codecs.go yet)", errNoCodec, name, name)
	}
	return c, nil
}

// polyrpcTCP is polyrpc's TCP transport with codec: tcprpc.Server, which
// tells the codec by each frame's first byte, and tcprpc.NewClient.
func polyrpcTCP(codec string) system {
	return system{
		name:  "polyrpc tcp+" + codec,
		desc:  "tcprpc.NewServer (codec sniffed per frame, default limits) and tcprpc.NewClient with codec " + codec,
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			c, err := lookupCodec(codec)
			if err != nil {
				return nil, err
			}
			s, err := newPolyServer()
			if err != nil {
				return nil, err
			}
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			srv, err := tcprpc.NewServer(s)
			if err != nil {
				return nil, err
			}
			go srv.Serve(ln)
			cl, err := tcprpc.NewClient(ln.Addr().String(), c)
			if err != nil {
				srv.Close()
				return nil, err
			}
			return &instance{
				newCaller: polyCaller(cl),
				close:     closers(func() { srv.Close() }, func() { cl.Close() }),
			}, nil
		},
	}
}

// polyrpcHTTP is polyrpc's HTTP transport with codec: httprpc.Handler served
// by httprpc.Server, and httprpc.NewClient, pipelining up to pipeline calls
// per connection if pipeline > 1 (httprpc.WithPipelining).
func polyrpcHTTP(codec string, pipeline int) system {
	name := "polyrpc http+" + codec
	desc := "httprpc.NewHandler served by httprpc.Server (polyrpc's HTTP/1.1 server), and httprpc.NewClient (its own HTTP/1.1 client) with codec " + codec
	if pipeline > 1 {
		name += fmt.Sprintf(" pipelined %d", pipeline)
		desc += fmt.Sprintf(", pipelining up to %d calls per connection (httprpc.WithPipelining(%d)) on at most 2×GOMAXPROCS connections", pipeline, pipeline)
	}
	return system{
		name:  name,
		desc:  desc,
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			c, err := lookupCodec(codec)
			if err != nil {
				return nil, err
			}
			s, err := newPolyServer()
			if err != nil {
				return nil, err
			}
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			hs, err := newPolyHTTPServer(s)
			if err != nil {
				return nil, err
			}
			go hs.Serve(ln)
			cl, err := httprpc.NewClient("http://"+ln.Addr().String()+"/RPC2", c, httprpc.WithPipelining(pipeline))
			if err != nil {
				hs.Close()
				return nil, err
			}
			return &instance{
				newCaller: polyCaller(cl),
				close:     closers(func() { hs.Close() }, func() { cl.Close() }),
			}, nil
		},
	}
}

// newPolyHTTPServer serves s over HTTP with httprpc's defaults.
func newPolyHTTPServer(s *rpc.Server) (*httprpc.Server, error) {
	h, err := httprpc.NewHandler(s)
	if err != nil {
		return nil, err
	}
	return httprpc.NewServer(h)
}

// polyCaller makes the three calls on a polyrpc client. The params are
// boxed once, as constants would be, so that a call's allocations are the
// framework's own.
func polyCaller(cl *rpc.Client) func(k callKind, concurrent bool) caller {
	ctx := context.Background()
	return func(k callKind, _ bool) caller {
		switch k {
		case callAdd:
			args := []any{addA, addB}
			var sum int64
			return caller{
				call:   func() error { sum = 0; return cl.Call(ctx, methodAdd, &sum, args...) },
				result: func() any { return sum },
			}
		case callInts:
			args := []any{newInts()}
			var out []int64
			return caller{
				call:   func() error { out = nil; return cl.Call(ctx, methodEchoInts, &out, args...) },
				result: func() any { return out },
			}
		default:
			rec := newRecord()
			args := []any{&rec}
			var out Record
			return caller{
				call:   func() error { out = Record{}; return cl.Call(ctx, methodEchoStruct, &out, args...) },
				result: func() any { return out },
			}
		}
	}
}
