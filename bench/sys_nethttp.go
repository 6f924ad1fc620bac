package main

import (
	"context"
	"fmt"

	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// The rows below put polyrpc's HTTP engines side by side with net/http's on
// the same commit (issue 14, item 8): each is JSON-RPC over HTTP with the
// same handler, and differs from "polyrpc http+json" in one thing, named in
// the row.

// httpEnd configures one end of an HTTP row: options, made anew for each
// instance, and what to close with it.
type httpEnd struct {
	desc string
	opts func() ([]httprpc.Option, func())
}

func endOpts(opts ...httprpc.Option) func() ([]httprpc.Option, func()) {
	return func() ([]httprpc.Option, func()) { return opts, func() {} }
}

var (
	ownServer     = httpEnd{"httprpc.Server on its own engine", endOpts()}
	netHTTPServer = httpEnd{"httprpc.Server on net/http's engine (WithEngine(\"net/http\"): an http.Server with httprpc's timeouts and limits, HTTP/1.1 and h2c)", endOpts(httprpc.WithEngine("net/http"))}
	ownClient     = httpEnd{"httprpc.NewClient on its own HTTP/1.1 engine", endOpts()}
	h2cClient     = httpEnd{"httprpc.NewClient with WithHTTP2() (net/http's Transport, h2c with prior knowledge: one multiplexed connection)", endOpts(httprpc.WithHTTP2())}
	netHTTPClient = httpEnd{"httprpc.NewClient with WithRoundTripper(net/http's http.Transport, keep-alive, 64 idle connections)", func() ([]httprpc.Option, func()) {
		hc := newHTTPClient()
		return []httprpc.Option{httprpc.WithRoundTripper(hc.Transport)}, hc.CloseIdleConnections
	}}
)

// polyrpcHTTPRow is polyrpc's JSON-RPC over HTTP with the server and client
// given, and handler options.
func polyrpcHTTPRow(name string, server, client httpEnd, handlerOpts ...httprpc.Option) system {
	return polyrpcHTTPVia(name, server, client, false, handlerOpts...)
}

// polyrpcHTTPVia is polyrpcHTTPRow with nginx between client and server
// when viaNginx.
func polyrpcHTTPVia(name string, server, client httpEnd, viaNginx bool, handlerOpts ...httprpc.Option) system {
	via := ""
	if viaNginx {
		via = "; through nginx (one worker, upstream keepalive 64)"
	}
	return system{
		name:  name,
		desc:  fmt.Sprintf("httprpc.NewHandler in %s; %s; codec json%s", server.desc, client.desc, via),
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			c, err := lookupCodec("json")
			if err != nil {
				return nil, err
			}
			s, err := newPolyServer()
			if err != nil {
				return nil, err
			}
			h, err := httprpc.NewHandler(s, handlerOpts...)
			if err != nil {
				return nil, err
			}
			serverOpts, _ := server.opts()
			hs, err := httprpc.NewServer(h, serverOpts...)
			if err != nil {
				return nil, err
			}
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			go hs.Serve(ln)
			addr, stopFront := ln.Addr().String(), func() {}
			if viaNginx {
				if addr, stopFront, err = startNginx(ctx, addr); err != nil {
					hs.Close()
					return nil, err
				}
			}
			clientOpts, closeClient := client.opts()
			cl, err := httprpc.NewClient("http://"+addr+"/RPC2", c, clientOpts...)
			if err != nil {
				stopFront()
				hs.Close()
				return nil, err
			}
			// A server that does not speak the client's protocol is
			// unavailable, not failed: the own engine before it hands h2c
			// over to net/http's HTTP/2 server, say.
			var sum int64
			if err := cl.Call(ctx, methodAdd, &sum, addA, addB); err != nil {
				cl.Close()
				closeClient()
				stopFront()
				hs.Close()
				return nil, fmt.Errorf("the first call: %w", err)
			}
			return &instance{
				newCaller: polyCaller(cl),
				close:     closers(func() { hs.Close(); stopFront() }, func() { cl.Close(); closeClient() }),
			}, nil
		},
	}
}
