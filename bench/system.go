package main

import (
	"context"
	"math"
	"net"

	"github.com/polyrpc/polyrpc/rpc/httprpc"
)

// callKind is one of the three calls that every system is measured on.
type callKind int

const (
	callAdd    callKind = iota // small: add two int64
	callInts                   // large: echo numInts int64
	callStruct                 // large: echo a Record
)

var allCalls = []callKind{callAdd, callInts, callStruct}

// String is the call's short name, used in flags and file names.
func (k callKind) String() string {
	switch k {
	case callAdd:
		return "small"
	case callInts:
		return "ints"
	default:
		return "struct"
	}
}

// title is the call's heading in the report.
func (k callKind) title() string {
	switch k {
	case callAdd:
		return "small: add two int64 → int64"
	case callInts:
		return "large: echo []int64 of 1000"
	default:
		return "large: echo a struct of 50 mixed fields"
	}
}

// A system is one RPC stack under test. start brings up its server on
// loopback and a client of it, in this process.
type system struct {
	name  string // the name in the table and for -only
	desc  string // what exactly runs, for the report's notes
	calls []callKind
	start func(ctx context.Context) (*instance, error)
}

// instance is a started system: one server and ONE client, which every
// caller shares.
type instance struct {
	// newCaller returns a caller of call k on the shared client. Each
	// goroutine gets its own caller, so that results are not shared;
	// concurrent says whether other goroutines call at the same time
	// (only the bare TCP reference cares).
	newCaller func(k callKind, concurrent bool) caller
	close     func()
}

// caller makes one call at a time and keeps the result of the last one.
type caller struct {
	kind   callKind // set by the runner
	call   func() error
	result func() any // the last result as a Go value comparable by check
}

// systems is every system measured, in the order of the report. Adding a
// system is adding an entry here.
var systems = []system{
	polyrpcTCP("json"),
	polyrpcTCP("xml"),
	polyrpcTCP("msgpack"),
	polyrpcTCPObserved("msgpack", observeMetrics),
	polyrpcTCPObserved("msgpack", observeTracing),
	polyrpcTCPObserved("msgpack", observeBoth),
	polyrpcTCPObserved("msgpack", observeBoth1),
	polyrpcTCP("proto"),
	polyrpcHTTP("json", 0),
	polyrpcHTTP("json", 16),
	polyrpcHTTP("xml", 0),
	polyrpcHTTPRow("polyrpc http+json no gzip", ownServer, ownClient, httprpc.WithCompressThreshold(math.MaxInt)),
	polyrpcHTTPRow("polyrpc http+json, net/http server", netHTTPServer, ownClient),
	polyrpcHTTPRow("polyrpc http+json, net/http client", ownServer, netHTTPClient),
	polyrpcHTTPRow("polyrpc http+json on net/http", netHTTPServer, netHTTPClient),
	polyrpcHTTPVia("polyrpc http+json via nginx", ownServer, ownClient, true),
	polyrpcHTTPVia("polyrpc http+json on net/http via nginx", netHTTPServer, netHTTPClient, true),
	polyrpcHTTPRow("polyrpc http+json h2c, net/http server", netHTTPServer, h2cClient),
	polyrpcHTTPRow("polyrpc http+json h2c, own server", ownServer, h2cClient),
	netrpcGob(),
	netrpcJSON(),
	gorillaJSON2(),
	grpcUnary(),
	koloXMLRPC(),
	rpcxMsgpack(),
	bareTCP(),
}

// Names of the systems that the ratios and targets refer to.
const (
	refGob = "net/rpc gob"
	refTCP = "bare TCP"
)

// listen opens a loopback listener on a free port.
func listen() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

// closers runs fns in reverse order: a client before its server.
func closers(fns ...func()) func() {
	return func() {
		for i := len(fns) - 1; i >= 0; i-- {
			fns[i]()
		}
	}
}
