package proto

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// DecodeRequest decodes one Request from msg. It validates the whole
// message as strictly as protobuf-go's Unmarshal would, and bounds the
// nesting of its Values, in one pass that also notes where the params are;
// the params themselves stay encoded until the server decodes them into the
// method's parameter types. They refer to msg, as does req.ID.Raw, the
// encoding of the id's varint (nil when the request has no id field).
// Unknown fields are skipped, and of a field given twice the last counts, as
// protobuf has it. The entries of meta are the call's metadata, req.Entries;
// a request with any has DialectMeta set, and its response carries the
// reply's metadata.
//
// Errors are *wire.Error values: CodeParseError for bytes that are not a
// Request, CodeLimitExceeded for Values nested beyond the depth limit, and
// CodeInvalidRequest for a request without a method, with both positional
// and named params, or with metadata beyond metadata's bounds (more than
// metadata.MaxEntries entries, a key given twice counting twice) or that
// metadata.Validate refuses. req.ID is set when the id could be read.
func (c *Codec) DecodeRequest(msg []byte, req *wire.Request) error {
	*req = wire.Request{}
	v := validator{maxDepth: c.maxDepth}
	var (
		method []byte
		named  wireMsg
		pos    positional // copied to the heap only when there are params
		f      field
		// The meta entries: how many, and where the first is.
		nMeta, metaAt int
	)
	for b := msg; len(b) > 0; {
		n := readField(b, &f)
		if n < 0 {
			return parseError(wireError(n))
		}
		off := len(msg) - len(b)
		b = b[n:]
		var err error
		switch {
		case f.num == fRequestID && f.typ == protowire.VarintType:
			req.ID.Raw = f.raw
		case f.num == fRequestMethod && f.typ == protowire.BytesType:
			if !utf8.Valid(f.raw) {
				err = errInvalidUTF8
			}
			method = f.raw
		case f.num == fRequestParams && f.typ == protowire.BytesType:
			if err = v.value(f.raw, 1); err == nil {
				pos.add(f.raw, off+n)
			}
		case f.num == fRequestNamed && f.typ == protowire.BytesType:
			err = v.mapOf(f.raw, 0)
			if !named.present() { // later occurrences merge; named finds them
				named = occurrence(f.raw, b, fRequestNamed)
			}
		case f.num == fRequestNotification && f.typ == protowire.VarintType:
			req.Notification = f.u != 0
		case f.num == fRequestMeta && f.typ == protowire.BytesType:
			if err = strEntry(f.raw); nMeta == 0 {
				metaAt = off
			}
			nMeta++
		}
		if err != nil {
			return parseError(err)
		}
	}
	req.Method = string(method)
	switch {
	case len(method) == 0:
		return invalidRequest("a request needs a method")
	case named.present() && pos.n > 0:
		return invalidRequest("a request cannot have both params and named params")
	case named.present():
		req.Params = &namedParams{c: c, m: named, size: len(msg)}
	case pos.n > 0:
		p := new(positional)
		*p = pos
		p.c, p.msg = c, msg
		req.Params = p
	}
	if nMeta > 0 {
		if err := decodeMeta(msg, metaAt, nMeta, fRequestMeta, &req.Entries); err != nil {
			return invalidRequest(err.Error())
		}
		req.Dialect |= DialectMeta
	}
	return nil
}

// inlineParams is how many positional params DecodeRequest locates and
// keeps in the params value itself; calls rarely have more. Beyond them,
// params are found again on demand, so that a hostile request with a
// million params costs no memory for their positions.
const inlineParams = 4

// positional are the positional params of a request, the occurrences of its
// params field. Like the request, it is used by one goroutine at a time.
type positional struct {
	c    *Codec
	msg  []byte
	n    int
	head [inlineParams][]byte
	// after is the offset in msg after the last param in head. Beyond head,
	// the param found last is cur, at index curIdx, ending at curEnd, so that
	// the core's in-order DecodeAt calls find each next one in one step.
	after  int
	curIdx int
	curEnd int
	cur    []byte
	nat    nat.Budget // as in namedParams
}

// add records a param whose field ends at offset end in the message.
func (p *positional) add(b []byte, end int) {
	if p.n < inlineParams {
		p.head[p.n] = b
		p.after = end
	}
	p.n++
}

func (p *positional) Len() int { return p.n }

func (p *positional) Names() []string { return nil }

func (p *positional) DecodeNamed(name string, dst any) error {
	return errors.New("proto: params are positional")
}

func (p *positional) DecodeAt(i int, dst any) error {
	if i < 0 || i >= p.n {
		return errors.New("proto: no param " + strconv.Itoa(i))
	}
	k := kindOfPayload(p.at(i))
	p.nat.Init(len(p.msg), nat.Factor)
	return nat.ParamError(p.c.decodeValue(&k, dst, &p.nat))
}

// at returns the payload of param i.
func (p *positional) at(i int) []byte {
	if i < inlineParams {
		return p.head[i]
	}
	if p.curIdx < inlineParams || i < p.curIdx {
		p.curIdx, p.curEnd = inlineParams-1, p.after
	}
	var f field
	for p.curIdx < i {
		b := p.msg[p.curEnd:]
		n := readField(b, &f)
		if n < 0 { // validated messages do not get here
			return nil
		}
		p.curEnd += n
		if f.num == fRequestParams && f.typ == protowire.BytesType {
			p.curIdx, p.cur = p.curIdx+1, f.raw
		}
	}
	return p.cur
}

// namedParams are the named params of a request: the entries of its named
// Map, merged over the occurrences of the field. Like the request, it is
// used by one goroutine at a time.
type namedParams struct {
	c    *Codec
	m    wireMsg
	size int // the message's
	// nat is what the params' natural values may still take, made when
	// the first param is decoded: the params share it.
	nat nat.Budget
	// Built on first use by Names: the distinct names in message order, each
	// with the payload of its last entry, and an index of them when there
	// are many. The names are substrings of one string.
	names   []string
	entries [][]byte
	index   map[string]int
}

func (p *namedParams) Len() int { return -1 }

func (p *namedParams) DecodeAt(i int, dst any) error {
	return errors.New("proto: params are named")
}

// Names lists the distinct param names in message order.
func (p *namedParams) Names() []string {
	if p.names != nil {
		return p.names
	}
	// First pass: count the entries and join their keys in one string.
	n, size := 0, 0
	var f field
	for it := p.m.fields(); it.next(&f); {
		if f.num == fMapFields && f.typ == protowire.BytesType {
			n++
			size += len(entryKey(f.raw))
		}
	}
	var sb strings.Builder
	sb.Grow(size)
	for it := p.m.fields(); it.next(&f); {
		if f.num == fMapFields && f.typ == protowire.BytesType {
			sb.Write(entryKey(f.raw))
		}
	}
	all := sb.String()
	// Sized for every entry: slices that grow by append would allocate
	// several times their final size.
	p.names, p.entries = make([]string, 0, n), make([][]byte, 0, n)
	if n > 16 {
		p.index = make(map[string]int, min(n, maxMapHint))
	}
	off := 0
	for it := p.m.fields(); it.next(&f); {
		if f.num != fMapFields || f.typ != protowire.BytesType {
			continue
		}
		name := all[off : off+len(entryKey(f.raw))]
		off += len(name)
		if j := p.find(name); j >= 0 {
			p.entries[j] = f.raw // the last entry of a key is the map's
			continue
		}
		if p.index != nil {
			p.index[name] = len(p.names)
		}
		p.names = append(p.names, name)
		p.entries = append(p.entries, f.raw)
	}
	return p.names
}

// find returns the position of name among the names found so far, or -1.
func (p *namedParams) find(name string) int {
	if p.index != nil {
		if j, ok := p.index[name]; ok {
			return j
		}
		return -1
	}
	for j, n := range p.names {
		if n == name {
			return j
		}
	}
	return -1
}

func (p *namedParams) DecodeNamed(name string, dst any) error {
	p.Names()
	j := p.find(name)
	if j < 0 {
		return errors.New("proto: no param named " + strconv.Quote(name))
	}
	val := entryValue(p.entries[j])
	k := kindOf(&val)
	p.nat.Init(p.size, nat.Factor)
	return nat.ParamError(p.c.decodeValue(&k, dst, &p.nat))
}
