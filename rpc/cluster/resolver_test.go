package cluster_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/cluster"
)

// fakeDNS answers lookups from its tables.
type fakeDNS struct {
	mu     sync.Mutex
	hosts  map[string][]string
	srv    map[string][]*net.SRV
	err    error
	lookup int
}

func (f *fakeDNS) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookup++
	if f.err != nil {
		return nil, f.err
	}
	ips, ok := f.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
	}
	return out, nil
}

func (f *fakeDNS) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookup++
	if f.err != nil {
		return "", nil, f.err
	}
	srvs, ok := f.srv[name]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return name, srvs, nil
}

func (f *fakeDNS) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func TestStatic(t *testing.T) {
	t.Parallel()
	urls := []string{"tcp://a:1", "tcp://b:1"}
	r := cluster.Static(urls...)
	urls[0] = "changed"
	got, err := r.Resolve(context.Background())
	if err != nil || !slices.Equal(got, []string{"tcp://a:1", "tcp://b:1"}) {
		t.Errorf("Resolve = %q, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var updates [][]string
	cancel()
	r.Watch(ctx, func(eps []string, err error) { updates = append(updates, eps) })
	if len(updates) != 1 || len(updates[0]) != 2 {
		t.Errorf("Watch gave %q, want the list once", updates)
	}
}

func TestDNSResolve(t *testing.T) {
	t.Parallel()
	f := &fakeDNS{
		hosts: map[string][]string{
			"svc.test": {"192.0.2.2", "192.0.2.1", "2001:db8::1"},
			"a.test":   {"192.0.2.10"},
			"b.test":   {"192.0.2.11", "2001:db8::11"},
		},
		srv: map[string][]*net.SRV{
			"_rpc._tcp.svc.test": {
				{Target: "a.test.", Port: 9001, Priority: 10},
				{Target: "b.test.", Port: 9002, Priority: 20},
				{Target: "192.0.2.12", Port: 9003},
				{Target: "gone.test.", Port: 9004}, // no address: left out
			},
			"_none._tcp.svc.test": {{Target: ".", Port: 0}},
		},
	}
	for _, tc := range []struct {
		target string
		want   []string
		err    string
	}{
		{"tcp://svc.test:9000", []string{"tcp://192.0.2.1:9000", "tcp://192.0.2.2:9000", "tcp://[2001:db8::1]:9000"}, ""},
		{"http://svc.test/rpc", []string{"http://192.0.2.1/rpc", "http://192.0.2.2/rpc", "http://[2001:db8::1]/rpc"}, ""},
		{"http://_rpc._tcp.svc.test/rpc", []string{
			"http://192.0.2.10:9001/rpc", "http://192.0.2.11:9002/rpc", "http://192.0.2.12:9003/rpc", "http://[2001:db8::11]:9002/rpc"}, ""},
		{"tcp://missing.test:1", nil, "no such host"},
		{"tcp://_rpc._tcp.missing.test", nil, "no such host"},
		{"tcp://_none._tcp.svc.test", nil, "no addresses"},
	} {
		r, err := cluster.DNSWith(tc.target, f)
		if err != nil {
			t.Fatalf("DNS(%q): %v", tc.target, err)
		}
		got, err := r.Resolve(context.Background())
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: Resolve = %q, %v; want an error saying %q", tc.target, got, err, tc.err)
			}
		case err != nil || !slices.Equal(got, tc.want):
			t.Errorf("%s: Resolve = %q, %v\nwant %q", tc.target, got, err, tc.want)
		}
	}
}

// A DNS resolver looks the name up again every refresh interval, tells
// changes only, and tells a failure without dropping what it found.
func TestDNSWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeDNS{hosts: map[string][]string{"svc.test": {"192.0.2.1"}}}
		r, err := cluster.DNSWith("tcp://svc.test:1", f, cluster.WithRefresh(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		type update struct {
			eps []string
			err error
		}
		var mu sync.Mutex
		var updates []update
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Watch(ctx, func(eps []string, err error) {
				mu.Lock()
				updates = append(updates, update{eps, err})
				mu.Unlock()
			})
		}()
		last := func() (int, update) {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(updates) == 0 {
				return 0, update{}
			}
			return len(updates), updates[len(updates)-1]
		}
		if n, u := last(); n != 1 || !slices.Equal(u.eps, []string{"tcp://192.0.2.1:1"}) {
			t.Fatalf("first update: %d, %+v", n, u)
		}
		time.Sleep(10 * time.Second) // same answer: no update
		if n, _ := last(); n != 1 {
			t.Errorf("%d updates for an unchanged answer", n)
		}
		f.set(func() { f.hosts["svc.test"] = []string{"192.0.2.1", "192.0.2.2"} })
		time.Sleep(10 * time.Second)
		if n, u := last(); n != 2 || len(u.eps) != 2 {
			t.Errorf("after a change: %d updates, last %+v", n, u)
		}
		f.set(func() { f.err = errors.New("server misbehaving") })
		time.Sleep(10 * time.Second)
		if n, u := last(); n != 3 || u.eps != nil || u.err == nil {
			t.Errorf("after a failure: %d updates, last %+v; want the error", n, u)
		}
		f.set(func() { f.err = nil })
		time.Sleep(10 * time.Second)
		if n, u := last(); n != 4 || len(u.eps) != 2 || u.err != nil {
			t.Errorf("after the failure: %d updates, last %+v; want the endpoints again", n, u)
		}
		cancel()
		<-done
	})
}

// A client over DNS keeps calling the endpoints it found while the lookups
// fail, and follows the changes.
func TestDNSClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dial, _ := newNodes(t, 3)
		byAddr := map[string]string{"tcp://192.0.2.1:1": "inproc://0", "tcp://192.0.2.2:1": "inproc://1", "tcp://192.0.2.3:1": "inproc://2"}
		f := &fakeDNS{hosts: map[string][]string{"svc.test": {"192.0.2.1", "192.0.2.2"}}}
		r, err := cluster.DNSWith("tcp://svc.test:1", f, cluster.WithRefresh(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		c, err := cluster.New(r, func(ctx context.Context, u string) (*rpc.Client, error) { return dial(ctx, byAddr[u]) }, cluster.WithBalancer("rr"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := whoCounts(t, c, 3, 20); !slices.Equal(got, []int{10, 10, 0}) {
			t.Errorf("calls per endpoint = %v", got)
		}
		f.set(func() { f.err = errors.New("i/o timeout") })
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := whoCounts(t, c, 3, 20); !slices.Equal(got, []int{10, 10, 0}) {
			t.Errorf("while DNS fails: calls per endpoint = %v", got)
		}
		f.set(func() { f.err = nil; f.hosts["svc.test"] = []string{"192.0.2.3", "192.0.2.2"} })
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := whoCounts(t, c, 3, 20); !slices.Equal(got, []int{0, 10, 10}) {
			t.Errorf("after the change: calls per endpoint = %v", got)
		}
	})
}
