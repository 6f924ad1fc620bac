package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/polyrpc/polyrpc/rpc"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// msgpackAdd returns a msgpack-rpc request of the small call and its reply,
// as polyrpc's msgpack codec encodes them, or as the msgpack-rpc
// specification does while that codec is not built in. Only their sizes
// matter: they set the payloads of the bare TCP reference.
func msgpackAdd() (req, reply []byte) {
	if c, ok := rpc.LookupCodec("msgpack"); ok {
		req, err := c.AppendCall(nil, &wire.Call{Method: methodAdd, ID: wire.ID{Seq: 1}, Args: []any{addA, addB}})
		if err == nil {
			var r wire.Request
			if c.DecodeRequest(req, &r) == nil {
				reply, err := c.AppendResponse(nil, &wire.Response{ID: r.ID, Result: addA + addB})
				if err == nil {
					return req, reply
				}
			}
		}
	}
	// [0, 1, "bench.add", [123456789, 987654321]] and [1, 1, nil, 1111111110]
	req = []byte{0x94, 0x00, 0x01, 0xa9, 'b', 'e', 'n', 'c', 'h', '.', 'a', 'd', 'd',
		0x92, 0xce, 0x07, 0x5b, 0xcd, 0x15, 0xce, 0x3a, 0xde, 0x68, 0xb1}
	reply = []byte{0x94, 0x01, 0x01, 0xc0, 0xce, 0x42, 0x3a, 0x35, 0xc6}
	return req, reply
}

// frameOf prefixes payload with its 4-byte big-endian length.
func frameOf(payload []byte) []byte {
	f := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(f, payload...)
}

// readFrame reads one length-prefixed frame into buf, growing it as needed.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > 1<<20 {
		return buf, errors.New("bare tcp: frame too large")
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// bareTCP is the physical reference: no RPC at all. The client writes a
// 4-byte length and a payload the size of the msgpack-rpc small request in
// one write; the server answers each with a frame the size of the
// msgpack-rpc reply, in one write. One at a time the caller reads its reply
// itself; with many goroutines they share one connection, replies matched
// in order.
func bareTCP() system {
	return system{
		name:  refTCP,
		desc:  "4-byte length-prefixed ping-pong over one TCP connection; payloads the size of the msgpack-rpc small request and reply; no encoding, no dispatch",
		calls: []callKind{callAdd},
		start: func(ctx context.Context) (*instance, error) {
			req, reply := msgpackAdd()
			reqFrame, replyFrame := frameOf(req), frameOf(reply)
			ln, err := listen()
			if err != nil {
				return nil, err
			}
			go acceptLoop(ln, func(c net.Conn) {
				r := bufio.NewReader(c)
				var buf []byte
				for {
					var err error
					if buf, err = readFrame(r, buf); err != nil {
						return
					}
					if _, err := c.Write(replyFrame); err != nil {
						return
					}
				}
			})
			one, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				ln.Close()
				return nil, err
			}
			shared, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				ln.Close()
				one.Close()
				return nil, err
			}
			mux := newTCPMux(shared, reply)
			oneReader := bufio.NewReader(one)
			return &instance{
				newCaller: func(k callKind, concurrent bool) caller {
					if concurrent {
						done := make(chan struct{}, 1)
						return caller{
							call:   func() error { return mux.call(reqFrame, done) },
							result: mux.result,
						}
					}
					var got []byte
					return caller{
						call: func() (err error) {
							if _, err = one.Write(reqFrame); err != nil {
								return err
							}
							got, err = readFrame(oneReader, got)
							return err
						},
						result: func() any { return replyResult(got, reply) },
					}
				},
				close: closers(func() { ln.Close() }, func() { one.Close() }, func() { shared.Close() }),
			}, nil
		},
	}
}

// replyResult is the small call's sum when got is the expected reply, and
// got itself otherwise, so that check fails.
func replyResult(got, want []byte) any {
	if bytes.Equal(got, want) {
		return addA + addB
	}
	return fmt.Sprintf("reply %x", got)
}

// tcpMux shares one bare connection among goroutines: a writer queues its
// wake-up channel and writes under one lock, so that the queue is in the
// order of the requests on the wire, and one reader wakes them in turn.
type tcpMux struct {
	conn    net.Conn
	mu      sync.Mutex
	waiting chan chan struct{}

	errMu sync.Mutex
	err   error // the first broken connection or wrong reply
}

func newTCPMux(c net.Conn, want []byte) *tcpMux {
	m := &tcpMux{conn: c, waiting: make(chan chan struct{}, 1024)}
	go m.read(want)
	return m
}

func (m *tcpMux) read(want []byte) {
	r := bufio.NewReader(m.conn)
	var buf []byte
	for {
		var err error
		buf, err = readFrame(r, buf)
		if err == nil && !bytes.Equal(buf, want) {
			err = fmt.Errorf("bare tcp: reply %x", buf)
		}
		if err != nil {
			m.fail(err)
		}
		w := <-m.waiting
		w <- struct{}{}
		if err != nil {
			for {
				(<-m.waiting) <- struct{}{}
			}
		}
	}
}

func (m *tcpMux) fail(err error) {
	m.errMu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.errMu.Unlock()
}

func (m *tcpMux) failed() error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.err
}

func (m *tcpMux) call(frame []byte, done chan struct{}) error {
	m.mu.Lock()
	m.waiting <- done
	_, err := m.conn.Write(frame)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	<-done
	return m.failed()
}

func (m *tcpMux) result() any {
	if err := m.failed(); err != nil {
		return err.Error()
	}
	return addA + addB
}
