package json

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/polyrpc/polyrpc/codec/internal/nat"
	"github.com/polyrpc/polyrpc/rpc/wire"
)

// DecodeRequest decodes one JSON-RPC request or notification from msg. It
// validates the whole message in the same pass that splits it into members
// and splits "params" into its elements; the params themselves stay encoded
// until the server decodes them into the method's parameter types, and they
// refer to msg, as does req.ID.Raw, which is the id exactly as sent.
//
// A "meta" member, an object of strings, is the call's metadata,
// req.Entries (none for {} or null); the request's Dialect then has DialectMeta set
// (unless it was null), so that its response carries the reply's metadata.
//
// Errors are *wire.Error values: CodeParseError for malformed JSON (the reply
// then has id null), CodeLimitExceeded for nesting beyond the depth limit,
// and CodeInvalidRequest for JSON that is not a valid request (a "meta"
// that is not an object of strings, or beyond metadata's bounds, among
// them), in which case req.ID and req.Dialect are set when they could be
// read.
func (c *Codec) DecodeRequest(msg []byte, req *wire.Request) error {
	*req = wire.Request{}
	i := skipSpace(msg, 0)
	if i >= len(msg) {
		return c.scanError(errChar(msg, i, "looking for a request"))
	}
	if msg[i] != '{' {
		end, err := skipValue(msg, i, c.maxDepth)
		if err == nil {
			err = trailing(msg, end)
		}
		if err != nil {
			return c.scanError(err)
		}
		return invalidRequest("a request must be an object")
	}
	var env envelope
	if err := c.scanEnvelope(msg, i, &env); err != nil {
		if err == errTooDeep {
			// The message may be fine but for its depth: name the call in
			// the error, so a multiplexing client can match the reply.
			req.ID.Raw = salvageID(msg, i)
		}
		return c.scanError(err)
	}

	// Without a "jsonrpc" member, a request with a method is JSON-RPC 1.0;
	// one without either cannot tell and is answered in 2.0, the current
	// version, as the 2.0 specification's batch example expects.
	req.Dialect = Dialect2
	if env.jsonrpc.end == 0 && env.method.end != 0 {
		req.Dialect = Dialect1
	}
	if env.id.end == 0 {
		req.Notification = true
	} else {
		switch msg[env.id.off] {
		case 'n':
			// JSON-RPC 2.0 answers "id": null with id null; in 1.0 it marks a
			// notification.
			req.Notification = req.Dialect == Dialect1
		case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			req.ID.Raw = msg[env.id.off:env.id.end:env.id.end]
		default:
			return invalidRequest("id must be a string, a number or null")
		}
	}
	if env.jsonrpc.end != 0 && string(msg[env.jsonrpc.off:env.jsonrpc.end]) != `"2.0"` &&
		(msg[env.jsonrpc.off] != '"' || unquote(msg[env.jsonrpc.off:env.jsonrpc.end]) != "2.0") {
		return invalidRequest(`jsonrpc must be "2.0"`)
	}
	if env.method.end == 0 || msg[env.method.off] != '"' {
		return invalidRequest("method must be a string")
	}
	req.Method = unquote(msg[env.method.off:env.method.end])
	switch {
	case env.params.end == 0:
	case env.array != nil:
		req.Params = env.array
	case env.object != nil:
		req.Params = env.object
	case msg[env.params.off] == 'n' && req.Dialect == Dialect1:
		// Some JSON-RPC 1.0 peers send "params": null for no params.
	default:
		return invalidRequest("params must be an array or an object")
	}
	if env.meta.end != 0 {
		if err := decodeMeta(msg, env.meta, &req.Entries); err != nil {
			return invalidRequest(err.Error())
		}
		if msg[env.meta.off] != 'n' {
			req.Dialect |= DialectMeta
		}
	}
	return nil
}

func invalidRequest(msg string) *wire.Error {
	return &wire.Error{Code: wire.CodeInvalidRequest, Message: "invalid request: " + msg}
}

// envelope holds the members of a request or reply object. A zero span
// (end 0) is a missing member; a present value never ends at offset 0.
type envelope struct {
	jsonrpc, method, params, id span
	result, errObj              span
	meta                        span
	array                       *arrayParams  // params, when an array
	object                      *objectParams // params, when an object
}

// scanEnvelope validates the object at msg[i], and anything after it, and
// records its members. Unknown members are skipped; a repeated member counts
// with its last value, as in encoding/json.
func (c *Codec) scanEnvelope(msg []byte, i int, env *envelope) error {
	w, err := newWalker(msg, i, c.maxDepth)
	if err != nil {
		return err
	}
	for {
		more, err := w.next()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		var dst *span
		switch memberName(msg, w.key, w.keyEsc) {
		case "jsonrpc":
			dst = &env.jsonrpc
		case "method":
			dst = &env.method
		case "id":
			dst = &env.id
		case "result":
			dst = &env.result
		case "error":
			dst = &env.errObj
		case "meta":
			dst = &env.meta
		case "params":
			if w.i < len(msg) && (msg[w.i] == '[' || msg[w.i] == '{') {
				if env.params, err = c.splitParams(msg, &w, env); err != nil {
					return err
				}
				continue
			}
			env.array, env.object = nil, nil
			dst = &env.params
		}
		v, err := w.value()
		if err != nil {
			return err
		}
		if dst != nil {
			*dst = v
		}
	}
	return trailing(msg, w.i)
}

// memberName returns the key of an envelope member when it is one of the
// names the codec looks for, and "" otherwise. Plain keys are compared in
// place; only an escaped key is unescaped, into a buffer on the stack.
func memberName(msg []byte, key span, escaped bool) string {
	raw := msg[key.off+1 : key.end-1]
	if escaped {
		if len(raw) > 6*len("jsonrpc") {
			return ""
		}
		var buf [6 * len("jsonrpc")]byte
		raw = appendUnquoted(buf[:0], raw)
	}
	switch string(raw) {
	case "jsonrpc":
		return "jsonrpc"
	case "method":
		return "method"
	case "params":
		return "params"
	case "id":
		return "id"
	case "result":
		return "result"
	case "error":
		return "error"
	case "meta":
		return "meta"
	}
	return ""
}

// inlineParams is how many params are located during the envelope pass and
// kept in the params value itself; calls rarely have more. Beyond them,
// positional params are found again on demand, so that a hostile array of a
// million elements costs no memory for their positions.
const inlineParams = 4

// splitParams walks the params array or object at w.i, validating it and
// noting where its first elements are, and leaves w after it.
func (c *Codec) splitParams(msg []byte, w *walker, env *envelope) (span, error) {
	start := w.i
	pw, err := newWalker(msg, start, w.budget)
	if err != nil {
		return span{}, err
	}
	var (
		n   int
		arr *arrayParams
		obj *objectParams
	)
	if pw.obj {
		obj = &objectParams{msg: msg, budget: pw.budget}
	} else {
		arr = &arrayParams{msg: msg, budget: pw.budget}
	}
	for {
		more, err := pw.next()
		if err != nil {
			return span{}, err
		}
		if !more {
			break
		}
		v, err := pw.value()
		if err != nil {
			return span{}, err
		}
		if n < inlineParams {
			if obj != nil {
				obj.head[n] = member{key: pw.key, val: v, esc: pw.keyEsc}
			} else {
				arr.head[n] = v
			}
		}
		n++
	}
	whole := span{start, pw.i}
	if obj != nil {
		obj.n, obj.whole = n, whole
	} else {
		arr.n, arr.whole = n, whole
	}
	env.array, env.object = arr, obj
	w.i = pw.i
	return whole, nil
}

// arrayParams are positional params: the elements of the params array.
// Like the request it belongs to, it is used by one goroutine at a time.
type arrayParams struct {
	msg    []byte
	whole  span
	budget int // levels each element may open, for scanning again
	n      int
	head   [inlineParams]span
	// The element found last beyond head, so that the core's in-order
	// DecodeAt calls find each next element in one step.
	curIdx int
	cur    span
	// nat is what the params' natural values may still take, made when
	// the first param is decoded: the params share it.
	nat nat.Budget
}

func (p *arrayParams) Len() int { return p.n }

func (p *arrayParams) Names() []string { return nil }

func (p *arrayParams) DecodeNamed(name string, dst any) error {
	return errors.New("json: params are positional")
}

func (p *arrayParams) DecodeAt(i int, dst any) error {
	if i < 0 || i >= p.n {
		return errors.New("json: no param " + strconv.Itoa(i))
	}
	v, err := p.at(i)
	if err != nil {
		return err
	}
	p.nat.Init(len(p.msg), nat.Factor)
	return nat.ParamError(decodeValue(p.msg[v.off:v.end], dst, &p.nat))
}

// at locates element i.
func (p *arrayParams) at(i int) (span, error) {
	if i < inlineParams {
		return p.head[i], nil
	}
	if p.curIdx < inlineParams || i < p.curIdx {
		p.curIdx, p.cur = inlineParams-1, p.head[inlineParams-1]
	}
	for p.curIdx < i {
		// Each step crosses one comma; the walk during DecodeRequest has
		// already validated everything it crosses.
		j := skipSpace(p.msg, p.cur.end)
		if j >= p.whole.end || p.msg[j] != ',' {
			return span{}, errChar(p.msg, j, "after array element")
		}
		start := skipSpace(p.msg, j+1)
		end, err := skipValue(p.msg, start, p.budget)
		if err != nil {
			return span{}, err
		}
		p.curIdx, p.cur = p.curIdx+1, span{start, end}
	}
	return p.cur, nil
}

// member is one member of a params object.
type member struct {
	key, val span
	esc      bool // the key holds escapes
}

// objectParams are named params: the members of the params object. Like
// the request it belongs to, it is used by one goroutine at a time.
type objectParams struct {
	msg    []byte
	whole  span
	budget int
	n      int
	head   [inlineParams]member

	// Built on first use by Names: the distinct names in message order,
	// each with the value of its last occurrence, and an index when there
	// are many. The arrays hold them for the usual few params.
	names    []string
	vals     []span
	index    map[string]int
	namesBuf [inlineParams]string
	valsBuf  [inlineParams]span
	nat      nat.Budget // as in arrayParams
}

func (p *objectParams) Len() int { return -1 }

func (p *objectParams) DecodeAt(i int, dst any) error {
	return errors.New("json: params are named")
}

// Names lists the distinct param names in message order. The names share
// one allocation.
func (p *objectParams) Names() []string {
	if p.names != nil || p.n == 0 {
		return p.names
	}
	members := p.head[:min(p.n, inlineParams)]
	names, vals := p.namesBuf[:0], p.valsBuf[:0]
	var offsBuf [inlineParams + 1]int
	offs := offsBuf[:]
	if p.n > inlineParams {
		members = p.allMembers()
		names, vals = make([]string, 0, len(members)), make([]span, 0, len(members))
		offs = make([]int, len(members)+1)
	}
	size := 0
	for _, m := range members {
		size += m.key.end - m.key.off
	}
	var sb strings.Builder
	sb.Grow(size)
	for k, m := range members {
		raw := p.msg[m.key.off+1 : m.key.end-1]
		if m.esc || !utf8.Valid(raw) {
			sb.Write(appendUnquoted(nil, raw))
		} else {
			sb.Write(raw)
		}
		offs[k+1] = sb.Len()
	}
	all := sb.String()
	if len(members) > 16 {
		p.index = make(map[string]int, len(members))
	}
	for k, m := range members {
		name := all[offs[k]:offs[k+1]]
		if j := p.find(names, name); j >= 0 {
			vals[j] = m.val // the last occurrence wins, as in encoding/json
			continue
		}
		if p.index != nil {
			p.index[name] = len(names)
		}
		names = append(names, name)
		vals = append(vals, m.val)
	}
	p.names, p.vals = names, vals
	return names
}

// find returns the position of name among names, or -1.
func (p *objectParams) find(names []string, name string) int {
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

// allMembers walks the params object again to list every member.
func (p *objectParams) allMembers() []member {
	out := make([]member, 0, p.n)
	w, _ := newWalker(p.msg, p.whole.off, p.budget+1)
	for {
		more, err := w.next()
		if err != nil || !more {
			return out
		}
		v, err := w.value()
		if err != nil {
			return out
		}
		out = append(out, member{key: w.key, val: v, esc: w.keyEsc})
	}
}

func (p *objectParams) DecodeNamed(name string, dst any) error {
	j := p.find(p.Names(), name)
	if j < 0 {
		return errors.New("json: no param named " + strconv.Quote(name))
	}
	v := p.vals[j]
	p.nat.Init(len(p.msg), nat.Factor)
	return nat.ParamError(decodeValue(p.msg[v.off:v.end], dst, &p.nat))
}

// salvageID returns the top-level "id" of the object at msg[i] when it is a
// string or a number, scanning members with no depth limit. It serves only
// the error path of a message refused for its depth, and allocates nothing.
func salvageID(msg []byte, i int) []byte {
	i = skipSpace(msg, i+1)
	for i < len(msg) && msg[i] == '"' {
		key, escaped, next, err := scanKey(msg, i)
		if err != nil {
			return nil
		}
		if !escaped && string(msg[key.off:key.end]) == `"id"` {
			if next >= len(msg) {
				return nil
			}
			switch msg[next] {
			case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				end, err := skipValue(msg, next, 0)
				if err != nil {
					return nil
				}
				return msg[next:end:end]
			}
			return nil
		}
		i = skipSpace(msg, skipLoose(msg, next))
		if i >= len(msg) || msg[i] != ',' {
			return nil
		}
		i = skipSpace(msg, i+1)
	}
	return nil
}

// skipLoose returns the index after the value at msg[i], counting brackets
// without validating: enough to step over members that salvageID does not
// want, at any depth, in constant memory.
func skipLoose(msg []byte, i int) int {
	depth := 0
	for i < len(msg) {
		switch msg[i] {
		case '"':
			i++
			for i < len(msg) && msg[i] != '"' {
				if msg[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '[', '{':
			depth++
			i++
		case ']', '}':
			if depth == 0 {
				return i
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(msg) && (msg[i] == ',' || msg[i] == '}' || msg[i] == ']') {
			return i
		}
	}
	return i
}
