package tcprpc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyrpc/polyrpc/internal/netlimit"
	"github.com/polyrpc/polyrpc/internal/netpeek"
	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/frame"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("tcprpc: server closed")

// Server serves an rpc.Server on stream listeners (TCP, Unix, TLS) with
// length-prefixed frames. Each frame is one message in any codec of the
// rpc.Server, told by its first byte unless the server is pinned to one
// codec; each reply goes out in its request's codec. Calls of one
// connection are answered as they complete, except for codecs without call
// ids (XML-RPC), answered in order: the goroutine reading a connection
// serves its calls itself, and one that runs for a millisecond is moved off
// it, so that the calls behind it go on (see readLoop). A Server keeps up to
// 8 worker goroutines per processor parked between calls, shared by its
// connections.
//
// The messages of all connections share the memory budget of the
// rpc.Server (rpc.WithMaxMemory): when it is spent, the server stops
// reading the connections that hold the most until replies are written.
// A Server is safe for concurrent use.
type Server struct {
	rpc    *rpc.Server
	cfg    config
	budget *wire.Budget
	limit  *netlimit.Limiter
	log    *connLog
	// sniff maps a message's first byte to its codec.
	sniff [256]rpc.Codec

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shares    map[string]*share // by source address (budget.go)
	closing   bool
	connWG    sync.WaitGroup
	// jobs hands calls to parked workers, at most maxParked.
	jobs      chan job
	parked    atomic.Int32
	maxParked int32
	// watching is set while the watcher of calls served by their
	// connection's reader runs, looking at the active ones (inline.go).
	watching atomic.Bool
	activeMu sync.Mutex
	active   []*conn

	// ctx is the parent of every call's context; cancel ends calls still
	// running when Shutdown gives up, or on Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewServer returns a Server for s. It fails for a nil s and for an invalid
// option, or one of a client.
func NewServer(s *rpc.Server, opts ...Option) (*Server, error) {
	if s == nil {
		return nil, errors.New("tcprpc: NewServer: nil rpc.Server")
	}
	cfg, err := newConfig(server, opts)
	if err != nil {
		return nil, err
	}
	srv := &Server{
		rpc:       s,
		cfg:       cfg,
		budget:    s.Budget(),
		limit:     netlimit.New(cfg.maxConns, cfg.maxConnsPerIP, cfg.log, "tcprpc"),
		log:       newConnLog(cfg.log),
		jobs:      make(chan job),
		maxParked: int32(min(8*runtime.GOMAXPROCS(0), 256)),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		shares:    map[string]*share{},
	}
	srv.ctx, srv.cancel = context.WithCancel(context.Background())
	for _, c := range s.Codecs() {
		sn, ok := c.(wire.Sniffer)
		if !ok {
			continue
		}
		for b := range 256 {
			if srv.sniff[b] == nil && sn.Sniff(byte(b)) {
				srv.sniff[b] = c
			}
		}
	}
	return srv, nil
}

// Serve accepts connections on ln and serves them until Shutdown or Close,
// when it returns ErrServerClosed. At the limit of connections
// (WithMaxConns) it stops accepting until one ends; a connection from an
// address that holds its share (WithMaxConnsPerIP) is closed at once.
func (srv *Server) Serve(ln net.Listener) error {
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	srv.listeners[ln] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, ln)
		srv.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		// At the limit, new connections wait in the listen backlog.
		if !srv.limit.Wait() {
			return ErrServerClosed
		}
		nc, err := ln.Accept()
		if err != nil {
			if srv.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !srv.limit.Admit(nc.RemoteAddr()) {
			nc.Close() // logged by the limiter, summed up per source
			continue
		}
		c, ok := srv.track(nc)
		if !ok {
			return ErrServerClosed
		}
		go c.serve()
	}
}

// isTemporary reports accept errors worth retrying, such as running out of
// file descriptors.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (srv *Server) isClosing() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

// track registers nc, admitted by the limiter already, unless the server
// is closing, when it closes nc.
func (srv *Server) track(nc net.Conn) (*conn, bool) {
	c := &conn{srv: srv, nc: nc, sem: make(chan struct{}, srv.cfg.maxInFlight), expires: expiryOf(nc)}
	if !c.expires.IsZero() {
		c.peek = netpeek.New(innermost(nc))
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		srv.limit.Release(nc.RemoteAddr())
		nc.Close()
		return nil, false
	}
	c.share = srv.shareFor(nc.RemoteAddr())
	srv.conns[c] = struct{}{}
	srv.connWG.Add(1)
	return c, true
}

// ServeConn serves one connection that was accepted elsewhere, returning
// when it ends. It counts towards the limits as Serve's connections do,
// but never waits: one from an address that holds its share already is
// closed at once.
func (srv *Server) ServeConn(nc net.Conn) {
	if !srv.limit.Admit(nc.RemoteAddr()) {
		nc.Close()
		return
	}
	if c, ok := srv.track(nc); ok {
		c.serve()
	}
}

// Shutdown stops the server gracefully: it closes the listeners, stops
// reading new calls, lets the calls in flight finish and send their replies,
// then closes the connections. If ctx ends first, the calls still running
// are canceled, the connections closed, and ctx's error returned.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	for ln := range srv.listeners {
		ln.Close()
	}
	for c := range srv.conns {
		c.stopReading()
	}
	srv.mu.Unlock()
	srv.limit.Close()
	srv.log.close()

	done := make(chan struct{})
	go func() { srv.connWG.Wait(); close(done) }()
	select {
	case <-done:
		srv.cancel()
		return nil
	case <-ctx.Done():
		srv.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once; calls in flight
// are canceled. Close is idempotent.
func (srv *Server) Close() error {
	srv.mu.Lock()
	srv.closing = true
	for ln := range srv.listeners {
		ln.Close()
	}
	for c := range srv.conns {
		c.nc.Close()
	}
	srv.mu.Unlock()
	srv.cancel()
	srv.limit.Close()
	srv.log.close()
	return nil
}

// conn is one served connection.
type conn struct {
	srv *Server
	nc  net.Conn
	// sem holds a token per call in flight.
	sem      chan struct{}
	inFlight sync.WaitGroup
	stopping atomic.Bool

	// share holds what the connections from c's source hold of the
	// server's memory budget, held what c holds of it (budget.go).
	share *share
	held  atomic.Int64

	// What the reading goroutine works with; it passes to another
	// goroutine when a call it serves itself takes too long (inline.go).
	ctx context.Context
	r   *bufio.Reader
	w   *frame.Writer
	// delim and delimCodec read a connection without frames (unframed).
	delim      wire.Delimiter
	delimCodec rpc.Codec
	// firstBy is the deadline of the first message's first byte, and zero
	// once it came.
	firstBy time.Time
	inline

	// calls are the calls in flight by id, for CancelMethod; leave cancels
	// the context of every call, when the peer closed the connection.
	calls wire.CallTable
	leave context.CancelFunc

	// expires is when the connection reaches its maximum age
	// (netutil.MaxAge), zero if never: it closes once it is expired and
	// no call is in flight (see expiredIdle). peek looks at its socket
	// then, for a call on its way.
	expires time.Time
	peek    *netpeek.Peeker

	mu         sync.Mutex
	closed     bool               // by fail
	cause      error              // of the failure that closed it
	cancelWait context.CancelFunc // ends the reader's wait for the budget
	// waiting says the reader waits for a message, with a deadline that
	// a call ending on an expired connection may move to now.
	waiting bool
}

// job is one message to serve.
type job struct {
	c     *conn
	codec rpc.Codec
	bp    *[]byte
}

// stopReading makes the read loop end at its next header, or its wait for
// the budget: used by Shutdown.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
	c.mu.Lock()
	if c.cancelWait != nil {
		c.cancelWait()
	}
	c.mu.Unlock()
}

// fail closes the connection because of err, a failed write: the reader
// ends the connection, reporting err, wherever it waits.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if !c.closed {
		c.closed, c.cause = true, err
	}
	if c.cancelWait != nil {
		c.cancelWait()
	}
	c.mu.Unlock()
	c.nc.Close()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooled bounds the buffers kept for reuse.
const maxPooled = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

func (c *conn) serve() {
	srv := c.srv
	peer := &rpc.Peer{Transport: c.nc.LocalAddr().Network(), Addr: c.nc.RemoteAddr()}
	// Until its first message begins, a connection has the handshake
	// timeout, all told: TLS, the handshake, the first byte. Only then does
	// the idle timeout apply: a silent or trickling peer that is not known
	// yet is cut off early.
	c.firstBy = time.Now().Add(srv.cfg.handshakeTimeout)
	c.nc.SetDeadline(c.firstBy)
	if c.stopping.Load() {
		c.finish(nil) // Shutdown set its deadline before ours
		return
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			c.finish(failed("TLS handshake", err))
			return
		}
	}
	if srv.cfg.handshake != nil {
		hctx, cancel := context.WithDeadline(srv.ctx, c.firstBy)
		id, err := srv.cfg.handshake(hctx, c.nc)
		cancel()
		if err != nil {
			c.finish(failed("handshake", err))
			return
		}
		peer.Identity = id
	}
	c.nc.SetWriteDeadline(noDeadline)
	ctx, leave := context.WithCancel(srv.ctx)
	c.leave = leave
	c.ctx = wire.WithCallTable(rpc.WithPeer(ctx, peer), &c.calls)
	c.r = bufio.NewReaderSize(c.nc, 4096)
	c.delim, c.delimCodec = c.unframed(c.r)
	if c.delim != nil {
		c.w = frame.NewRawWriter(c.nc)
	} else {
		c.w = frame.NewWriter(c.nc)
	}
	c.w.SetBusy(c.busy)
	c.w.SetWriteTimeout(srv.cfg.writeTimeout)
	c.w.SetWritten(func(n int) { c.give(int64(n)) })
	c.readOn()
}

// read reads the next message into bp, once its cost is taken from the
// budget, and returns its codec.
func (c *conn) read(bp *[]byte) (rpc.Codec, error) {
	srv := c.srv
	if c.delim != nil {
		// The size is known once the message is read: take a little
		// first, to wait while the budget is spent, and the rest after.
		reserve := c.cost(0)
		if err := c.acquire(reserve); err != nil {
			return nil, err
		}
		msg, err := c.delim.ReadMessage(c.r, (*bp)[:0], srv.cfg.maxMessage)
		*bp = msg
		if err != nil {
			c.give(reserve)
			return nil, err
		}
		c.take(c.cost(len(msg)) - reserve)
		return c.delimCodec, nil
	}
	n, err := frame.ReadHeader(c.r, srv.cfg.maxMessage)
	if err != nil {
		// A header refused is left unread: it may be another protocol's.
		if b, _ := c.r.Peek(4); netpeek.Foreign(b) != "" {
			err = &foreign{netpeek.Foreign(b), err}
		}
		return nil, err
	}
	if err := c.overBudget(n); err != nil {
		return nil, err
	}
	cost := c.cost(n)
	if err := c.acquire(cost); err != nil {
		return nil, err
	}
	msg, err := frame.ReadPayload(c.r, (*bp)[:0], n)
	*bp = msg
	if err != nil {
		c.give(cost)
		return nil, err
	}
	codec := srv.cfg.codec
	if codec == nil && len(msg) > 0 {
		codec = srv.sniff[msg[0]]
	}
	if codec == nil {
		c.give(cost)
		return nil, unknownCodec(firstByte(msg))
	}
	return codec, nil
}

// readOn runs the read loop in this goroutine until the connection ends, then
// ends it, unless the loop passes to another goroutine first.
func (c *conn) readOn() {
	passed, err := c.readLoop()
	if !passed {
		c.finish(err)
	}
}

// finish ends the connection once its calls are done, reporting err, or
// the failure that closed it, and gives back what it held.
func (c *conn) finish(err error) {
	srv := c.srv
	c.mu.Lock()
	if c.cause != nil {
		err = c.cause
	}
	c.mu.Unlock()
	if err != nil && !c.stopping.Load() && !srv.isClosing() {
		srv.log.ended(c.nc.RemoteAddr(), err)
	}
	if c.leave != nil {
		// The peer left (end of stream, a reset, a broken message): its
		// calls in flight are cancelled, and their replies, -32002 for
		// those still running, are written if it still reads. A graceful
		// Shutdown lets them finish instead.
		if !c.stopping.Load() {
			c.leave()
		}
		defer c.leave()
	}
	c.inFlight.Wait()
	if c.w != nil {
		c.w.Flush() // replies held back by a read loop that stopped
	}
	c.nc.Close()
	c.give(c.held.Load()) // replies never written, if any
	srv.mu.Lock()
	delete(srv.conns, c)
	srv.dropShare(c)
	srv.mu.Unlock()
	srv.limit.Release(c.nc.RemoteAddr())
	srv.connWG.Done()
}

// unframed tells a connection whose first byte cannot start a frame header
// but starts a message of a self-delimiting codec (a stock msgpack-rpc
// client's array): such a connection is read without frames. Only
// connections without a handshake qualify, since handshakes are framed.
func (c *conn) unframed(r *bufio.Reader) (wire.Delimiter, rpc.Codec) {
	if c.srv.cfg.handshake != nil {
		return nil, nil
	}
	c.nc.SetReadDeadline(c.firstBy)
	if c.stopping.Load() {
		// Shutdown set its deadline before ours: readLoop ends at once.
		return nil, nil
	}
	b, err := r.Peek(1)
	// A frame header starts with 0x00-0x7f (a length) or 0xff (-1).
	if err != nil || b[0] < 0x80 || b[0] == 0xff {
		return nil, nil
	}
	codec := c.srv.sniff[b[0]]
	if pinned := c.srv.cfg.codec; pinned != nil && pinned != codec {
		return nil, nil
	}
	d, ok := codec.(wire.Delimiter)
	if !ok {
		return nil, nil
	}
	return d, codec
}

// readLoop reads messages and serves them until the connection ends or the
// server shuts down, or until another goroutine took the loop over from a
// call this one served itself (passed).
//
// Calls are served by this goroutine itself, their replies held back while
// more input is buffered and written together: a caller waiting for its
// reply before sending more costs no hand-off between goroutines, and a
// burst of calls costs one write. A connection whose calls turn out slow
// gives its calls to workers instead, and if a call served here runs long,
// the server's watcher gives the reading to a new goroutine, so that the
// calls behind it are not held up (see inline.go).
func (c *conn) readLoop() (passed bool, err error) {
	srv := c.srv
	for {
		if c.stopping.Load() {
			return false, nil
		}
		if c.r.Buffered() == 0 {
			// About to wait: send the replies held back.
			if err := c.w.Flush(); err != nil {
				// The read below fails and ends the connection.
				c.fail(failed("writing a reply", err))
			}
		}
		// Wait for the next message: idle connections time out, but not
		// while their calls are running; the first message is due within
		// the handshake timeout.
		wait := deadline(srv.cfg.idleTimeout)
		if !c.firstBy.IsZero() {
			wait = c.firstBy
		}
		if !c.expires.IsZero() {
			// Past its maximum age, a connection closes once no call is
			// in flight: now, at its expiry, or when the last call in
			// flight ends (release).
			if c.expiredIdle() {
				return false, nil
			}
			if time.Now().Before(c.expires) && (wait.IsZero() || c.expires.Before(wait)) {
				wait = c.expires
			}
			c.setWaiting(true)
		}
		c.nc.SetReadDeadline(wait)
		if c.stopping.Load() || c.expiredIdle() {
			// Shutdown, or the end of the last call, may have set its
			// deadline before ours: see again.
			return false, nil
		}
		if _, err := c.r.Peek(1); err != nil {
			if c.stopping.Load() || err == io.EOF {
				return false, nil
			}
			if isTimeout(err) && (len(c.sem) > 0 || c.expired()) {
				continue
			}
			if !c.firstBy.IsZero() {
				return false, failed("waiting for the first message", err)
			}
			return false, failed("waiting for a message", err)
		}
		if !c.expires.IsZero() {
			c.setWaiting(false)
		}
		c.firstBy = time.Time{}
		c.nc.SetReadDeadline(deadline(srv.cfg.readTimeout))
		bp := getBuf()
		codec, err := c.read(bp)
		if err != nil {
			putBuf(bp)
			if c.stopping.Load() {
				return false, nil // stopped while waiting for the budget
			}
			return false, failed("reading a message", err)
		}
		unordered := false
		if u, ok := codec.(wire.InOrder); ok && u.InOrder() {
			// No ids to match replies by: answer before reading on.
			c.inFlight.Wait()
			unordered = true
		}
		if len(c.sem) == cap(c.sem) {
			limitHit("max_in_flight")
		}
		c.sem <- struct{}{} // blocks when maxInFlight calls run: backpressure
		c.inFlight.Add(1)
		if !unordered && !c.mayInline() {
			srv.dispatch(job{c, codec, bp})
			continue
		}
		if !c.serveInline(codec, bp) {
			return true, nil
		}
	}
}

// dispatch hands j to a parked worker, or to a new one.
func (srv *Server) dispatch(j job) {
	select {
	case srv.jobs <- j:
	default:
		go srv.work(j)
	}
}

// work serves j, then parks for more unless maxParked workers are parked
// already. Workers are shared by the server's connections: a busy server
// starts no goroutine per call (a new goroutine also grows its stack on its
// first call), and an idle one keeps at most maxParked.
func (srv *Server) work(j job) {
	for {
		j.c.call(j.codec, j.bp, false)
		j.c.release(j.bp)
		if srv.parked.Add(1) > srv.maxParked {
			srv.parked.Add(-1)
			return
		}
		select {
		case j = <-srv.jobs:
			srv.parked.Add(-1)
		case <-srv.ctx.Done():
			srv.parked.Add(-1)
			return
		}
	}
}

// call serves one message and writes its reply, or queues it for the read
// loop's next flush. The caller then releases the call.
func (c *conn) call(codec rpc.Codec, bp *[]byte, queue bool) {
	out := getBuf()
	reply := c.srv.rpc.ServeMessage(c.ctx, codec, *bp, (*out)[:0])
	// What the request held is the reply's now, until it is written.
	c.settle(c.cost(len(*bp)), c.frameSize(len(reply)))
	if len(reply) > 0 {
		var err error
		if queue {
			err = c.w.Queue(reply)
		} else {
			err = c.w.WriteFrame(context.Background(), reply)
		}
		if err != nil {
			// The reader notices and the connection ends.
			c.fail(failed("writing a reply", err))
		}
	}
	*out = reply
	putBuf(out)
}

// release ends a call once its reply is written or queued where the
// connection's end will flush it.
func (c *conn) release(bp *[]byte) {
	putBuf(bp)
	<-c.sem
	c.inFlight.Done()
	if !c.expires.IsZero() && len(c.sem) == 0 && c.expired() {
		// The last call in flight of an expired connection: the reader,
		// if it waits for a message, looks again and closes it.
		c.mu.Lock()
		if c.waiting {
			c.nc.SetReadDeadline(time.Now())
		}
		c.mu.Unlock()
	}
}

// expired reports whether c is past its maximum age.
func (c *conn) expired() bool {
	return !c.expires.IsZero() && !time.Now().Before(c.expires)
}

// expiredIdle reports whether c is past its maximum age with no call in
// flight and none on its way: nothing buffered, nothing waiting in the
// socket. The reader then ends it: its replies are written, and a client
// sees the close before it sends its next call on it.
func (c *conn) expiredIdle() bool {
	if !c.expired() || len(c.sem) > 0 || c.r.Buffered() > 0 {
		return false
	}
	pending, err := c.peek.Look()
	return err != nil || !pending
}

// setWaiting says whether the reader waits for a message; release moves
// the deadline of the wait only.
func (c *conn) setWaiting(w bool) {
	c.mu.Lock()
	c.waiting = w
	c.mu.Unlock()
}

// expiryOf returns when nc, or a connection it wraps (*tls.Conn, and the
// wrappers of package netutil, with a NetConn method), reaches its maximum
// age (netutil.MaxAge), or zero if never.
func expiryOf(nc net.Conn) time.Time {
	for range 8 {
		if e, ok := nc.(interface{ ExpiresAt() time.Time }); ok {
			return e.ExpiresAt()
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		if nc = u.NetConn(); nc == nil {
			break
		}
	}
	return time.Time{}
}

// innermost returns the connection under nc's wrappers, for netpeek.
func innermost(nc net.Conn) net.Conn {
	for range 8 {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok || u.NetConn() == nil {
			break
		}
		nc = u.NetConn()
	}
	return nc
}

// busy reports whether other calls of c are running, whose replies may
// join the one being written.
func (c *conn) busy() bool { return len(c.sem) > 1 }

var noDeadline time.Time

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
