package msgpack

import (
	"errors"
	"strconv"
	"strings"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// DecodeRequest decodes one MessagePack-RPC request, [0, msgid, method,
// params], or notification, [2, method, params], from msg, each with an
// optional element of metadata after the params, a map of str to str (or
// nil for none), which becomes req.Entries; a request that carried a map,
// even an empty one, has DialectMeta set, and its response carries the
// reply's metadata. It validates the
// whole message first, in a pass that also locates the params; the params
// stay encoded until the server decodes them into the method's parameter
// types, and they refer to msg, as does req.ID.Raw, which is the msgid
// exactly as sent.
//
// params is an array (positional params) or, as an extension of the
// specification, a map with str keys (named params). The method name is a
// str, or a bin as some older clients send it.
//
// Errors are *wire.Error values: CodeParseError for malformed MessagePack
// (a truncated value, a length or count beyond the bytes that follow, the
// reserved byte 0xc1, bytes after the message), CodeLimitExceeded for
// nesting beyond the depth limit, and CodeInvalidRequest for a well-formed
// message of the wrong shape (metadata that is not a map of strings, or
// beyond metadata's bounds, among them). req.ID is set whenever the msgid could be
// read, even on a parse error after it, so that the error reply reaches the
// call it belongs to.
func (c *Codec) DecodeRequest(msg []byte, req *wire.Request) error {
	*req = wire.Request{}
	var env envelope
	if err := c.scanEnvelope(msg, &env, true); err != nil {
		if (env.n == 4 || env.n == 5) && env.scanned >= 2 {
			if typ, ok := intAt(msg, env.elems[0]); ok && typ == typeRequest {
				req.ID.Raw = env.elems[1].of(msg)
			}
		}
		return c.scanError(err)
	}
	if !env.array {
		return invalidRequest("a message must be an array, not " + kindAt(msg, 0).String())
	}
	if env.n == 0 {
		return invalidRequest("an empty array")
	}
	typ, ok := intAt(msg, env.elems[0])
	if ok && typ == typeRequest && env.n >= 2 {
		req.ID.Raw = env.elems[1].of(msg)
	}
	// The elements from the method on: method, params and, in a message of
	// one more element, the metadata.
	first := 2
	switch {
	case !ok:
		return invalidRequest("the message type must be an integer, not " + kindAt(msg, env.elems[0].off).String())
	case typ == typeRequest && (env.n == 4 || env.n == 5):
	case typ == typeNotification && (env.n == 3 || env.n == 4):
		req.Notification = true
		first = 1
	case typ == typeRequest:
		return invalidRequest("a request is [0, msgid, method, params] or [0, msgid, method, params, meta], not an array of " + strconv.Itoa(env.n))
	case typ == typeNotification:
		return invalidRequest("a notification is [2, method, params] or [2, method, params, meta], not an array of " + strconv.Itoa(env.n))
	case typ == typeResponse:
		return invalidRequest("a response sent to a server")
	default:
		return invalidRequest("unknown message type " + strconv.FormatInt(typ, 10))
	}
	var mh head
	_ = readHead(msg, env.elems[first].off, &mh)
	if mh.kind != kindStr && mh.kind != kindBin {
		return invalidRequest("the method must be a string, not " + mh.kind.String())
	}
	req.Method = string(msg[mh.off:mh.end()])
	switch {
	case env.params == nil:
		return invalidRequest("params must be an array or a map, not " + kindAt(msg, env.elems[first+1].off).String())
	case env.badKey:
		return invalidRequest("named params must have string keys")
	}
	req.Params = env.params
	if first+2 < env.n {
		meta := env.elems[first+2]
		if err := decodeMeta(msg, meta, &req.Entries); err != nil {
			return invalidRequest(err.Error())
		}
		if msg[meta.off] != fmtNil {
			req.Dialect |= DialectMeta
		}
	}
	return nil
}

// kindAt is the kind of the validated value at b[i].
func kindAt(b []byte, i int) kind {
	var h head
	_ = readHead(b, i, &h)
	return h.kind
}

// of returns the bytes of s in b, with no room to append over what follows.
func (s span) of(b []byte) []byte { return b[s.off:s.end:s.end] }

// envelope is what scanEnvelope found in a message.
type envelope struct {
	array   bool    // the message is an array
	n       int     // its element count
	elems   [5]span // its first elements
	scanned int     // how many elements, from the first, are valid
	// params holds the params when the message is a request or a
	// notification of a valid length whose params are an array or a map.
	params wire.Params
	badKey bool // the params map has a key that is not a str
}

// scanEnvelope validates the whole of msg and notes where its elements
// are. When wantParams is set, it also splits the params of a request or
// notification into their elements.
func (c *Codec) scanEnvelope(msg []byte, env *envelope, wantParams bool) error {
	var h head
	err := readHead(msg, 0, &h)
	if err != nil {
		return err
	}
	if h.kind != kindArray {
		end, err := skim(msg, 0, c.maxDepth)
		if err != nil {
			return err
		}
		return trailing(msg, end)
	}
	env.array, env.n = true, h.n
	paramsAt := -1
	if wantParams {
		paramsAt = paramsIndex(msg, &h)
	}
	i := h.off
	for k := range h.n {
		var end int
		if k == paramsAt && i < len(msg) && (isArray(msg[i]) || isMap(msg[i])) {
			end, err = c.scanParams(msg, i, env)
		} else {
			end, err = skim(msg, i, c.maxDepth-1)
		}
		if err != nil {
			return err
		}
		if k < len(env.elems) {
			env.elems[k] = span{i, end}
		}
		env.scanned = k + 1
		i = end
	}
	return trailing(msg, i)
}

// paramsIndex returns where the params of the message whose array header
// is h stand: 3 in a request [0, msgid, method, params] and 2 in a
// notification [2, method, params], each with or without metadata after
// the params; -1 in any other message.
func paramsIndex(msg []byte, h *head) int {
	var th head
	if h.n == 0 || readHead(msg, h.off, &th) != nil || th.kind != kindInt {
		return -1
	}
	switch {
	case th.i == typeRequest && (h.n == 4 || h.n == 5):
		return 3
	case th.i == typeNotification && (h.n == 3 || h.n == 4):
		return 2
	}
	return -1
}

// trailing refuses bytes after the message.
func trailing(msg []byte, end int) error {
	if end != len(msg) {
		return &syntaxError{strconv.Itoa(len(msg)-end) + " bytes after the message", end}
	}
	return nil
}

// inlineParams is how many params are located during the scan and kept in
// the params value itself; calls rarely have more. Beyond them, params are
// found again on demand, so that a hostile array of a million elements
// costs no memory for their positions.
const inlineParams = 8

// inlineNamed is inlineParams for named params, whose entries take more
// room.
const inlineNamed = 4

// scanParams validates the params array or map at msg[i], noting where its
// first elements are, and returns the offset after it.
func (c *Codec) scanParams(msg []byte, i int, env *envelope) (int, error) {
	var h head
	err := readHead(msg, i, &h)
	if err != nil {
		return i, err
	}
	if c.maxDepth < 2 {
		return i, errTooDeep
	}
	budget := c.maxDepth - 2 // levels each element may open
	j := h.off
	if h.kind == kindArray {
		p := &arrayParams{msg: msg, n: h.n}
		for k := range h.n {
			end, err := skim(msg, j, budget)
			if err != nil {
				return j, err
			}
			if k < inlineParams {
				p.head[k] = span{j, end}
			}
			j = end
		}
		env.params = p
		return j, nil
	}
	p := &mapParams{msg: msg, n: h.n, first: j}
	for k := range h.n {
		keyEnd, err := skim(msg, j, budget)
		if err != nil {
			return j, err
		}
		if kindAt(msg, j) != kindStr {
			env.badKey = true
		}
		valEnd, err := skim(msg, keyEnd, budget)
		if err != nil {
			return keyEnd, err
		}
		if k < inlineNamed {
			p.head[k] = entry{key: span{j, keyEnd}, val: span{keyEnd, valEnd}}
		}
		j = valEnd
	}
	env.params = p
	return j, nil
}

// arrayParams are positional params: the elements of the params array.
// Like the request it belongs to, it is used by one goroutine at a time.
type arrayParams struct {
	msg  []byte
	n    int
	head [inlineParams]span
	// nat is what the params' natural values may still take, made when
	// the first param is decoded: the params share it.
	nat nat.Budget
	// The element found last beyond head, so that the core's in-order
	// DecodeAt calls find each next element in one step.
	curIdx int
	cur    span
}

func (p *arrayParams) Len() int { return p.n }

func (p *arrayParams) Names() []string { return nil }

func (p *arrayParams) DecodeNamed(name string, dst any) error {
	return errors.New("msgpack: params are positional")
}

func (p *arrayParams) DecodeAt(i int, dst any) error {
	if i < 0 || i >= p.n {
		return errors.New("msgpack: no param " + strconv.Itoa(i))
	}
	p.nat.Init(len(p.msg), nat.MsgpackFactor)
	return nat.ParamError(decodeValue(p.at(i).of(p.msg), dst, &p.nat))
}

// at locates element i.
func (p *arrayParams) at(i int) span {
	if i < inlineParams {
		return p.head[i]
	}
	if p.curIdx < inlineParams || i < p.curIdx {
		p.curIdx, p.cur = inlineParams-1, p.head[inlineParams-1]
	}
	for p.curIdx < i {
		p.cur = span{p.cur.end, skip(p.msg, p.cur.end)}
		p.curIdx++
	}
	return p.cur
}

// entry is one entry of a params map.
type entry struct{ key, val span }

// mapParams are named params: the entries of the params map, whose keys
// are all str. Like the request it belongs to, it is used by one goroutine
// at a time.
type mapParams struct {
	msg   []byte
	n     int
	first int // offset of the first key
	head  [inlineNamed]entry
	nat   nat.Budget // as in arrayParams

	// Built on first use by Names: the distinct names in message order,
	// each with the value of its last occurrence, and an index when there
	// are many. The arrays hold them for the usual few params.
	names    []string
	vals     []span
	index    map[string]int
	namesBuf [inlineNamed]string
	valsBuf  [inlineNamed]span
}

func (p *mapParams) Len() int { return -1 }

func (p *mapParams) DecodeAt(i int, dst any) error {
	return errors.New("msgpack: params are named")
}

// Names lists the distinct param names in message order. The names share
// one allocation.
func (p *mapParams) Names() []string {
	if p.names != nil || p.n == 0 {
		return p.names
	}
	names, vals := p.namesBuf[:0], p.valsBuf[:0]
	if p.n > inlineNamed {
		names, vals = make([]string, 0, p.n), make([]span, 0, p.n)
	}
	size := 0
	p.walk(func(key head, _ span) { size += key.n })
	var sb strings.Builder
	sb.Grow(size)
	p.walk(func(key head, _ span) { sb.Write(p.msg[key.off:key.end()]) })
	all := sb.String()
	if p.n > 16 {
		p.index = make(map[string]int, p.n)
	}
	off := 0
	p.walk(func(key head, val span) {
		name := all[off : off+key.n]
		off += key.n
		if j := p.find(names, name); j >= 0 {
			vals[j] = val // the last occurrence wins
			return
		}
		if p.index != nil {
			p.index[name] = len(names)
		}
		names = append(names, name)
		vals = append(vals, val)
	})
	p.names, p.vals = names, vals
	return names
}

// walk calls f with every entry of the map: the header of its key, a str,
// and the span of its value. Entries beyond head are found again.
func (p *mapParams) walk(f func(key head, val span)) {
	if p.n <= inlineNamed {
		for _, e := range p.head[:p.n] {
			var h head
			_ = readHead(p.msg, e.key.off, &h)
			f(h, e.val)
		}
		return
	}
	j := p.first
	for range p.n {
		var h head
		_ = readHead(p.msg, j, &h)
		valEnd := skip(p.msg, h.end())
		f(h, span{h.end(), valEnd})
		j = valEnd
	}
}

// find returns the position of name among names, or -1.
func (p *mapParams) find(names []string, name string) int {
	if p.index != nil {
		if j, ok := p.index[name]; ok {
			return j
		}
		return -1
	}
	for j, n := range names {
		if n == name {
			return j
		}
	}
	return -1
}

func (p *mapParams) DecodeNamed(name string, dst any) error {
	j := p.find(p.Names(), name)
	if j < 0 {
		return errors.New("msgpack: no param named " + strconv.Quote(name))
	}
	p.nat.Init(len(p.msg), nat.MsgpackFactor)
	return nat.ParamError(decodeValue(p.vals[j].of(p.msg), dst, &p.nat))
}
