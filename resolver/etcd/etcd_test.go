package etcd_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/polyrpc/polyrpc/codec/json"
	"github.com/polyrpc/polyrpc/resolver/etcd"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
)

var _ cluster.Resolver = (*etcd.Resolver)(nil)

const etcdBin = "/usr/bin/etcd"

// hang bounds every wait of these tests.
const hang = 30 * time.Second

// server is an etcd server the test started.
type server struct {
	cmd    *exec.Cmd
	client string // host:port
	out    *syncBuffer
	exited chan struct{}
}

// startEtcd starts a single-member etcd on free ports of 127.0.0.1, with
// its data in a temporary directory, and stops it at the end of the test.
func startEtcd(t *testing.T) *server {
	t.Helper()
	if _, err := os.Stat(etcdBin); err != nil {
		t.Skipf("no etcd server at %s (Debian's etcd-server package): %v", etcdBin, err)
	}
	clientAddr, peerAddr := freeAddr(t), freeAddr(t)
	peer := "http://" + peerAddr
	s := &server{client: clientAddr, out: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(etcdBin,
		"--name", "default",
		"--data-dir", t.TempDir(),
		"--listen-client-urls", "http://"+clientAddr,
		"--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default="+peer,
	)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("etcd's output:\n%s", s.out.String())
		}
	})
	cli := newClient(t, s)
	deadline := time.Now().Add(hang)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "ready")
		cancel()
		if err == nil {
			break
		}
		select {
		case <-s.exited:
			t.Fatalf("etcd exited: %s", s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not ready in %v: %v\n%s", hang, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newClient(t *testing.T, s *server) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.client}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// watcher collects a resolver's updates.
type watcher struct {
	mu      sync.Mutex
	history [][]string // the lists told, in order
	seen    int        // the lists waitFor went past
	errs    int
	signal  chan struct{}
}

func watch(t *testing.T, r *etcd.Resolver) *watcher {
	w := &watcher{signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Watch(ctx, func(eps []string, err error) {
			w.mu.Lock()
			if err != nil {
				w.errs++
			} else {
				w.history = append(w.history, eps)
			}
			w.mu.Unlock()
			select {
			case w.signal <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// waitFor waits until the resolver tells the endpoints want, after those
// the last waitFor saw.
func (w *watcher) waitFor(t *testing.T, want ...string) {
	t.Helper()
	timer := time.NewTimer(hang)
	defer timer.Stop()
	for {
		w.mu.Lock()
		var last []string
		for ; w.seen < len(w.history); w.seen++ {
			last = w.history[w.seen]
			if slices.Equal(last, want) {
				w.seen++
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		select {
		case <-w.signal:
		case <-timer.C:
			t.Fatalf("endpoints %q, want %q", last, want)
		}
	}
}

func TestRegisterAndWatch(t *testing.T) {
	s := startEtcd(t)
	cli := newClient(t, s)
	r, err := etcd.NewResolver(cli, "/services/rpc")
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, r)
	w.waitFor(t) // empty at first

	// A key beside the prefix is no endpoint.
	if _, err := cli.Put(context.Background(), "/services/rpcx/a", "tcp://192.0.2.9:1"); err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	done1, err := etcd.Register(ctx1, cli, "/services/rpc", "tcp://127.0.0.1:9001", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "tcp://127.0.0.1:9001")
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2, err := etcd.Register(ctx2, cli, "/services/rpc/", "http://127.0.0.1:9002/rpc", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "http://127.0.0.1:9002/rpc", "tcp://127.0.0.1:9001")
	if got, err := r.Resolve(context.Background()); err != nil || len(got) != 2 {
		t.Errorf("Resolve = %q, %v", got, err)
	}

	// The end of a registration revokes its lease: the endpoint goes at once.
	cancel1()
	select {
	case <-done1:
	case <-time.After(hang):
		t.Fatal("the registration did not end")
	}
	w.waitFor(t, "http://127.0.0.1:9002/rpc")
	resp, err := cli.Get(context.Background(), "/services/rpc/tcp://127.0.0.1:9001")
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("the key of the revoked registration: %v, %v", resp.Kvs, err)
	}
	cancel2()
	<-done2
	w.waitFor(t)
}

// A registration whose process stops keeping the lease alive goes when the
// lease expires; one whose lease was lost registers again.
func TestLeaseExpiry(t *testing.T) {
	s := startEtcd(t)
	cli := newClient(t, s)
	r, err := etcd.NewResolver(cli, "/svc")
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, r)
	w.waitFor(t)

	dying := newClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := etcd.Register(ctx, dying, "/svc", "tcp://127.0.0.1:9003", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "tcp://127.0.0.1:9003")
	dying.Close() // as if the process died: no more keep-alives, no revoke
	w.waitFor(t)

	// The lease revoked from elsewhere: the registration puts the key again.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2, err := etcd.Register(ctx2, cli, "/svc", "tcp://127.0.0.1:9004", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "tcp://127.0.0.1:9004")
	resp, err := cli.Get(context.Background(), "/svc/tcp://127.0.0.1:9004")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("Get: %v, %v", resp, err)
	}
	if _, err := cli.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t)
	w.waitFor(t, "tcp://127.0.0.1:9004")
	cancel2()
	<-done2
	w.waitFor(t)
}

// While etcd is out of reach a client keeps calling the endpoints it knew.
func TestEtcdUnreachable(t *testing.T) {
	s := startEtcd(t)
	cli := newClient(t, s)
	codec := json.New()
	servers := map[string]*rpc.Server{}
	for i := range 2 {
		srv, err := rpc.NewServer(rpc.WithCodecs(codec))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Register("svc.who", func() (int, error) { return i, nil }); err != nil {
			t.Fatal(err)
		}
		u := "inproc://" + strconv.Itoa(i)
		servers[u] = srv
		if _, err := etcd.Register(t.Context(), cli, "/svc", u, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	r, err := etcd.NewResolver(cli, "/svc", etcd.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(r, func(ctx context.Context, u string) (*rpc.Client, error) {
		srv, ok := servers[u]
		if !ok {
			return nil, errors.New("no server " + u)
		}
		return rpc.NewClient(rpc.InProcess(srv), codec)
	}, cluster.WithBalancer("rr"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call := func() []int {
		counts := make([]int, 2)
		for range 10 {
			var who int
			if err := c.Call(context.Background(), "svc.who", &who); err != nil {
				t.Fatal(err)
			}
			counts[who]++
		}
		return counts
	}
	if got := call(); !slices.Equal(got, []int{5, 5}) {
		t.Errorf("calls per endpoint = %v", got)
	}
	s.kill()
	if _, err := r.Resolve(context.Background()); err == nil {
		t.Fatal("Resolve with etcd stopped succeeded")
	}
	if got := call(); !slices.Equal(got, []int{5, 5}) {
		t.Errorf("with etcd stopped: calls per endpoint = %v", got)
	}
	if n := len(c.Endpoints()); n != 2 {
		t.Errorf("with etcd stopped: %d endpoints, want the 2 known", n)
	}
}

func TestBadInput(t *testing.T) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := etcd.NewResolver(nil, "/svc"); err == nil {
		t.Error("NewResolver with a nil client succeeded")
	}
	if _, err := etcd.NewResolver(cli, ""); err == nil {
		t.Error("NewResolver with an empty prefix succeeded")
	}
	if _, err := etcd.NewResolver(cli, "/svc", etcd.WithTimeout(-1)); err == nil {
		t.Error("NewResolver with a negative timeout succeeded")
	}
	ctx := context.Background()
	for _, tc := range []struct {
		prefix, url string
		ttl         time.Duration
	}{{"", "tcp://a:1", time.Second}, {"/svc", "", time.Second}, {"/svc", "tcp://a:1", time.Millisecond}} {
		if _, err := etcd.Register(ctx, cli, tc.prefix, tc.url, tc.ttl); err == nil {
			t.Errorf("Register(%q, %q, %v) succeeded", tc.prefix, tc.url, tc.ttl)
		}
	}
	// etcd out of reach: Register fails within its timeout.
	if _, err := etcd.Register(ctx, cli, "/svc", "tcp://a:1", time.Second, etcd.WithTimeout(500*time.Millisecond)); err == nil {
		t.Error("Register with etcd out of reach succeeded")
	}
}
