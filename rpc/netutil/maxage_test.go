package netutil_test

import (
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/polyrpc/polyrpc/rpc/netutil"
)

type expiring interface {
	Expired() bool
	ExpiresAt() time.Time
}

// TestMaxAge: a connection expires once older than the maximum age, less
// up to a tenth of it at random, so that connections accepted together do
// not expire together.
func TestMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		const d = 10 * time.Second
		ln := netutil.MaxAge(pl, d)
		start := time.Now()
		var conns []net.Conn
		for range 100 {
			go pl.dial("10.0.0.1:1000")
			nc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, nc)
		}
		distinct := map[time.Time]bool{}
		for _, nc := range conns {
			e, ok := nc.(expiring)
			if !ok {
				t.Fatalf("%T has no Expired and ExpiresAt", nc)
			}
			at := e.ExpiresAt()
			if at.Before(start.Add(d-d/10)) || at.After(start.Add(d)) {
				t.Fatalf("expires %v after the accept, want within [%v, %v]", at.Sub(start), d-d/10, d)
			}
			distinct[at] = true
			if e.Expired() {
				t.Fatal("expired at once")
			}
			if nc.(interface{ NetConn() net.Conn }).NetConn().(*addrConn) == nil {
				t.Fatal("NetConn")
			}
		}
		if len(distinct) < 50 {
			t.Errorf("%d distinct expiries of 100 connections: no jitter", len(distinct))
		}
		time.Sleep(d - d/10 - time.Nanosecond)
		for _, nc := range conns {
			if nc.(expiring).Expired() {
				t.Fatal("expired before 0.9 of the maximum age")
			}
		}
		time.Sleep(d / 10)
		for _, nc := range conns {
			if !nc.(expiring).Expired() {
				t.Fatal("not expired at the maximum age")
			}
		}
		if err := conns[0].(interface{ CloseWrite() error }).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("CloseWrite of a pipe: %v", err)
		}
		for _, nc := range conns {
			nc.Close()
		}
	})
}

// TestMaxAgeZero: no maximum age is the listener itself.
func TestMaxAgeZero(t *testing.T) {
	pl := newPipeListener()
	if ln := netutil.MaxAge(pl, 0); ln != net.Listener(pl) {
		t.Errorf("MaxAge(ln, 0) = %T", ln)
	}
	if ln := netutil.MaxAge(pl, -time.Second); ln != net.Listener(pl) {
		t.Errorf("MaxAge(ln, -1s) = %T", ln)
	}
}
