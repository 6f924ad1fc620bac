package events

import (
	"sync"
	"testing"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.got = append(r.got, s); r.mu.Unlock() }

func (r *recorder) ConnOpened(t string)  { r.add("open " + t) }
func (r *recorder) ConnClosed(t string)  { r.add("close " + t) }
func (r *recorder) LimitHit(t, l string) { r.add("limit " + t + " " + l) }
func (r *recorder) AuthFailed(t string)  { r.add("auth " + t) }

func TestObserver(t *testing.T) {
	// Unset: nothing happens, and nothing panics.
	Set(nil)
	ConnOpened("tcp")
	LimitHit("tcp", "max_conns")

	r := &recorder{}
	Set(r)
	defer Set(nil)
	ConnOpened("tcp")
	ConnClosed("tcp")
	LimitHit("http", "max_memory")
	AuthFailed("http")
	want := []string{"open tcp", "close tcp", "limit http max_memory", "auth http"}
	if len(r.got) != len(want) {
		t.Fatalf("got %q, want %q", r.got, want)
	}
	for i := range want {
		if r.got[i] != want[i] {
			t.Fatalf("got %q, want %q", r.got, want)
		}
	}

	Set(nil)
	AuthFailed("tcp")
	if len(r.got) != len(want) {
		t.Fatalf("an event after Set(nil) reached the old observer: %q", r.got)
	}
}
