package main

import (
	"context"

	"github.com/kolo/xmlrpc"
)

// koloXMLRPC is kolo/xmlrpc's client calling polyrpc's XML-RPC server over
// HTTP (the same server as "polyrpc http+xml").
func koloXMLRPC() system {
	return system{
		name:  "kolo xmlrpc → polyrpc",
		desc:  "kolo/xmlrpc.NewClient (keep-alive http.Transport) against httprpc.NewHandler serving codec xml",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			if _, err := lookupCodec("xml"); err != nil {
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
			hc := newHTTPClient()
			cl, err := xmlrpc.NewClient("http://"+ln.Addr().String()+"/RPC2", hc.Transport)
			if err != nil {
				hs.Close()
				return nil, err
			}
			return &instance{
				newCaller: koloCaller(cl),
				close:     closers(func() { hs.Close() }, func() { cl.Close() }),
			}, nil
		},
	}
}

func koloCaller(cl *xmlrpc.Client) func(k callKind, concurrent bool) caller {
	return func(k callKind, _ bool) caller {
		switch k {
		case callAdd:
			args := []any{addA, addB}
			var sum int64
			return caller{
				call:   func() error { sum = 0; return cl.Call(methodAdd, args, &sum) },
				result: func() any { return sum },
			}
		case callInts:
			args := []any{newInts()}
			var out []int64
			return caller{
				call:   func() error { out = nil; return cl.Call(methodEchoInts, args, &out) },
				result: func() any { return out },
			}
		default:
			args := []any{newRecord()}
			var out Record
			return caller{
				call:   func() error { out = Record{}; return cl.Call(methodEchoStruct, args, &out) },
				result: func() any { return out },
			}
		}
	}
}
