package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	gorilla "github.com/gorilla/rpc/v2"
	"github.com/gorilla/rpc/v2/json2"
)

// GorillaBench serves the three calls in gorilla/rpc's shape.
type GorillaBench struct{}

// Add adds the operands.
func (GorillaBench) Add(r *http.Request, args *AddArgs, reply *int64) error {
	*reply = args.A + args.B
	return nil
}

// EchoInts returns its argument.
func (GorillaBench) EchoInts(r *http.Request, args *[]int64, reply *[]int64) error {
	*reply = *args
	return nil
}

// EchoStruct returns its argument.
func (GorillaBench) EchoStruct(r *http.Request, args *Record, reply *Record) error {
	*reply = *args
	return nil
}

// newHTTPClient returns the keep-alive client that the HTTP peers' clients
// use: the settings of polyrpc's own (64 idle connections per host), so
// that the clients differ in their RPC code, not in connection reuse.
func newHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// gorillaJSON2 is gorilla/rpc v2 with its json2 codec, served by net/http's
// server; the client is json2.EncodeClientRequest, http.Client.Post and
// json2.DecodeClientResponse.
func gorillaJSON2() system {
	return system{
		name:  "gorilla json2",
		desc:  "gorilla/rpc v2 Server with json2.NewCodec in net/http's http.Server; client json2.EncodeClientRequest + http.Client.Post (keep-alive) + json2.DecodeClientResponse",
		calls: allCalls,
		start: func(ctx context.Context) (*instance, error) {
			s := gorilla.NewServer()
			s.RegisterCodec(json2.NewCodec(), "application/json")
			if err := s.RegisterService(GorillaBench{}, "Bench"); err != nil {
				return nil, err
			}
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			// gorilla/rpc is an http.Handler for net/http's server,
			// where its users run it; the timeouts are httprpc's
			// defaults.
			hs := &http.Server{
				Handler:           s,
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       60 * time.Second,
				IdleTimeout:       120 * time.Second,
			}
			go hs.Serve(ln)
			hc := newHTTPClient()
			url := "http://" + ln.Addr().String() + "/RPC2"
			return &instance{
				newCaller: gorillaCaller(hc, url),
				close:     closers(func() { hs.Close() }, hc.CloseIdleConnections),
			}, nil
		},
	}
}

// gorillaCall makes one JSON-RPC 2.0 call as gorilla's json2 client does.
func gorillaCall(hc *http.Client, url, method string, args, reply any) error {
	body, err := json2.EncodeClientRequest(method, args)
	if err != nil {
		return err
	}
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gorilla: HTTP %s", resp.Status)
	}
	err = json2.DecodeClientResponse(resp.Body, reply)
	io.Copy(io.Discard, resp.Body) // so that the connection is reused
	return err
}

func gorillaCaller(hc *http.Client, url string) func(k callKind, concurrent bool) caller {
	return func(k callKind, _ bool) caller {
		switch k {
		case callAdd:
			args := &AddArgs{A: addA, B: addB}
			var sum int64
			return caller{
				call:   func() error { sum = 0; return gorillaCall(hc, url, "Bench.Add", args, &sum) },
				result: func() any { return sum },
			}
		case callInts:
			args := newInts()
			var out []int64
			return caller{
				call:   func() error { out = nil; return gorillaCall(hc, url, "Bench.EchoInts", args, &out) },
				result: func() any { return out },
			}
		default:
			rec := newRecord()
			var out Record
			return caller{
				call:   func() error { out = Record{}; return gorillaCall(hc, url, "Bench.EchoStruct", &rec, &out) },
				result: func() any { return out },
			}
		}
	}
}
