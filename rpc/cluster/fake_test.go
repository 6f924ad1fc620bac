package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
)

var codec = json.New()

// Fault modes of a node's transport.
const (
	modeOK      = iota
	modeRefuse  // the dial is refused: nothing sent
	modeLost    // the server runs the call, then the connection is lost
	mode503     // an HTTP 503: nothing run
	mode502     // the server runs the call, then a proxy answers 502
	modeNotSent // the transport says it sent nothing
)

// node is one in-process server and the faults of the transport to it.
type node struct {
	i        int
	srv      *rpc.Server
	mode     atomic.Int32
	runs     atomic.Int64 // runs of svc.who
	probes   atomic.Int64 // exchanges of system.health, whatever the mode
	draining atomic.Bool
	blocked  chan int      // svc.block sends its node here...
	unblock  chan struct{} // ...and waits for this
	closes   atomic.Int64  // transports closed
}

var errDraining = &rpc.Error{Code: rpc.CodeServerError, Message: "draining"}

// newNodes starts n servers, reached as inproc://0, inproc://1, ... through
// the dial function returned.
func newNodes(t testing.TB, n int) ([]*node, cluster.DialFunc, []string) {
	t.Helper()
	nodes := make([]*node, n)
	urls := make([]string, n)
	for i := range nodes {
		s, err := rpc.NewServer(rpc.WithCodecs(codec))
		if err != nil {
			t.Fatal(err)
		}
		nd := &node{i: i, srv: s, blocked: make(chan int, 16), unblock: make(chan struct{})}
		must(t, s.Register("svc.who", func() (int, error) { nd.runs.Add(1); return nd.i, nil }))
		must(t, s.Register("svc.fail", func() (int, error) { return 0, errors.New("boom") }))
		must(t, s.Register("svc.drainy", func() (int, error) {
			if nd.draining.Load() {
				return 0, errDraining
			}
			return nd.i, nil
		}))
		must(t, s.Register("svc.block", func(ctx context.Context) (int, error) {
			nd.blocked <- nd.i
			select {
			case <-nd.unblock:
			case <-ctx.Done():
			}
			return nd.i, nil
		}))
		must(t, s.Register("system.health", func() (string, error) {
			if nd.draining.Load() {
				return "", errDraining
			}
			return "ok", nil
		}))
		nodes[i] = nd
		urls[i] = "inproc://" + strconv.Itoa(i)
	}
	dial := func(ctx context.Context, u string) (*rpc.Client, error) {
		i, err := strconv.Atoi(strings.TrimPrefix(u, "inproc://"))
		if err != nil || i < 0 || i >= len(nodes) {
			return nil, fmt.Errorf("no node %q", u)
		}
		return rpc.NewClient(&faultTransport{nd: nodes[i], t: rpc.InProcess(nodes[i].srv)}, codec)
	}
	return nodes, dial, urls
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// faultTransport is an in-process transport that fails as its node's mode
// says.
type faultTransport struct {
	nd *node
	t  rpc.Transport
}

func (f *faultTransport) Exchange(ctx context.Context, c rpc.Codec, msg []byte, oneway bool) ([]byte, error) {
	if strings.Contains(string(msg), `"system.health"`) {
		f.nd.probes.Add(1)
	}
	switch f.nd.mode.Load() {
	case modeRefuse:
		return nil, fmt.Errorf("tcprpc: dialing 127.0.0.1:1: %w",
			&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	case mode503:
		return nil, &statusError{503}
	case modeNotSent:
		return nil, notSent{}
	case modeLost:
		f.t.Exchange(ctx, c, msg, oneway)
		return nil, fmt.Errorf("%w: read tcp: connection reset by peer", rpc.ErrConnectionLost)
	case mode502:
		f.t.Exchange(ctx, c, msg, oneway)
		return nil, &statusError{502}
	}
	return f.t.Exchange(ctx, c, msg, oneway)
}

func (f *faultTransport) Close() error {
	f.nd.closes.Add(1)
	return nil
}

// statusError is an HTTP status, as an HTTP transport reports it.
type statusError struct{ code int }

func (e *statusError) Error() string   { return "status " + strconv.Itoa(e.code) }
func (e *statusError) HTTPStatus() int { return e.code }

// notSent is a transport's error that says nothing was sent.
type notSent struct{}

func (notSent) Error() string { return "the connection closed before the request was written" }
func (notSent) NotSent() bool { return true }

// fakeResolver gives the endpoints a test pushes.
type fakeResolver struct {
	mu      sync.Mutex
	urls    []string
	err     error
	set     bool // urls or err was given
	changed chan struct{}
}

func newFakeResolver() *fakeResolver { return &fakeResolver{changed: make(chan struct{}, 1)} }

func (r *fakeResolver) push(urls []string, err error) {
	r.mu.Lock()
	r.urls, r.err, r.set = urls, err, true
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *fakeResolver) Resolve(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.urls, r.err
}

func (r *fakeResolver) Watch(ctx context.Context, update func([]string, error)) {
	for {
		r.mu.Lock()
		urls, err, set := r.urls, r.err, r.set
		r.mu.Unlock()
		if set {
			update(urls, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.changed:
		}
	}
}

// whoCounts makes n calls of svc.who and counts the calls each node served.
func whoCounts(t testing.TB, c *cluster.Client, nodes int, n int) []int {
	t.Helper()
	counts := make([]int, nodes)
	for range n {
		var who int
		if err := c.Call(context.Background(), "svc.who", &who); err != nil {
			t.Fatalf("svc.who: %v", err)
		}
		counts[who]++
	}
	return counts
}

func newClient(t testing.TB, r cluster.Resolver, dial cluster.DialFunc, opts ...cluster.Option) *cluster.Client {
	t.Helper()
	c, err := cluster.New(r, dial, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func runs(nodes []*node) (total int64) {
	for _, n := range nodes {
		total += n.runs.Load()
	}
	return total
}
