package wire

import (
	"context"
	"strconv"
	"sync"

	"github.com/polyrpc/polyrpc/rpc/metadata"
)

// CancelMethod is the notification by which a client cancels one of its
// calls in flight on a connection: params {"id": <the call's id>}, the
// Language Server Protocol's convention, in every codec that has ids.
const CancelMethod = "$/cancelRequest"

// Carrier carries a call's metadata outside its message, as HTTP does in
// headers. A transport that has one puts it into the context it serves a
// message with (WithCarrier), or, on a client, reads the one the core put
// there; the core reads the request's metadata from it and gives it the
// reply's.
type Carrier interface {
	// Get returns the value of a metadata key of the request, "" if none.
	Get(key string) string
	// Metadata returns all the request's metadata, made on demand.
	Metadata() metadata.MD
	// SetReply gives the carrier the reply's metadata, which it sends
	// (server) or keeps for the caller (client).
	SetReply(md metadata.MD)
	// Validate reports whether the request's metadata is within
	// metadata's bounds (metadata.MD.Validate); a server refuses a call
	// whose carrier's is not.
	Validate() error
}

type carrierKey struct{}

// WithCarrier returns a context that carries c.
func WithCarrier(ctx context.Context, c Carrier) context.Context {
	return context.WithValue(ctx, carrierKey{}, c)
}

// CarrierFrom returns the carrier of ctx, if any.
func CarrierFrom(ctx context.Context) (Carrier, bool) {
	c, ok := ctx.Value(carrierKey{}).(Carrier)
	return c, ok && c != nil
}

// MDCarrier is a Carrier over metadata held in memory: a client's request
// to a transport that sends it as headers, and what it answered.
type MDCarrier struct {
	Request metadata.MD
	Reply   metadata.MD
}

// Get implements Carrier.
func (c *MDCarrier) Get(key string) string { return c.Request[key] }

// Metadata implements Carrier.
func (c *MDCarrier) Metadata() metadata.MD { return c.Request }

// SetReply implements Carrier.
func (c *MDCarrier) SetReply(md metadata.MD) { c.Reply = md }

// Validate implements Carrier.
func (c *MDCarrier) Validate() error { return c.Request.Validate() }

// IDKeyer is implemented by codecs whose messages carry ids, so that a
// server can find a call by the id that CancelMethod's params name: IDKey
// returns the key of an id as it stood in a request (ID.Raw), the same as
// KeyOf returns for the id's natural value.
type IDKeyer interface {
	IDKey(raw []byte) (Key, bool)
}

// Key is an id as a CallTable knows it: a whole number from 0 up, or any
// other id as text.
type Key struct {
	Num   uint64
	Str   string
	IsStr bool
}

// KeyOf returns the key of an id given in natural values (int64, uint64, a
// whole float64, string), the one an IDKeyer returns for the same id.
func KeyOf(id any) (Key, bool) {
	switch v := id.(type) {
	case int64:
		if v >= 0 {
			return Key{Num: uint64(v)}, true
		}
		return Key{Str: strconv.FormatInt(v, 10), IsStr: true}, true
	case uint64:
		return Key{Num: v}, true
	case float64:
		if v >= 0 && v < 1<<63 && v == float64(int64(v)) {
			return Key{Num: uint64(v)}, true
		}
		if v < 0 && v >= -(1<<63) && v == float64(int64(v)) {
			return Key{Str: strconv.FormatInt(int64(v), 10), IsStr: true}, true
		}
	case string:
		return Key{Str: "\x00" + v, IsStr: true}, true
	}
	return Key{}, false
}

// Canceler is a call in flight that a CallTable can cancel.
type Canceler interface {
	Cancel()
}

// CallTable is the calls in flight on one connection by id, which
// CancelMethod cancels. A stream transport makes one per connection and
// puts it into the context its messages are served with (WithCallTable);
// when the connection ends it calls CancelAll. It is safe for concurrent
// use.
type CallTable struct {
	mu    sync.Mutex
	calls map[Key]Canceler
	done  bool
}

type tableKey struct{}

// WithCallTable returns a context that carries t.
func WithCallTable(ctx context.Context, t *CallTable) context.Context {
	return context.WithValue(ctx, tableKey{}, t)
}

// CallTableFrom returns the call table of ctx, if any.
func CallTableFrom(ctx context.Context) (*CallTable, bool) {
	t, ok := ctx.Value(tableKey{}).(*CallTable)
	return t, ok && t != nil
}

// Add records the call c of id key and reports whether it did: a second
// call with an id in flight is not recorded (the client reused an id:
// neither can be cancelled by it). Once CancelAll was called, c is
// cancelled at once.
func (t *CallTable) Add(key Key, c Canceler) bool {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		c.Cancel()
		return false
	}
	if _, dup := t.calls[key]; dup {
		t.mu.Unlock()
		return false
	}
	if t.calls == nil {
		t.calls = map[Key]Canceler{}
	}
	t.calls[key] = c
	t.mu.Unlock()
	return true
}

// Remove forgets the call of id key, if it is c.
func (t *CallTable) Remove(key Key, c Canceler) {
	t.mu.Lock()
	if t.calls[key] == c {
		delete(t.calls, key)
	}
	t.mu.Unlock()
}

// Cancel cancels the call of id key in flight, if there is one.
func (t *CallTable) Cancel(key Key) {
	t.mu.Lock()
	c := t.calls[key]
	t.mu.Unlock()
	if c != nil {
		c.Cancel()
	}
}

// CancelAll cancels every call in flight, and every call added after.
func (t *CallTable) CancelAll() {
	t.mu.Lock()
	calls := t.calls
	t.calls, t.done = nil, true
	t.mu.Unlock()
	for _, c := range calls {
		c.Cancel()
	}
}
