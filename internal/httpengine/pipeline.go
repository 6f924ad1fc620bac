package httpengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the RoundTripper's pipelining (RoundTripper.Pipeline): a few
// connections per host, shared by every request to it, each carrying
// several requests at once. Requests written together leave in one write;
// a goroutine per connection reads the responses, in order, and hands each,
// body read whole, to its request.

// DefaultPipelineStall is RoundTripper.PipelineStall's default. It stays
// above the waits that scheduling alone causes on a saturated machine (Go's
// time slice is 10 ms): at 10 ms, busy but healthy connections counted as
// stalled under load, and their stand-ins split the batching, costing a
// fifth more CPU per call in bench/.
const DefaultPipelineStall = 100 * time.Millisecond

func (t *RoundTripper) pipelineStall() time.Duration {
	switch {
	case t.PipelineStall > 0:
		return t.PipelineStall
	case t.PipelineStall < 0:
		return time.Duration(1<<63 - 1)
	}
	return DefaultPipelineStall
}

// DefaultMaxPipelinedBody limits a pipelined response's body, which is read
// whole before it is handed over (see RoundTripper.MaxPipelinedBody).
const DefaultMaxPipelinedBody = 64 << 20

// errUnanswered is the error of pipelined requests that the server did not
// serve, POSTs included: they can go again on another connection. Either
// they were not sent, or they were sent behind a response that announced
// the connection's close, with "Connection: close" or as an HTTP/1.0
// response without "keep-alive". RFC 9112 section 9.6 is what makes the
// second case safe: a server that sends "close" MUST NOT process any
// further request received on that connection, and must close it after
// that response; HTTP/1.0 without keep-alive is a connection that ends with
// its first response (section 9.3), on which nothing after the first
// request is read as a request. So a request after the last response on a
// connection that announced its close was not processed, whether the server
// read its bytes or not, and resending it cannot serve it twice (section
// 9.3.2 forbids resending only requests that may have been processed).
// Its NotSent method tells callers above the engine (rpc/cluster's
// failover) that the request may go to another server.
var errUnanswered error = notSent("the server closed the connection before this request was sent or read")

// notSent is an error of a request that provably was not processed.
type notSent string

func (e notSent) Error() string { return string(e) }

// NotSent reports true: the request was not processed.
func (notSent) NotSent() bool { return true }

// errConnLost is the error of pipelined requests whose connection failed
// before their response: the server may or may not have served them.
var errConnLost = errors.New("the connection failed before the response; the server may have served the request")

// errNoAnswer is errConnLost when the server closed the connection before
// any byte of a response: an idempotent request may go again.
var errNoAnswer = fmt.Errorf("%w: the server closed it without answering", errConnLost)

// pipeSet is the pipelining connections to one host.
type pipeSet struct {
	conns   []*pipeConn
	dialing int
	waiting int // requests waiting for room
	// freed is closed, and replaced, when a request ends or a connection
	// goes: requests waiting for room look again.
	freed chan struct{}
}

// pipeConn is a connection that carries pipelined requests.
type pipeConn struct {
	*rtConn
	// inflight counts the requests given this connection and not yet
	// answered, and headSince is when the oldest of them began to wait
	// for its response; the RoundTripper's mutex guards both.
	inflight  int
	headSince time.Time
	abandoned int // requests in flight whose callers gave up

	wlock   chan struct{} // held (full) while writing a request
	writers atomic.Int32  // requests writing or waiting to: the last flushes

	mu      sync.Mutex
	queue   []*pipeCall // requests sent, in order, awaiting their responses
	reading bool        // a goroutine reads the responses
	err     error       // set when the connection failed: it takes no more
	closed  bool        // a request asked to close the connection

	// The response being read; its reading can be interrupted by a
	// caller's context and taken up by the reading goroutine.
	rs respState

	// imu orders a caller's context ending, which interrupts its read,
	// against the end of that read.
	imu         sync.Mutex
	watched     *pipeCall // the call whose context may interrupt the read
	interrupted bool      // the read deadline was set to interrupt it
}

// respState is a response partly read.
type respState struct {
	head  bool // the head was read: resp, f and after are set
	resp  *http.Response
	f     framing
	after error // nil if the connection is kept after the response, else the error of the requests behind it
	body  bodyReader
	data  []byte
}

// pipeCall is a request that waits for its response.
type pipeCall struct {
	r     *rtRequest
	state atomic.Int32 // callWaiting, callAnswered or callAbandoned
	done  chan struct{}
	resp  *http.Response
	err   error
}

const (
	callWaiting int32 = iota
	callAnswered
	callAbandoned
)

// deliver hands c its response or error, unless its caller gave up or it
// was answered already, and reports whether it did.
func (c *pipeCall) deliver(resp *http.Response, err error) bool {
	if !c.state.CompareAndSwap(callWaiting, callAnswered) {
		return false
	}
	c.resp, c.err = resp, err
	close(c.done)
	return true
}

func (t *RoundTripper) pipelineConns() int {
	if t.PipelineConns > 0 {
		return t.PipelineConns
	}
	return 2 * runtime.GOMAXPROCS(0)
}

func (t *RoundTripper) maxPipelinedBody() int64 {
	if t.MaxPipelinedBody > 0 {
		return t.MaxPipelinedBody
	}
	return DefaultMaxPipelinedBody
}

// pipelineAloneAfter is how many times a request may go out behind others
// and come back unanswered: after that it goes only on a connection with no
// request ahead of it, where no earlier response can announce the close.
const pipelineAloneAfter = 2

// pipelined sends r on a pipelining connection. A request that the server
// did not serve (errUnanswered) goes again on another connection, as often
// as it takes while its context lasts, if its body can be made anew; one
// whose connection the server closed without any answer (errNoAnswer) goes
// again once if it is idempotent, as net/http's Transport does.
func (t *RoundTripper) pipelined(req rtRequest) (*http.Response, error) {
	r := &req // calls waiting in a queue keep it
	defer r.closeBody()
	for attempt := 0; ; attempt++ {
		pc, err := t.pickPipe(r, attempt >= pipelineAloneAfter)
		if err != nil {
			return nil, err
		}
		resp, err := pc.roundTrip(r)
		if err == nil {
			return resp, nil
		}
		again := errors.Is(err, errUnanswered) || errors.Is(err, errNoAnswer) && r.idempotent && attempt == 0
		if !again || !r.replayable() || r.ctx.Err() != nil {
			return nil, err
		}
		if r.body != nil {
			r.body.Close()
			r.body = nil
			body, gerr := r.req.GetBody()
			if gerr != nil {
				return nil, err
			}
			if body != http.NoBody {
				r.body = body
			}
		}
	}
}

// pickPipe returns the connection for r: one with no request under way,
// else a new one while there are fewer than PipelineConns, else the one with
// the fewest requests under way, if fewer than Pipeline; or it waits for
// room. With alone set, r goes only first on its connection: on one with no
// request under way, or a new one while there are fewer than twice
// PipelineConns.
func (t *RoundTripper) pickPipe(r *rtRequest, alone bool) (*pipeConn, error) {
	limit, depth, stall := t.pipelineConns(), t.Pipeline, t.pipelineStall()
	for {
		t.mu.Lock()
		if t.pipes == nil {
			t.pipes = make(map[rtKey]*pipeSet)
		}
		set := t.pipes[r.key]
		if set == nil {
			set = &pipeSet{freed: make(chan struct{})}
			t.pipes[r.key] = set
		}
		var best, bestStalled *pipeConn
		var now time.Time
		stalled := 0
		for _, pc := range set.conns {
			if pc.inflight > 0 {
				if now.IsZero() {
					now = time.Now()
				}
				if now.Sub(pc.headSince) > stall {
					// A slow response: nothing more behind it, while
					// there is another way.
					stalled++
					if bestStalled == nil || pc.inflight < bestStalled.inflight {
						bestStalled = pc
					}
					continue
				}
			}
			if alone && pc.inflight > 0 {
				continue
			}
			if best == nil || pc.inflight < best.inflight {
				best = pc
			}
		}
		// Stalled connections do not count, and others stand in for
		// them, up to PipelineConns more.
		active := len(set.conns) - stalled + set.dialing
		all := len(set.conns) + set.dialing
		if best == nil && !alone && all >= 2*limit && bestStalled != nil && bestStalled.inflight < depth {
			best = bestStalled // no other way: wait behind the slow one
		}
		switch {
		case best != nil && (best.inflight == 0 || (active >= limit || best == bestStalled) && best.inflight < depth):
			if best.inflight == 0 {
				// An idle connection is looked at before use, under
				// the mutex: no other request may use it meanwhile.
				if !best.usable(t.idleTimeout()) {
					t.dropLocked(best)
					t.mu.Unlock()
					best.fail(errUnanswered) // stale: closed by its server, say
					continue
				}
				best.headSince = time.Now()
			}
			best.inflight++
			t.mu.Unlock()
			return best, nil
		case (active < limit || alone) && all < 2*limit:
			set.dialing++
			t.mu.Unlock()
			rc, err := t.dial(r)
			t.mu.Lock()
			set.dialing--
			if err != nil {
				t.freeLocked(set)
				t.mu.Unlock()
				return nil, err
			}
			pc := &pipeConn{rtConn: rc, inflight: 1, headSince: time.Now(), wlock: make(chan struct{}, 1)}
			set.conns = append(set.conns, pc)
			t.freeLocked(set) // requests that waited for the dial can share it
			t.mu.Unlock()
			return pc, nil
		}
		freed := set.freed
		set.waiting++
		t.mu.Unlock()
		// Look again when a request ends, or when a connection may
		// have stalled meanwhile.
		timer := time.NewTimer(min(stall, time.Hour))
		var err error
		select {
		case <-freed:
		case <-timer.C:
		case <-r.ctx.Done():
			err = r.fail("request to", r.ctx.Err())
		}
		timer.Stop()
		t.mu.Lock()
		set.waiting--
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// freeLocked tells the requests waiting for room in set to look again; the
// RoundTripper's mutex is held.
func (t *RoundTripper) freeLocked(set *pipeSet) {
	if set.waiting > 0 {
		close(set.freed)
		set.freed = make(chan struct{})
	}
}

// ended counts one request of pc as answered (abandoned says its caller
// had given up), and closes pc if the RoundTripper keeps no idle
// connections any more and no caller waits on it.
func (t *RoundTripper) ended(pc *pipeConn, abandoned bool) {
	now := time.Now()
	t.mu.Lock()
	pc.inflight--
	if abandoned {
		pc.abandoned--
	}
	if pc.inflight == 0 {
		pc.idleAt = now
	}
	pc.headSince = now // the next request's response is the one awaited now
	if set := t.pipes[pc.key]; set != nil {
		t.freeLocked(set)
	}
	t.closeIfUnwantedLocked(pc)
}

// gaveUp counts a request of pc whose caller gave up waiting.
func (t *RoundTripper) gaveUp(pc *pipeConn) {
	t.mu.Lock()
	pc.abandoned++
	t.closeIfUnwantedLocked(pc)
}

// closeIfUnwantedLocked closes pc, and unlocks the RoundTripper's mutex,
// if the RoundTripper keeps no idle connections any more and no caller
// waits on pc: its requests are answered or given up.
func (t *RoundTripper) closeIfUnwantedLocked(pc *pipeConn) {
	unwanted := t.noIdle && pc.inflight == pc.abandoned
	if unwanted {
		t.dropLocked(pc)
	}
	t.mu.Unlock()
	if unwanted {
		pc.fail(errUnanswered)
	}
}

// drop takes pc out of its set: no request picks it from then on.
func (t *RoundTripper) drop(pc *pipeConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(pc)
}

func (t *RoundTripper) dropLocked(pc *pipeConn) {
	set := t.pipes[pc.key]
	if set == nil {
		return
	}
	for i, c := range set.conns {
		if c == pc {
			set.conns = append(set.conns[:i], set.conns[i+1:]...)
			set.conns = set.conns[:len(set.conns):len(set.conns)]
			break
		}
	}
	t.freeLocked(set)
}

// closeIdlePipes closes the pipelining connections that no caller waits
// on; the others close when their last request ends or is given up.
func (t *RoundTripper) closeIdlePipes() {
	var idle []*pipeConn
	t.mu.Lock()
	for _, set := range t.pipes {
		for _, pc := range set.conns {
			if pc.inflight == pc.abandoned {
				idle = append(idle, pc)
			}
		}
	}
	for _, pc := range idle {
		t.dropLocked(pc) // before unlocking: no request may pick it
	}
	t.mu.Unlock()
	for _, pc := range idle {
		pc.fail(errUnanswered)
	}
}

// roundTrip sends r on pc and waits for its response. A request alone on
// its connection reads its response itself, as without pipelining; one sent
// behind others waits for the goroutine that reads theirs. The request's
// context ending stops the wait, not the connection: its response, when it
// comes, is read and dropped.
func (pc *pipeConn) roundTrip(r *rtRequest) (*http.Response, error) {
	c := &pipeCall{r: r, done: make(chan struct{})}
	if err := pc.send(c); err != nil {
		pc.t.ended(pc, false)
		return nil, err
	}
	pc.mu.Lock()
	direct := !pc.reading && len(pc.queue) > 0 && pc.queue[0] == c
	if direct {
		pc.reading = true
	}
	pc.mu.Unlock()
	if direct {
		return pc.readOwn(c)
	}
	select {
	case <-c.done:
	case <-r.ctx.Done():
		if c.state.CompareAndSwap(callWaiting, callAbandoned) {
			pc.t.gaveUp(pc)
			return nil, r.fail("request to", r.ctx.Err())
		}
		<-c.done // answered meanwhile
	}
	return c.resp, c.err
}

// readOwn reads the response to c, first in the queue, in the calling
// goroutine. When c's context ends meanwhile, the read is interrupted and
// c returns; the reading goroutine takes the read up where it stopped if
// other requests wait behind c, and the connection is closed if none does
// (or the read cannot be taken up: a chunked body).
func (pc *pipeConn) readOwn(c *pipeCall) (*http.Response, error) {
	r := c.r
	var stop func() bool
	if r.ctx.Done() != nil {
		pc.imu.Lock()
		pc.watched = c
		pc.imu.Unlock()
		stop = context.AfterFunc(r.ctx, func() {
			pc.imu.Lock()
			if pc.watched == c {
				pc.interrupted = true
				pc.nc.SetReadDeadline(longAgo)
			}
			pc.imu.Unlock()
		})
	}
	resp, after, err := pc.readNext(c)
	if stop != nil {
		stop()
		pc.imu.Lock()
		pc.watched = nil
		if pc.interrupted {
			pc.interrupted = false
			pc.nc.SetReadDeadline(time.Time{})
		}
		pc.imu.Unlock()
	}
	if err == nil {
		pc.answered(c, after)
		return resp, nil
	}
	if cerr := r.ctx.Err(); cerr != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		pc.mu.Lock()
		handOff := len(pc.queue) > 1 && pc.err == nil && pc.rs.resumable()
		if handOff {
			c.state.Store(callAbandoned)
			go pc.readLoop() // reading stays set: the goroutine has it
		}
		pc.mu.Unlock()
		if handOff {
			pc.t.gaveUp(pc)
		}
		if !handOff {
			pc.failReading(fmt.Errorf("%w: a request's context ended while its response was read", errConnLost))
		}
		return nil, r.fail("request to", cerr)
	}
	pc.failRead(err)
	return nil, r.fail("request to", pc.err)
}

// answered takes c, just answered, off the queue, and has the reading
// goroutine read the responses queued behind it, if any. after is nil if
// the connection is kept, else the error of the requests behind c.
func (pc *pipeConn) answered(c *pipeCall, after error) {
	pc.mu.Lock()
	more := pc.pop(c) && len(pc.queue) > 0 && after == nil
	if after == nil && pc.closed && len(pc.queue) == 0 {
		after = errUnanswered // nothing more goes on it: it closes
	}
	if !more {
		pc.reading = false
	}
	pc.mu.Unlock()
	pc.t.ended(pc, false)
	if after != nil {
		// The server closes after this response: requests after it
		// get no answer (see closing).
		pc.fail(after)
		return
	}
	if more {
		go pc.readLoop()
	}
}

// send writes c's request. Requests written while others wait to write
// stay in the writer: the last of them sends them all in one write. The
// request's context bounds the wait for its turn, and the writing itself:
// a write it cuts off leaves part of a request on the connection, which
// then fails. A write that the connection fails (see writeBroke) leaves c
// queued: it returns nil, and c waits for its response or its error like
// the requests sent before it.
func (pc *pipeConn) send(c *pipeCall) error {
	ctx := c.r.ctx
	pc.writers.Add(1)
	select {
	case pc.wlock <- struct{}{}:
	case <-ctx.Done():
		pc.leaveWriters()
		return c.r.fail("request to", ctx.Err())
	}
	defer func() { <-pc.wlock }()
	pc.mu.Lock()
	err := pc.err
	if err == nil && pc.closed {
		err = errUnanswered
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		pc.mu.Unlock()
		pc.flushIfLast()
		if errors.Is(err, errConnLost) {
			err = errUnanswered // it was not sent
		}
		return c.r.fail("request to", err)
	}
	pc.queue = append(pc.queue, c)
	if c.r.close {
		pc.closed = true
	}
	pc.mu.Unlock()
	if c.r.close {
		pc.t.drop(pc) // no request goes after this one
	}

	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { pc.nc.SetWriteDeadline(longAgo) })
	}
	var werr error
	if pc.bw.Buffered() > 0 && !inMemory(c.r.body) {
		// Requests of others wait in the writer, and this body may be
		// slow to read: send them first.
		werr = pc.bw.Flush()
	}
	if werr == nil {
		werr = pc.writeMessage(c.r)
	}
	if werr == nil {
		werr = pc.flushIfLast()
	} else {
		pc.writers.Add(-1)
	}
	if stop != nil && !stop() {
		// The context ended as the request was written: the write
		// deadline is spent, and with it the connection.
		if werr == nil {
			werr = ctx.Err()
		}
	}
	if werr == nil {
		return nil
	}
	if pc.src.err == nil && ctx.Err() == nil {
		// c is queued, and learns its fate from the responses.
		pc.writeBroke(fmt.Errorf("%w: writing: %w", errConnLost, werr))
		return nil
	}
	if pc.src.err != nil {
		werr = fmt.Errorf("reading the request body: %w", pc.src.err)
	}
	// The connection carries part of a request: nothing more can go on
	// it.
	err = fmt.Errorf("%w: writing: %w", errConnLost, werr)
	pc.fail(err)
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	return c.r.fail("request to", err)
}

// writeBroke takes pc out of use when a write on it failed with err: the
// server closed it, say. Nothing more goes on it, but the responses that
// came before are read as usual: among them may be one that announced the
// close, which tells that the requests behind it were not served (see
// closing), where failing them all with err could not tell. What came is
// there at once; what is not will not come.
func (pc *pipeConn) writeBroke(err error) {
	pc.mu.Lock()
	pc.closed = true
	idle := len(pc.queue) == 0
	pc.mu.Unlock()
	if idle {
		pc.fail(err)
		return
	}
	pc.t.drop(pc)
	pc.nc.SetReadDeadline(time.Now().Add(rtMoment))
}

// inMemory reports whether reading body cannot block: it is absent, or
// already in memory (bytes.Reader, strings.Reader, bytes.Buffer, the rpc
// Transport's own).
func inMemory(body io.Reader) bool {
	if body == nil {
		return true
	}
	_, ok := body.(interface{ Len() int })
	return ok
}

// leaveWriters counts out a request that gave up waiting to write. If it
// was the last, the requests written before it that left the sending to
// it are sent now.
func (pc *pipeConn) leaveWriters() {
	if pc.writers.Add(-1) != 0 {
		return
	}
	go func() {
		pc.wlock <- struct{}{}
		var err error
		if pc.writers.Load() == 0 && pc.bw.Buffered() > 0 {
			err = pc.bw.Flush()
		}
		<-pc.wlock
		if err != nil {
			pc.writeBroke(fmt.Errorf("%w: writing: %w", errConnLost, err))
		}
	}()
}

// flushIfLast ends a writer's turn, sending what the writer holds if no
// other request waits to be written.
func (pc *pipeConn) flushIfLast() error {
	if pc.writers.Add(-1) == 0 && pc.bw.Buffered() > 0 {
		return pc.bw.Flush()
	}
	return nil
}

// fail closes pc for good and fails every request waiting on it with err.
func (pc *pipeConn) fail(err error) { pc.failQueue(err, err) }

// failReading fails pc with err when reading the response of the first
// request in its queue failed. If the head of that response had announced
// the close, the requests behind it were not served all the same (see
// closing): they get errUnanswered, and may go again. Only the goroutine
// that reads the responses calls it.
func (pc *pipeConn) failReading(err error) {
	behind := err
	if pc.rs.head && pc.rs.after == errUnanswered {
		behind = errUnanswered
	}
	pc.failQueue(err, behind)
}

// failQueue closes pc for good, fails the first request waiting on it with
// err, and the others with behind.
func (pc *pipeConn) failQueue(err, behind error) {
	pc.t.drop(pc) // first: no request is given it from now on
	pc.mu.Lock()
	if pc.err != nil {
		pc.mu.Unlock()
		return
	}
	pc.err = err
	queue := pc.queue
	pc.queue = nil
	pc.mu.Unlock()
	pc.nc.Close()
	for i, c := range queue {
		if i == 1 {
			err = behind
		}
		c.deliver(nil, c.r.fail("request to", err))
	}
}

// readLoop reads the responses of the requests in the queue, in order,
// handing each to its request, until the queue is empty.
func (pc *pipeConn) readLoop() {
	for {
		pc.mu.Lock()
		if len(pc.queue) == 0 || pc.err != nil {
			pc.reading = false
			pc.mu.Unlock()
			return
		}
		c := pc.queue[0]
		pc.mu.Unlock()
		resp, after, err := pc.readNext(c)
		if err != nil {
			pc.failRead(err)
			return
		}
		delivered := c.deliver(resp, nil)
		pc.mu.Lock()
		pc.pop(c)
		if after == nil && pc.closed && len(pc.queue) == 0 {
			after = errUnanswered // nothing more goes on it: it closes
		}
		pc.mu.Unlock()
		pc.t.ended(pc, !delivered && c.state.Load() == callAbandoned)
		if after != nil {
			pc.fail(after)
			return
		}
	}
}

// pop takes c off the head of the queue, if it is there still: a failure
// of the connection may have emptied the queue meanwhile. pc.mu is held.
func (pc *pipeConn) pop(c *pipeCall) bool {
	if len(pc.queue) == 0 || pc.queue[0] != c {
		return false
	}
	pc.queue[0] = nil
	pc.queue = pc.queue[1:]
	return true
}

// failRead fails pc after reading a response failed with err.
func (pc *pipeConn) failRead(err error) {
	if !pc.rs.head && len(pc.hr.b) == 0 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
		pc.fail(errNoAnswer) // closed before any answer: maybe served, maybe not
		return
	}
	pc.failReading(fmt.Errorf("%w: reading the response: %w", errConnLost, err))
}

// readNext reads the response to c, first in the queue, taking up a read
// that was interrupted. after is nil if the connection stays open after the
// response, else the error of the requests sent behind c.
func (pc *pipeConn) readNext(c *pipeCall) (resp *http.Response, after error, err error) {
	rs := &pc.rs
	if !rs.head {
		resp, f, keep, _, err := pc.responseHead(c.r, !c.r.close)
		if err != nil {
			return nil, nil, err
		}
		*rs = respState{head: true, resp: resp, f: f}
		if !keep {
			rs.after = pc.closing(resp)
		}
		rs.body.reset(pc.br, f, true, pc.t.maxHead())
	}
	resp = rs.resp
	resp.Body = http.NoBody
	if !rs.body.done {
		max := pc.t.maxPipelinedBody()
		hint := int64(-1) // unknown: chunked, or until the connection ends
		if !rs.f.chunked && rs.f.length >= 0 {
			if rs.f.length > max {
				return nil, nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrBodyTooLarge, rs.f.length, max)
			}
			hint = rs.body.n // what is left of it
		}
		data, err := ReadAll(io.LimitReader(&rs.body, max+1-int64(len(rs.data))), rs.data, hint)
		rs.data = data
		if err == nil && int64(len(data)) > max {
			err = fmt.Errorf("%w: over the limit of %d bytes", ErrBodyTooLarge, max)
		}
		if err != nil {
			return nil, nil, err
		}
		resp.Body = &pipeBody{b: data}
	}
	after = rs.after
	*rs = respState{}
	return resp, after, nil
}

// closing takes pc out of use as soon as the head of resp says that the
// connection ends after it, before its body is read: no request is sent on
// it from then on (RFC 9112 section 9.6: a client that receives "close"
// MUST cease sending requests on that connection). It returns the error of
// the requests already sent behind resp: errUnanswered if the server
// announced the close, since it then serves none of them (see
// errUnanswered); errNoAnswer if only the response's framing ends the
// connection (an HTTP/1.1 body without a length and no "close"), since a
// server that says nothing may have served them.
func (pc *pipeConn) closing(resp *http.Response) error {
	pc.mu.Lock()
	pc.closed = true
	pc.mu.Unlock()
	pc.t.drop(pc)
	conn := resp.Header["Connection"]
	if hasToken(conn, "close") || resp.ProtoMinor == 0 && !hasToken(conn, "keep-alive") {
		return errUnanswered
	}
	return errNoAnswer
}

// resumable reports whether reading the response can be taken up after a
// deadline interrupted it.
func (rs *respState) resumable() bool {
	return !rs.head || rs.body.resumable()
}

// pipeBody is a pipelined response's body, read whole.
type pipeBody struct {
	b   []byte
	off int
}

func (b *pipeBody) Read(p []byte) (int, error) {
	if b.off >= len(b.b) {
		return 0, io.EOF
	}
	n := copy(p, b.b[b.off:])
	b.off += n
	return n, nil
}

func (b *pipeBody) Close() error { return nil }

// take returns the unread rest of the body, which then belongs to the
// caller, without a copy.
func (b *pipeBody) take() []byte {
	rest := b.b[b.off:]
	b.b, b.off = nil, 0
	return rest
}
